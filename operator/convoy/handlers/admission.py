"""Admission: the same validation as at reconcile time, plus the rules about decisions that only the API
server's request can enforce — who is asking (approvers), and that the decision log is append-only.

The mutating handler stamps each new decision with the requesting user, their groups and the time, so the
audit log records who approved, not who claims to have.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.pipeline import PipelineSpec
from convoy.api.validation import FieldError, validate
from convoy.api.workflow import WorkflowSpec
from convoy.planner.decisions import may_approve
from convoy.planner.timeutil import stamp


def problems(
    kind: str, body: Mapping[str, Any], old: Mapping[str, Any] | None, user: Mapping[str, Any]
) -> list[FieldError]:
    """Every reason to refuse this write of a Convoy object. Pure."""
    errors = validate(kind, body)
    if errors or old is None or kind not in ("WorkflowRun", "PipelineRun"):
        return errors
    return list(_decision_problems(kind, body, old, user))


def _decision_problems(
    kind: str, body: Mapping[str, Any], old: Mapping[str, Any], user: Mapping[str, Any]
) -> list[FieldError]:
    new_spec, old_spec = dict(body.get("spec") or {}), dict(old.get("spec") or {})
    new_decisions, old_decisions = new_spec.pop("decisions", []), old_spec.pop("decisions", [])
    out: list[FieldError] = []
    started = bool((old.get("status") or {}).get("startedAt"))
    if started and new_spec != old_spec:
        out.append(FieldError("spec", "only spec.decisions may change once the run started: create a new run instead"))
    if new_decisions[: len(old_decisions)] != old_decisions:
        out.append(FieldError("spec.decisions", "decisions are append-only: add new ones at the end"))
        return out
    status = old.get("status") or {}
    for index in range(len(old_decisions), len(new_decisions)):
        decision = Decision.model_validate(new_decisions[index])
        if decision.action not in (DecisionAction.APPROVE, DecisionAction.REJECT):
            continue
        stamped = decision.model_copy(update={"by": user.get("username"), "groups": list(user.get("groups") or [])})
        problem = _approval_problem(status, stamped) if kind == "WorkflowRun" else _stage_problem(status, stamped)
        if problem:
            out.append(FieldError(f"spec.decisions[{index}]", problem))
    return out


def _approval_problem(status: Mapping[str, Any], decision: Decision) -> str | None:
    step_name = decision.step or status.get("currentStep")
    if not status.get("workflowSpec") or not step_name:
        return None
    workflow = WorkflowSpec.model_validate(status["workflowSpec"])
    for phase in workflow.phases:
        for step in phase.steps:
            if step.name == step_name and step.approval is not None and not may_approve(step.approval, decision):
                return (
                    f"{decision.by} may not {decision.action.value.lower()} step {step_name}: "
                    f"the approvers are {', '.join(step.approval.approvers)}"
                )
    return None


def _stage_problem(status: Mapping[str, Any], decision: Decision) -> str | None:
    """A PipelineRun's approval stage: the stage named, else the one stage waiting for approval."""
    waiting = [r.get("name") for r in status.get("stages") or [] if r.get("state") == "WaitingForApproval"]
    stage_name = decision.stage or (waiting[0] if len(waiting) == 1 else None)
    if not status.get("pipelineSpec") or not stage_name:
        return None
    pipeline = PipelineSpec.model_validate(status["pipelineSpec"])
    for stage in pipeline.stages:
        if stage.name == stage_name and stage.approval is not None and not may_approve(stage.approval, decision):
            return (
                f"{decision.by} may not {decision.action.value.lower()} stage {stage_name}: "
                f"the approvers are {', '.join(stage.approval.approvers)}"
            )
    return None


def stamped_decisions(
    body: Mapping[str, Any], old: Mapping[str, Any] | None, user: Mapping[str, Any], now: datetime | None = None
) -> list[dict[str, Any]] | None:
    """The decision list with every new decision stamped with the requester; None when nothing is new. Pure."""
    new = list((body.get("spec") or {}).get("decisions") or [])
    seen = len((old.get("spec") or {}).get("decisions") or []) if old else 0
    if len(new) <= seen:
        return None
    moment = stamp(now or datetime.now(UTC))
    for index in range(seen, len(new)):
        new[index] = {
            **new[index],
            "by": user.get("username"),
            "groups": list(user.get("groups") or []),
            "at": moment,
        }
    return new
