"""Decisions: what people tell a running run or pipeline (approve, reject, resume, promote, abort, ...).

Decisions are appended to `spec.decisions` by `kubectl convoy` and never removed, so the run keeps an audit log of
who decided what and when. The admission webhook stamps `by` with the requesting user (a value written by the
user is overwritten) and refuses approvals from users who are not among a step's approvers.
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
    at: str | None = Field(default=None, description="When, RFC 3339.")
    reason: str | None = Field(default=None, max_length=1024)
