"""Applying people's decisions (spec.decisions) that the run has not seen yet, in the order they were made.

Only decisions sealed by Convoy's admission webhook count (`observed.provenance.sealed`, checked by the handler):
any other is passed over with a `DecisionIgnored` Event and a status message saying so. The approval rules are
checked here again, whatever admission did: a decider must be one of the approvers, may not approve a run they
created unless the approval allows it, and counts once towards `minApprovals`. `refusal` states these rules for
admission and the planners alike.

A finished run takes no decisions, with one exception: a Rollback decision on a run that succeeded reopens it into a
post-deployment rollback (what a `Rollback` object asks for). The run then undoes every phase in reverse order, as if
its deployment had failed, and ends RolledBack, marked in `status.postDeploymentRollback`.
"""

from __future__ import annotations

from collections.abc import Collection

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

NOT_SEALED = "not sealed by Convoy's admission webhook"


def may_approve(approval: ApprovalStep, decision: Decision) -> bool:
    """Whether the decider is one of the approvers (users by name, groups as 'group:NAME'); anyone when none."""
    if not approval.approvers:
        return True
    users = {a for a in approval.approvers if not a.startswith("group:")}
    groups = {a.removeprefix("group:") for a in approval.approvers if a.startswith("group:")}
    return decision.by in users or bool(groups.intersection(decision.groups))


def refusal(
    approval: ApprovalStep, decision: Decision, what: str, *, creator: str | None, approved: Collection[str] = ()
) -> str | None:
    """Why `decision` may not decide the approval `what` (e.g. "step release", "stage hold"); None when it may.

    A Reject needs an approver; anything that lets the run past the approval (Approve, a PromoteFull over it,
    Ignore of its failure) also needs someone other than the run's creator, unless the approval allows
    self-approval, and counts once per person. `creator` is the run's creator as Convoy recorded it, None when
    no sealed record says (then only an approval that allows self-approval can be approved). Pure."""
    who, verb = decision.by or "someone", _VERBS.get(decision.action, "approve")
    if not may_approve(approval, decision):
        return f"{who} may not {verb} {what}: the approvers are {', '.join(approval.approvers)}"
    if decision.action is DecisionAction.REJECT or approval.allow_self_approval:
        pass
    elif creator is None:
        return (
            f"{who} may not {verb} {what}: Convoy has no sealed record of who created the run "
            "(annotation convoy.dev/created-by), so self-approval cannot be ruled out (allowSelfApproval is false)"
        )
    elif creator == decision.by:
        return f"{who} may not {verb} {what}: {who} created the run and allowSelfApproval is false"
    if decision.action is not DecisionAction.REJECT and decision.by in approved:
        return f"{who} has already approved {what}: each approver counts once ({approval.min_approvals} needed)"
    return None


_VERBS = {
    DecisionAction.APPROVE: "approve",
    DecisionAction.REJECT: "reject",
    DecisionAction.PROMOTE_FULL: "promote past",
    DecisionAction.IGNORE: "ignore the failure of",
}


def not_sealed(index: int, decision: Decision) -> str:
    """What the run says about a decision it ignores because admission did not seal it."""
    return f"decision {index} ({decision.action.value} by {decision.by or 'someone'}) ignored: {NOT_SEALED}"


def reopens(spec: WorkflowRunSpec, status: WorkflowRunStatus, sealed: Collection[int]) -> bool:
    """Whether the run succeeded and a sealed Rollback decision it has not seen yet asks to undo it."""
    return status.result is RunResult.SUCCEEDED and _rollback_index(spec, status, sealed) is not None


def _rollback_index(spec: WorkflowRunSpec, status: WorkflowRunStatus, sealed: Collection[int]) -> int | None:
    decisions = spec.decisions
    unseen = range(status.decisions_seen, len(decisions))
    return next((i for i in unseen if i in sealed and decisions[i].action is DecisionAction.ROLLBACK), None)


def reopen(c: Cycle) -> None:
    """Turn a run that succeeded back into a rollback of all its phases, unless another run of its targets is in
    flight. Decisions made after it had finished and before the Rollback are passed over, as they always are on a
    finished run."""
    status = c.status
    index = _rollback_index(c.spec, status, c.observed.provenance.sealed)
    assert index is not None
    decision = c.spec.decisions[index]
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
        succeeded_at=status.finished_at, requested_by=decision.requested_by or decision.by, reason=decision.reason
    )
    status.result = status.finished_at = None
    reason = f": {decision.reason}" if decision.reason else ""
    failures.begin_rollback(
        c,
        f"rolling back the deployment after it succeeded, requested by {decision.requested_by or decision.by or 'someone'}{reason}",
    )


def apply_new(c: Cycle) -> None:
    decisions, sealed = c.spec.decisions, c.observed.provenance.sealed
    for index in range(c.status.decisions_seen, len(decisions)):
        if c.status.result is not None:
            continue
        if index in sealed:
            _apply(c, index, decisions[index])
        else:
            message = not_sealed(index, decisions[index])
            c.status.message = clip(message)
            c.event(f"decision/{index}", "DecisionIgnored", message, warning=True)
    c.status.decisions_seen = len(decisions)


def _apply(c: Cycle, index: int, decision: Decision) -> None:
    who = decision.requested_by or decision.by or "someone"
    key = f"decision/{index}"
    action = decision.action
    if action is DecisionAction.ABORT or (action is DecisionAction.ROLLBACK and c.status.started_at is None):
        # a run that has not started (queued) has nothing to roll back: it just stops
        failures.abort(c, f"aborted by {who}" + (f": {decision.reason}" if decision.reason else ""))
        return
    if action is DecisionAction.PROMOTE_FULL and c.workflow.type is WorkflowType.CANARY and not c.status.rolling_back:
        _promote_full(c, decision, key)
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


def _promote_full(c: Cycle, decision: Decision, key: str) -> None:
    """`kubectl convoy promote --full`: skip what is left of the canary phases and go to the last (100%) one. An
    approval on the way is skipped only when the decider could approve it (and that completes it); otherwise
    the promotion stops there, and the approval waits for its approvers."""
    who, skipped = decision.by or "someone", 0
    for _index, phase, phase_record in list(c.phases_of(rollback=False))[:-1]:
        for step, record in zip(c.steps_of(phase, rollback=False), phase_record.steps, strict=True):
            if finished(record):
                continue
            if step.approval is not None:
                approved = [*record.approved_by, decision.by or ""]
                problem = refusal(
                    step.approval, decision, f"step {step.name}", creator=c.observed.provenance.creator,
                    approved=record.approved_by,
                )  # fmt: skip
                if problem is None and len(approved) < step.approval.min_approvals:
                    problem = f"{step.name} needs {step.approval.min_approvals} distinct approvers"
                if problem is not None:
                    c.event(
                        key,
                        "PromotedFull",
                        f"promoted to full by {who} up to approval step {step.name}: {skipped} steps skipped; "
                        f"it waits for its approvers ({problem})",
                        warning=True,
                    )
                    return
                record.approved_by, record.decided_by = approved, decision.by
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
    """A person's answer to a step waiting for intervention: recorded on the step, whichever it is. Ignoring the
    failure of an approval lets the run past it, so only someone who could approve it may."""
    record, action = pos.record, decision.action
    if action is DecisionAction.IGNORE and pos.step.approval is not None:
        problem = refusal(pos.step.approval, decision, f"step {pos.step.name}", creator=c.observed.provenance.creator)
        if problem is not None:
            c.event(key, "ApprovalRefused", problem, warning=True)
            return
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
    what = f"step {pos.step.name}"
    problem = refusal(approval, decision, what, creator=c.observed.provenance.creator, approved=record.approved_by)
    if problem is not None:
        c.event(key, "ApprovalRefused", problem, warning=True)
        return
    record.decided_by = decision.by
    reason = f": {decision.reason}" if decision.reason else ""
    if decision.action is DecisionAction.REJECT:
        fail(record, ErrorKind.APPROVAL_REJECTED, f"rejected by {who}{reason}")
        c.event(key, "Rejected", f"{pos.step.name} rejected by {who}{reason}", warning=True)
        return
    record.approved_by = [*record.approved_by, who]
    missing = approval.min_approvals - len(record.approved_by)
    if missing > 0:
        record.message = clip(f"waiting for {missing} more approval(s) (approved by {', '.join(record.approved_by)})")
        c.event(key, "ApprovalRecorded", f"{pos.step.name} approved by {who}{reason}: {missing} more needed")
        return
    succeed(c, record, clip(f"approved by {', '.join(record.approved_by)}{reason}"))
    c.event(key, "Approved", f"{pos.step.name} approved by {', '.join(record.approved_by)}{reason}")
