"""Applying people's decisions (spec.decisions) that the run has not seen yet, in the order they were made."""

from __future__ import annotations

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.steps import ApprovalStep, ErrorKind, FailureAction
from convoy.api.workflowrun import Awaiting, StepState
from convoy.planner import failures
from convoy.planner.cycle import Cycle, Position, clip
from convoy.planner.steps import fail, succeed


def may_approve(approval: ApprovalStep, decision: Decision) -> bool:
    """Whether the decider is one of the approvers (users by name, groups as 'group:NAME'); anyone when none."""
    if not approval.approvers:
        return True
    users = {a for a in approval.approvers if not a.startswith("group:")}
    groups = {a.removeprefix("group:") for a in approval.approvers if a.startswith("group:")}
    return decision.by in users or bool(groups.intersection(decision.groups))


def apply_new(c: Cycle) -> None:
    decisions = c.spec.decisions
    for index in range(c.status.decisions_seen, len(decisions)):
        if c.status.result is None:
            _apply(c, index, decisions[index])
    c.status.decisions_seen = len(decisions)


def _apply(c: Cycle, index: int, decision: Decision) -> None:
    who = decision.by or "someone"
    key = f"decision/{index}"
    action = decision.action
    if action is DecisionAction.ABORT or (action is DecisionAction.ROLLBACK and c.status.started_at is None):
        # a run that has not started (queued) has nothing to roll back: it just stops
        failures.abort(c, f"aborted by {who}" + (f": {decision.reason}" if decision.reason else ""))
        return
    pos = c.current()
    if action is DecisionAction.ROLLBACK:
        if pos is not None and pos.record.awaiting is Awaiting.INTERVENTION:
            _intervene(c, pos, decision, key)
        else:
            failures.begin_rollback(c, f"rollback requested by {who}")
        return
    if pos is None or (decision.step and decision.step != pos.step.name):
        c.event(
            key,
            "DecisionIgnored",
            f"{action.value} by {who}: step '{decision.step or '-'}' is not waiting",
            warning=True,
        )
        return
    record = pos.record
    if action in (DecisionAction.APPROVE, DecisionAction.REJECT):
        _approve(c, pos, decision, key)
    elif action in _RESUMES and pos.step.pause and record.state is StepState.WAITING:  # not a pause not begun yet
        record.decided_by = decision.by
        succeed(c, record, f"resumed by {who}")
        c.event(key, "Resumed", f"{pos.step.name} resumed by {who}")
    elif record.awaiting is Awaiting.INTERVENTION and action in _INTERVENTIONS:
        _intervene(c, pos, decision, key)
    else:
        c.event(key, "DecisionIgnored", f"{action.value} by {who} does not apply to step {pos.step.name}", warning=True)


_RESUMES = (DecisionAction.RESUME, DecisionAction.PROMOTE, DecisionAction.PROMOTE_FULL)
_INTERVENTIONS = {
    DecisionAction.RETRY: FailureAction.RETRY,
    DecisionAction.IGNORE: FailureAction.IGNORE,
    DecisionAction.ROLLBACK: FailureAction.ROLLBACK,
}


def _intervene(c: Cycle, pos: Position, decision: Decision, key: str) -> None:
    """A person's answer to a step waiting for intervention: recorded on the step, whichever it is."""
    record, action = pos.record, decision.action
    record.decided_by = decision.by
    c.event(
        key, "InterventionDecided", f"{action.value} of {pos.phase.name}/{pos.step.name} by {decision.by or 'someone'}"
    )
    if action is DecisionAction.RETRY:
        record.awaiting, record.next_at, record.deadline = Awaiting.RETRY, c.stamp, None
    else:
        failures.apply_action(c, pos, _INTERVENTIONS[action])


def _approve(c: Cycle, pos: Position, decision: Decision, key: str) -> None:
    approval, record, who = pos.step.approval, pos.record, decision.by or "someone"
    if approval is None or record.awaiting is not Awaiting.APPROVAL:
        c.event(
            key,
            "DecisionIgnored",
            f"{decision.action.value} by {who}: {pos.step.name} is not an approval waiting for a decision",
            warning=True,
        )
        return
    if not may_approve(approval, decision):
        c.event(
            key,
            "ApprovalRefused",
            f"{who} is not an approver of {pos.step.name} (approvers: {', '.join(approval.approvers)})",
            warning=True,
        )
        return
    record.decided_by = decision.by
    reason = f": {decision.reason}" if decision.reason else ""
    if decision.action is DecisionAction.APPROVE:
        succeed(c, record, clip(f"approved by {who}{reason}"))
        c.event(key, "Approved", f"{pos.step.name} approved by {who}{reason}")
    else:
        fail(record, ErrorKind.APPROVAL_REJECTED, f"rejected by {who}{reason}")
        c.event(key, "Rejected", f"{pos.step.name} rejected by {who}{reason}", warning=True)
