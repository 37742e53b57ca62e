"""Admission: the same validation as at reconcile time, plus the rules only the API server's request can enforce —
who is asking, what they may do, and that a run's record of decisions and of its creator cannot be forged.

Mutating (`stamp`): on CREATE a run is stamped with its creator (`convoy.dev/created-by`, and a seal of it in
`convoy.dev/created-by-seal`) and with the moment it was admitted (`convoy.dev/admitted-at`, nanoseconds, and
`convoy.dev/admitted-at-seal`: creationTimestamp has one-second resolution, and the Queue policy needs the order
of runs created in the same second); on UPDATE each new decision is stamped with the requesting user, their groups and
the time, and sealed. Validating (`problems`, then `access_problems`): a run cannot be created with decisions;
decisions are append-only and keep exactly the stamp and seal the mutating webhook wrote; the creator annotations
never change, nor do the admission annotations; approvals follow the approval's rules (approvers, self-approval, distinct approvers); a Rollback
decision needs the right to create a Rollback, and an inline workflow the right to create a Workflow.

The seals are what the reconcile trusts (`provenance`): the webhooks are registered fail-closed and outlive the
operator, but a decision written while they were bypassed carries no valid seal, and the planner ignores it.

What is sealed (adapters/seals.py; each part length-prefixed):
- a decision: kind, run uid, index, action, step, stage, by, at, and the groups joined by newlines (an approval
  by group must not be re-pointed at other groups);
- the creator: "created-by", kind, namespace, generateName (or, when the run has none, name), user. The uid is not
  known yet when the mutating webhook runs on CREATE (nor, with generateName, the name); generateName stays on
  the object, so the seal can be checked later;
- the admission time: "admitted-at", kind, namespace, generateName (or name), the time as written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from convoy.adapters import access, seals
from convoy.api.common import GROUP
from convoy.api.decisions import Decision, DecisionAction
from convoy.api.pipeline import PipelineSpec
from convoy.api.validation import FieldError, validate
from convoy.api.workflow import WorkflowSpec
from convoy.planner.decisions import refusal
from convoy.planner.observed import Provenance
from convoy.planner.timeutil import stamp

Body = Mapping[str, Any]
RUNS = ("WorkflowRun", "PipelineRun")
STAMPED = (*RUNS, "Rollback")
"""Kinds whose creator is stamped: runs (self-approval) and Rollbacks (who asked, for the run and the history)."""
CREATED_BY = "convoy.dev/created-by"
CREATED_BY_SEAL = "convoy.dev/created-by-seal"
NO_DECISIONS_ON_CREATE = "a run cannot be created with decisions; decide once it exists (kubectl convoy approve ...)"
STAMPED_BY_WEBHOOK = (
    "by, groups, at and seal are written by Convoy's admission webhook for the requesting user and cannot be set "
    "or changed"
)
ON_BEHALF_OF_CONVOY_ONLY = (
    "only Convoy sets requestedBy, for the user who created the Rollback it decides for: leave it out"
)
CREATOR_IS_FIXED = f"{CREATED_BY} and {CREATED_BY_SEAL} record who created the run and cannot be changed"
ADMITTED_AT = "convoy.dev/admitted-at"
ADMITTED_AT_SEAL = "convoy.dev/admitted-at-seal"
ADMISSION_IS_FIXED = (
    f"{ADMITTED_AT} and {ADMITTED_AT_SEAL} record when Convoy admitted the run (its place in a queue) and cannot be "
    "set or changed"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Seals


def decision_seal(kind: str, uid: str, index: int, decision: Body) -> str:
    return seals.seal(*_decision_parts(kind, uid, index, decision))


def _decision_parts(kind: str, uid: str, index: int, d: Body) -> tuple[str, ...]:
    return (
        kind,
        uid,
        str(index),
        str(d.get("action") or ""),
        str(d.get("step") or ""),
        str(d.get("stage") or ""),
        str(d.get("by") or ""),
        str(d.get("at") or ""),
        "\n".join(str(g) for g in d.get("groups") or []),
        str(d.get("requestedBy") or ""),
    )


def _creator_parts(kind: str, meta: Body, user: str) -> tuple[str, ...]:
    named = str(meta.get("generateName") or meta.get("name") or "")
    return ("created-by", kind, str(meta.get("namespace") or ""), named, user)


def creator(kind: str, body: Body) -> str | None:
    """Who created the run, if the annotation carries a valid seal."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    user = annotations.get(CREATED_BY)
    if not user or not seals.valid(annotations.get(CREATED_BY_SEAL), *_creator_parts(kind, body["metadata"], user)):
        return None
    return str(user)


def admitted(kind: str, body: Body) -> int | None:
    """When admission let the run in, in nanoseconds since the epoch, if the annotation carries a valid seal."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    at = annotations.get(ADMITTED_AT)
    parts = _admission_parts(kind, body.get("metadata") or {}, str(at))
    if not isinstance(at, str) or not seals.valid(annotations.get(ADMITTED_AT_SEAL), *parts):
        return None
    return _nanoseconds(at)


def _admission_parts(kind: str, meta: Body, at: str) -> tuple[str, ...]:
    named = str(meta.get("generateName") or meta.get("name") or "")
    return ("admitted-at", kind, str(meta.get("namespace") or ""), named, at)


def _admission_time(ns: int) -> str:
    """RFC 3339 with nanoseconds, e.g. '2025-03-01T12:00:00.000000042Z'."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


def _nanoseconds(at: str) -> int | None:
    whole, _, fraction = at.removesuffix("Z").partition(".")
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    if len(fraction) != 9 or not fraction.isdigit():
        return None
    return (moment - _EPOCH) // timedelta(seconds=1) * 1_000_000_000 + int(fraction)


def provenance(kind: str, body: Body) -> Provenance:
    """What admission vouches for in a run: its sealed decisions (by index) and its creator. For the reconcile."""
    uid = str((body.get("metadata") or {}).get("uid") or "")
    decisions = list((body.get("spec") or {}).get("decisions") or [])
    sealed = frozenset(i for i, d in enumerate(decisions) if isinstance(d, Mapping) and _sealed(kind, uid, i, d))
    return Provenance(sealed=sealed, creator=creator(kind, body))


def _sealed(kind: str, uid: str, index: int, decision: Body) -> bool:
    return bool(decision.get("by")) and seals.valid(decision.get("seal"), *_decision_parts(kind, uid, index, decision))


# Mutating


def stamp_patch(
    kind: str, body: Body, old: Body | None, user: Mapping[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """The merge patch the mutating webhook returns: the creator and the admission time on CREATE, the stamp and
    seal of each new decision on UPDATE. (Decisions on CREATE are refused by validation: the run has no uid to seal
    them with.)"""
    username = str(user.get("username") or "")
    meta = body.get("metadata") or {}
    if old is None:
        seal = seals.seal(*_creator_parts(kind, meta, username))
        annotations = {CREATED_BY: username, CREATED_BY_SEAL: seal}
        if kind in RUNS:  # a run's place in a queue
            ns = time.time_ns() if now is None else (now - _EPOCH) // timedelta(microseconds=1) * 1000
            at = _admission_time(ns)
            annotations |= {ADMITTED_AT: at, ADMITTED_AT_SEAL: seals.seal(*_admission_parts(kind, meta, at))}
        return {"metadata": {"annotations": annotations}}
    new = list((body.get("spec") or {}).get("decisions") or [])
    seen = len((old.get("spec") or {}).get("decisions") or [])
    if len(new) <= seen:
        return {}
    moment = stamp(now or datetime.now(UTC))
    uid = str(meta.get("uid") or "")
    for index in range(seen, len(new)):
        if not isinstance(new[index], Mapping):
            continue  # validation refuses it
        stamped = {**new[index], "by": username, "groups": list(user.get("groups") or []), "at": moment}
        new[index] = {**stamped, "seal": decision_seal(kind, uid, index, stamped)}
    return {"spec": {"decisions": new}}


# Validating


def problems(kind: str, body: Body, old: Body | None, user: Mapping[str, Any]) -> list[FieldError]:
    """Every reason to refuse this write of a Convoy object that needs no API call. Pure (but for the seal key)."""
    errors = validate(kind, body)
    if errors or kind not in STAMPED:
        return errors
    if old is None:
        return list(_creation_problems(kind, body, user))
    if kind not in RUNS:
        return _creator_changes(body, old)
    return [*_creator_changes(body, old), *_decision_problems(kind, body, old, user)]


def _creation_problems(kind: str, body: Body, user: Mapping[str, Any]) -> list[FieldError]:
    out: list[FieldError] = []
    if (body.get("spec") or {}).get("decisions"):
        out.append(FieldError("spec.decisions", NO_DECISIONS_ON_CREATE))
    if creator(kind, body) != user.get("username"):
        out.append(FieldError("metadata.annotations", CREATOR_IS_FIXED))
    if kind in RUNS and admitted(kind, body) is None:
        out.append(FieldError("metadata.annotations", ADMISSION_IS_FIXED))
    return out


def _creator_changes(body: Body, old: Body) -> list[FieldError]:
    """The creator and admission annotations never change once the mutating webhook wrote them."""

    def pair(obj: Body) -> tuple[Any, Any]:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return annotations.get(CREATED_BY), annotations.get(CREATED_BY_SEAL)

    def admission(obj: Body) -> tuple[Any, Any]:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return annotations.get(ADMITTED_AT), annotations.get(ADMITTED_AT_SEAL)

    out = [FieldError("metadata.annotations", CREATOR_IS_FIXED)] if pair(body) != pair(old) else []
    if admission(body) != admission(old):
        out.append(FieldError("metadata.annotations", ADMISSION_IS_FIXED))
    return out


def _decision_problems(kind: str, body: Body, old: Body, user: Mapping[str, Any]) -> list[FieldError]:
    new_spec, old_spec = dict(body.get("spec") or {}), dict(old.get("spec") or {})
    new_decisions, old_decisions = new_spec.pop("decisions", []) or [], old_spec.pop("decisions", []) or []
    out: list[FieldError] = []
    started = bool((old.get("status") or {}).get("startedAt"))
    if started and new_spec != old_spec:
        out.append(FieldError("spec", "only spec.decisions may change once the run started: create a new run instead"))
    if new_decisions[: len(old_decisions)] != old_decisions:
        out.append(FieldError("spec.decisions", "decisions are append-only: add new ones at the end"))
        return out
    status, uid = old.get("status") or {}, str(body["metadata"].get("uid") or "")
    made_by = creator(kind, old)
    for index in range(len(old_decisions), len(new_decisions)):
        raw, path = new_decisions[index], f"spec.decisions[{index}]"
        if (
            raw.get("by") != user.get("username")
            or list(raw.get("groups") or []) != list(user.get("groups") or [])
            or not _sealed(kind, uid, index, raw)
        ):
            out.append(FieldError(path, STAMPED_BY_WEBHOOK))
            continue
        decision = Decision.model_validate(raw)
        if decision.action not in (DecisionAction.APPROVE, DecisionAction.REJECT, DecisionAction.IGNORE):
            continue
        problem = (
            _step_problem(status, decision, made_by)
            if kind == "WorkflowRun"
            else _stage_problem(status, decision, made_by)
        )
        if problem:
            out.append(FieldError(path, problem))
    return out


def _step_problem(status: Body, decision: Decision, made_by: str | None) -> str | None:
    """A WorkflowRun's approval step: the step named, else the current one."""
    step_name = decision.step or status.get("currentStep")
    if not status.get("workflowSpec") or not step_name:
        return None
    try:
        workflow = WorkflowSpec.model_validate(status["workflowSpec"])
    except ValidationError:
        return None  # a status the operator did not write: the reconcile reports it
    records = {r.get("name"): r for p in status.get("phases") or [] for r in p.get("steps") or []}
    for phase in workflow.phases:
        for step in phase.steps:
            if step.name == step_name and step.approval is not None:
                approved = (records.get(step_name) or {}).get("approvedBy") or []
                return refusal(step.approval, decision, f"step {step_name}", creator=made_by, approved=approved)
    return None


def _stage_problem(status: Body, decision: Decision, made_by: str | None) -> str | None:
    """A PipelineRun's approval stage: the stage named, else the one stage waiting for approval."""
    if decision.action is DecisionAction.IGNORE:
        return None
    waiting = [r.get("name") for r in status.get("stages") or [] if r.get("state") == "WaitingForApproval"]
    stage_name = decision.stage or (waiting[0] if len(waiting) == 1 else None)
    if not status.get("pipelineSpec") or not stage_name:
        return None
    try:
        pipeline = PipelineSpec.model_validate(status["pipelineSpec"])
    except ValidationError:
        return None
    records = {r.get("name"): r for r in status.get("stages") or []}
    for stage in pipeline.stages:
        if stage.name == stage_name and stage.approval is not None:
            approved = (records.get(stage_name) or {}).get("approvedBy") or []
            return refusal(stage.approval, decision, f"stage {stage_name}", creator=made_by, approved=approved)
    return None


async def access_problems(kind: str, body: Body, old: Body | None, user: Mapping[str, Any]) -> list[FieldError]:
    """The rights a write of a run implies beyond the write itself, asked of the API server (SubjectAccessReview):
    each new Rollback decision needs `create rollbacks`, and an inline workflow (on CREATE, or when an UPDATE
    changes it) `create workflows`, in the run's namespace."""
    if kind not in RUNS:
        return []
    namespace, who = str(body["metadata"].get("namespace") or ""), user.get("username")
    spec, old_spec = body.get("spec") or {}, (old or {}).get("spec") or {}
    out: list[FieldError] = []
    decisions, seen = list(spec.get("decisions") or []), len(old_spec.get("decisions") or [])
    rollbacks = [i for i in range(seen, len(decisions)) if decisions[i].get("action") == DecisionAction.ROLLBACK]
    on_behalf = [i for i in range(seen, len(decisions)) if decisions[i].get("requestedBy")]
    if on_behalf and who != await access.operator_username():
        out.extend(FieldError(f"spec.decisions[{i}].requestedBy", ON_BEHALF_OF_CONVOY_ONLY) for i in on_behalf)
    if (
        rollbacks
        and not await access.may(user, verb="create", group=GROUP, resource="rollbacks", namespace=namespace)
        # the operator appends one on behalf of a Rollback object, whose creation was the authorization
        and who != await access.operator_username()
    ):
        out.extend(
            FieldError(
                f"spec.decisions[{i}]",
                f"{who} may not roll back this run: a Rollback decision needs the right to create rollbacks "
                f"(convoy.dev) in namespace {namespace}",
            )
            for i in rollbacks
        )
    inline = spec.get("workflow")
    if (
        kind == "WorkflowRun"
        and inline is not None
        and inline != old_spec.get("workflow")
        and not await access.may(user, verb="create", group=GROUP, resource="workflows", namespace=namespace)
    ):
        out.append(
            FieldError(
                "spec.workflow",
                f"{who} may not run an inline workflow: that needs the right to create workflows (convoy.dev) "
                f"in namespace {namespace}; run an existing Workflow with workflowRef instead",
            )
        )
    return out
