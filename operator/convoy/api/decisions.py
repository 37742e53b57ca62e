"""Decisions: what people tell a running run or pipeline (approve, reject, resume, promote, abort, ...).

Decisions are appended to `spec.decisions` by `kubectl convoy` and never removed, so the run keeps an audit log of
who decided what and when. A run cannot be created with decisions. The admission webhook stamps each new
decision with the requesting user, their groups and the time (values written by the user are overwritten) and
seals it: an HMAC, under a key only the operator holds, over the run's uid, the decision's index and what it says.
The operator acts only on sealed decisions, so a decision written while the webhook was bypassed has no effect.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from convoy.api.common import ConvoyModel


class DecisionAction(StrEnum):
    APPROVE = "Approve"
    REJECT = "Reject"
    RESUME = "Resume"
    PROMOTE = "Promote"
    PROMOTE_FULL = "PromoteFull"
    ABORT = "Abort"
    ROLLBACK = "Rollback"
    RETRY = "Retry"
    IGNORE = "Ignore"


class Decision(ConvoyModel):
    """One decision. `step` (or `stage` for a PipelineRun) says what it is about; empty means the current one."""

    action: DecisionAction
    step: str | None = Field(default=None, max_length=63)
    stage: str | None = Field(default=None, max_length=63)
    by: str | None = Field(default=None, max_length=256, description="Who decided; set by the admission webhook.")
    groups: list[str] = Field(default_factory=list, max_length=64, description="The decider's groups, as seen.")
    at: str | None = Field(default=None, description="When, RFC 3339; set by the admission webhook.")
    reason: str | None = Field(default=None, max_length=1024)
    requested_by: str | None = Field(
        default=None,
        max_length=256,
        description="Whom Convoy decided for: the user who created the Rollback that asked; only Convoy sets it.",
    )
    seal: str | None = Field(
        default=None,
        max_length=64,
        description="Set by the admission webhook: proves that it stamped by, groups and at. The operator ignores "
        "a decision without a valid seal.",
    )
