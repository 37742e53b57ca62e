"""Applying people's decisions (spec.decisions) that the run has not seen yet, in the order they were made.

A finished run takes no decisions, with one exception: a Rollback decision on a run that succeeded reopens it into a
post-deployment rollback (what a `Rollback` object asks for). The run then undoes every phase in reverse order, as if
its deployment had failed, and ends RolledBack, marked in `status.postDeploymentRollback`.
"""

from __future__ import annotations

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.steps import ApprovalStep, ErrorKind, FailureAction
from convoy.api.workflow import WorkflowType
from convoy.api.workflowrun import (
    Awaiting,
    PostDeploymentRollback,
    RunResult,
    StepState,
    WorkflowRunSpec,
    WorkflowRunStatus,
)
from convoy.planner import failures
from convoy.planner.cycle import Cycle, Position, clip, finished
from convoy.planner.steps import fail, succeed


def may_approve(approval: ApprovalStep, decision: Decision) -> bool:
    """Whether the decider is one of the approvers (users by name, groups as 'group:NAME'); anyone when none."""
    if not approval.approvers:
        return True
    users = {a for a in approval.approvers if not a.startswith("group:")}
    groups = {a.removeprefix("group:") for a in approval.approvers if a.startswith("group:")}
    return decision.by in users or bool(groups.intersection(decision.groups))


def reopens(spec: WorkflowRunSpec, status: WorkflowRunStatus) -> bool:
    """Whether the run succeeded and a Rollback decision it has not seen yet asks to undo it."""
    unseen = spec.decisions[status.decisions_seen :]
    return status.result is RunResult.SUCCEEDED and any(d.action is DecisionAction.ROLLBACK for d in unseen)


def reopen(c: Cycle) -> None:
    """Turn a run that succeeded back into a rollback of all its phases, unless another run of its targets is in
    flight. Decisions made after it had finished and before the Rollback are passed over, as they always are on a
    finished run."""
    status, decisions = c.status, c.spec.decisions
    index = next(
        i for i in range(status.decisions_seen, len(decisions)) if decisions[i].action is DecisionAction.ROLLBACK
    )
    decision = decisions[index]
    status.decisions_seen = index + 1
    if c.observed.others_in_flight:
        # Restoring this run's "before" would overwrite what a later run is deploying: a Rollback object refuses
        # this too; a decision appended by hand is ignored here.
        busy = ", ".join(c.observed.others_in_flight)
        c.event(
            f"decision/{index}", "DecisionIgnored", f"Rollback: {busy} of the same target is in flight", warning=True
        )
        return
    status.post_deployment_rollback = PostDeploymentRollback(
        succeeded_at=status.finished_at, requested_by=decision.by, reason=decision.reason
    )
    status.result = status.finished_at = None
    reason = f": {decision.reason}" if decision.reason else ""
    failures.begin_rollback(
        c, f"rolling back the deployment after it succeeded, requested by {decision.by or 'someone'}{reason}"
    )


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
    if action is DecisionAction.PROMOTE_FULL and c.workflow.type is WorkflowType.CANARY and not c.status.rolling_back:
        _promote_full(c, who, key)
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


def _promote_full(c: Cycle, who: str, key: str) -> None:
    """`kubectl convoy promote --full`: skip what is left of the canary phases and go to the last (100%) one."""
    skipped = 0
    for phase_record in c.status.phases[:-1]:
        for record in phase_record.steps:
            if not finished(record):
                record.state, record.awaiting, record.deadline, record.next_at = StepState.SKIPPED, None, None, None
                record.finished_at = c.stamp
                record.message = f"skipped: promoted to full by {who}"
                skipped += 1
    c.event(key, "PromotedFull", f"promoted to full by {who}: {skipped} steps skipped")


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
