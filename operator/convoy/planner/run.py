"""Plan one reconcile cycle of a WorkflowRun: start it (or queue it), apply new decisions, advance steps as far
as the observed world allows, and compute the phase last, from everything else.

    plan(run=..., spec=..., workflow=..., status=..., observed=..., now=...) -> Plan

Pure: the input status is never mutated; calling it twice with the same arguments gives the same plan.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from convoy.api.expressions import holds
from convoy.api.steps import ErrorKind, FailureStrategy, ManualInterventionPolicy
from convoy.api.validation import InvalidSpec
from convoy.api.workflow import ConcurrencyPolicy, NotificationEvent, WorkflowSpec, WorkflowType
from convoy.api.workflowrun import (
    Awaiting,
    PhaseRecord,
    QueueReason,
    RunPhase,
    RunResult,
    StepRecord,
    StepState,
    WorkflowRunSpec,
    WorkflowRunStatus,
)
from convoy.planner import bluegreen, canary, decisions, failures
from convoy.planner.actions import Action, MarkBarrier, RecordEvent
from convoy.planner.conditions import kstatus
from convoy.planner.context import render_workflow
from convoy.planner.cycle import Cycle, Position, RunIdentity, clip, finished, target_of
from convoy.planner.dispatch import evaluate
from convoy.planner.observed import Observed, SlotWait
from convoy.planner.steps import send_notification
from convoy.planner.timeutil import parse, stamp

PASSES_PER_ATTEMPT = 4
"""Passes of the step loop one attempt of a step can take: begun, evaluated, its failure handled, retried."""


@dataclass(frozen=True)
class Plan:
    status: WorkflowRunStatus
    actions: tuple[Action, ...]
    wake_at: datetime | None
    origins: tuple[str | None, ...] = ()
    """For each action, the step attempt that asked for it (None: the run itself)."""

    def origin(self, index: int) -> str | None:
        return self.origins[index] if index < len(self.origins) else None


def plan(
    *,
    run: RunIdentity,
    spec: WorkflowRunSpec,
    workflow: WorkflowSpec | InvalidSpec,
    status: WorkflowRunStatus,
    observed: Observed,
    now: datetime,
    pipeline_variables: Mapping[str, str] | None = None,
    stage_outputs: Mapping[str, Mapping[str, str]] | None = None,
) -> Plan:
    """The next status of the run and the actions that get the cluster there. `workflow` is the Workflow as
    resolved from the reference (or inline), or why it could not be."""
    status = status.model_copy(deep=True)
    if status.result is not None and not decisions.reopens(spec, status, observed.provenance.sealed):
        return _finish(run, status, [], [], now, observed)
    rendered = resolve(run, spec, workflow, status, pipeline_variables, stage_outputs)
    if isinstance(rendered, InvalidSpec):
        return _invalid(run, status, rendered, now, observed)
    status.targets = targets(rendered, run.namespace)
    c = Cycle(run=run, spec=spec, workflow=rendered, status=status, observed=observed, now=now)
    if status.result is not None:
        decisions.reopen(c)  # a post-deployment rollback: the run that succeeded turns back
        if status.result is not None:  # refused: it stays finished
            return _finish(run, status, c.actions, c.wake, now, observed, origins=c.origins)
    if status.started_at is None:
        behind = observed.queued_behind if rendered.concurrency.policy is ConcurrencyPolicy.QUEUE else ()
        if behind or observed.slot_wait is not None:
            decisions.apply_new(c)  # an Abort ends a queued run now, rather than when its turn comes
            _queue(status, behind, observed.slot_wait)
            return _finish(run, status, c.actions, c.wake, now, observed, origins=c.origins)
        _start(c)
    decisions.apply_new(c)
    _advance(c)
    if status.result is not None:
        _notify(c, _RESULT_NOTIFICATIONS[status.result])
    return _finish(run, status, c.actions, c.wake, now, observed, origins=c.origins)


_RESULT_NOTIFICATIONS = {
    RunResult.SUCCEEDED: NotificationEvent.SUCCEEDED,
    RunResult.FAILED: NotificationEvent.FAILED,
    RunResult.ROLLED_BACK: NotificationEvent.ROLLED_BACK,
    RunResult.ABORTED: NotificationEvent.ABORTED,
}


def awaits_confirmation(status: WorkflowRunStatus, performed: Collection[str]) -> bool:
    """Whether a step of the run waits for changes that were just made (see steps.confirmed): plan it again."""
    waiting = (r for p in (*status.phases, *status.rollback) for r in p.steps if r.awaiting is Awaiting.CONFIRMATION)
    return any(waiting) and bool(performed)


def targets(workflow: WorkflowSpec, namespace: str) -> list[str]:
    """The workloads a workflow deploys, as 'namespace/name', in phase order without repeats."""
    found = (target_of(workflow, phase, namespace) for phase in workflow.phases)
    return list(dict.fromkeys(f"{ns}/{name}" for ns, name in found if name))


def resolve(
    run: RunIdentity,
    spec: WorkflowRunSpec,
    workflow: WorkflowSpec | InvalidSpec,
    status: WorkflowRunStatus,
    pipeline_variables: Mapping[str, str] | None,
    stage_outputs: Mapping[str, Mapping[str, str]] | None,
) -> WorkflowSpec | InvalidSpec:
    """The workflow this run executes: rendered once, when the run starts, then read back from the status so that
    editing the Workflow never changes a run in flight."""
    if status.workflow_spec is not None:
        return WorkflowSpec.model_validate(status.workflow_spec)
    if isinstance(workflow, InvalidSpec):
        return workflow
    try:
        rendered = render_workflow(
            workflow,
            run_name=run.name,
            namespace=run.namespace,
            given=spec.variables,
            pipeline_variables=pipeline_variables,
            stage_outputs=stage_outputs,
        )
    except InvalidSpec as invalid:
        return invalid
    return rendered


def _queue(status: WorkflowRunStatus, behind: tuple[str, ...], slot: SlotWait | None) -> None:
    """A run that may not start yet: behind the runs of its targets, else behind the limit on runs progressing at
    once. Its position and the reason are in the status until it starts (or ends unstarted)."""
    if status.result is not None:
        status.queue_position = status.queue_reason = None
    elif behind:
        status.queue_position, status.queue_reason = len(behind), QueueReason.TARGET
        status.message = clip(f"queued behind {', '.join(behind)} (same target)")
    elif slot is not None:
        status.queue_position, status.queue_reason = slot.position, QueueReason.PROGRESS_LIMIT
        status.message = clip(slot.reason)


def _start(c: Cycle) -> None:
    wf, status = c.workflow, c.status
    status.workflow_spec = wf.to_wire()
    status.workflow = c.spec.workflow_ref.name if c.spec.workflow_ref else c.run.name
    status.type = wf.type
    status.started_at = c.stamp
    status.queue_position = status.queue_reason = None
    status.phases = [
        PhaseRecord(name=p.name, steps=[StepRecord(name=s.name, kind=s.kind) for s in p.steps]) for p in wf.phases
    ]
    c.event("started", "Started", f"{wf.type.value} workflow {status.workflow} started ({len(wf.phases)} phases)")
    _notify(c, NotificationEvent.STARTED)


def passes_allowed(workflow: WorkflowSpec) -> int:
    """How many passes of the step loop one cycle may take: every deploy and rollback step, each with every
    attempt any failure strategy allows, and a few passes to spare. Only a step that neither waits nor finishes
    could exceed it (a bug), so it is derived from the workflow rather than capped below what the schema allows."""
    retries = [s.retry.count for s in (*workflow.failure_strategies, *_step_strategies(workflow)) if s.retry]
    steps = sum(len(p.steps) + len(p.rollback_steps or ()) + 1 for p in workflow.phases)
    return steps * (max(retries, default=0) + 2) * PASSES_PER_ATTEMPT + PASSES_PER_ATTEMPT


def _step_strategies(workflow: WorkflowSpec) -> list[FailureStrategy]:
    steps = (s for p in workflow.phases for s in (*p.steps, *(p.rollback_steps or ())))
    return [strategy for step in steps for strategy in step.failure_strategies]


def _advance(c: Cycle) -> None:
    for _ in range(passes_allowed(c.workflow)):
        if c.status.result is not None:
            return
        pos = c.current()
        if pos is None:
            if c.status.rolling_back or bluegreen.wrap_up(c):
                if c.workflow.type is WorkflowType.CANARY:
                    canary.repause(c)
                _complete(c)
            return
        record = pos.record
        if record.state is StepState.PENDING:
            _begin(c, pos)
            continue
        if record.state is StepState.FAILED:
            if record.awaiting is None:
                failures.handle(c, pos)
                continue
            moment = parse(record.next_at or record.deadline or c.stamp)
            if c.now < moment:
                c.wake_at(moment)
                return
            if record.awaiting is Awaiting.RETRY:
                _new_attempt(c, pos.record)
            else:
                policy = failures.strategy_for(c, pos, record.error or ErrorKind.ANY).manual_intervention
                default = (policy or ManualInterventionPolicy()).default_action
                record.decided_by = "timeout"
                failures.apply_action(c, pos, default)
            continue
        before = (record.state, record.awaiting)
        evaluate(c, pos)
        if _working(record):
            if before != (record.state, record.awaiting) and record.state is StepState.WAITING:
                _notify_waiting(c, pos.key, record.awaiting)
            return
    raise RuntimeError("the planner did not settle: a step neither waited nor finished")


def _working(record: StepRecord) -> bool:
    """Still running or waiting after its evaluation (rather than finished or freshly failed)."""
    return not finished(record) and record.state is not StepState.FAILED


def _begin(c: Cycle, pos: Position) -> None:
    record, phase_record = pos.record, pos.phase_record
    if phase_record.state is StepState.PENDING:
        phase_record.state, phase_record.started_at = StepState.RUNNING, c.stamp
        verb = "rolling back" if pos.rollback else "started"
        c.event(
            f"{pos.phase.name}/{'rollback' if pos.rollback else 'deploy'}",
            "PhaseStarted",
            f"phase {pos.phase.name} {verb}",
        )
    if pos.step.when is not None and not holds(pos.step.when, {}):
        record.state, record.finished_at = StepState.SKIPPED, c.stamp
        record.message = clip(f"skipped: {pos.step.when} does not hold")
        return
    record.started_at = c.stamp
    _new_attempt(c, record)


def _new_attempt(c: Cycle, record: StepRecord) -> None:
    record.attempts += 1
    record.state, record.awaiting, record.error = StepState.RUNNING, None, None
    record.attempt_started_at = c.stamp
    record.deadline = record.next_at = record.finished_at = None
    record.successes = record.failures = record.inconclusive = 0


def _settle_phases(run: RunIdentity, status: WorkflowRunStatus, now: datetime) -> list[Action]:
    """A phase is done when all its steps are, or when the run ended after the phase started (its later steps
    will never run); its state follows from its steps'."""
    events: list[Action] = []
    ended = status.result is not None
    for part, records in (("deploy", status.phases), ("rollback", status.rollback)):
        for phase_record in records:
            done = all(finished(r) for r in phase_record.steps)
            cut_short = ended and phase_record.state is not StepState.PENDING
            if phase_record.finished_at is not None or not (done or cut_short):
                continue
            states = {r.state for r in phase_record.steps}
            if StepState.FAILED in states:
                phase_record.state = StepState.FAILED
            elif StepState.ABORTED in states:
                phase_record.state = StepState.ABORTED
            elif states == {StepState.SKIPPED}:
                phase_record.state = StepState.SKIPPED
            else:
                phase_record.state = StepState.SUCCEEDED
            phase_record.finished_at = stamp(now)
            verb = phase_record.state.value.lower()
            if part == "rollback":
                verb = "rolled back" if phase_record.state is StepState.SUCCEEDED else f"rollback {verb}"
            events.append(
                RecordEvent(
                    key=f"{run.name}/{phase_record.name}/{part}/done",
                    reason="PhaseFinished",
                    message=f"phase {phase_record.name} {verb}",
                )
            )
    return events


def _complete(c: Cycle) -> None:
    status = c.status
    if status.rolling_back:
        failed_rollback = any(r.state is StepState.FAILED for p in status.rollback for r in p.steps)
        status.result = RunResult.FAILED if failed_rollback else RunResult.ROLLED_BACK
        why = status.failure.message if status.failure else "on request"
        if status.post_deployment_rollback is not None:
            why = "the deployment had succeeded; rolled back on request"
        status.message = clip("rollback failed: see status.rollback" if failed_rollback else f"rolled back: {why}")
        # a run rolled back after it succeeded already has its "done" Event: this end gets its own
        key = "done" if status.post_deployment_rollback is None else "post-deployment-rollback/done"
        c.event(key, status.result.value, status.message, warning=True)
    else:
        status.result = RunResult.SUCCEEDED
        status.message = "all phases succeeded"
        c.event("done", "Succeeded", f"workflow {status.workflow} succeeded")


def _notify(c: Cycle, event: NotificationEvent) -> None:
    for index, notification in enumerate(c.workflow.notifications):
        if event in notification.events:
            send_notification(
                c, f"notification/{index}/{event.value}", notification.notify.message, notification.notify.webhook
            )


def _notify_waiting(c: Cycle, key: str, awaiting: Awaiting | None) -> None:
    if awaiting is Awaiting.APPROVAL:
        for index, notification in enumerate(c.workflow.notifications):
            if NotificationEvent.WAITING_FOR_APPROVAL in notification.events:
                send_notification(
                    c, f"{key}/notification/{index}", notification.notify.message, notification.notify.webhook
                )


def _invalid(
    run: RunIdentity, status: WorkflowRunStatus, invalid: InvalidSpec, now: datetime, observed: Observed
) -> Plan:
    status.result = RunResult.FAILED
    status.message = clip(f"invalid spec: {invalid}")
    status.finished_at = stamp(now)
    event = RecordEvent(key=f"{run.name}/invalid", reason="InvalidSpec", message=status.message, warning=True)
    return _finish(run, status, [event], [], now, observed, invalid=True)


def _finish(
    run: RunIdentity,
    status: WorkflowRunStatus,
    actions: list[Action],
    wake: list[datetime],
    now: datetime,
    observed: Observed,
    *,
    invalid: bool = False,
    origins: list[str | None] | None = None,
) -> Plan:
    """Derive what is derived — phase, current step, progress, conditions — and package the plan."""
    actions = [*actions, *_settle_phases(run, status, now)]
    if status.result is not None and status.finished_at is None:
        status.finished_at = stamp(now)
    if status.result is not None and status.result is not RunResult.SUCCEEDED and status.workflow_spec:
        failing = _fail_barriers(status)
        # the run's "failed" replaces what a step marked this cycle: one mark per barrier and plan (issue 12)
        ended = {a.name for a in failing}
        kept = [not (isinstance(a, MarkBarrier) and a.name in ended) for a in actions]
        origins = [o for o, keep in zip(origins or [], kept, strict=False) if keep]
        actions = [*(a for a, keep in zip(actions, kept, strict=True) if keep), *failing]
    status.phase = _phase(status)
    current = _current_record(status) if status.result is None else None  # a finished run is at no step
    status.current_phase, status.current_step = (current[0], current[1].name) if current else (None, None)
    if status.phases:
        done = sum(p.finished_at is not None for p in status.phases)
        status.progress = f"{done}/{len(status.phases)}"
    status.observed_generation = run.generation
    status.conditions = kstatus(
        status.conditions,
        succeeded=status.phase is RunPhase.SUCCEEDED,
        running=status.result is None,
        reason="InvalidSpec" if invalid else status.phase.value,
        message=status.message or status.phase.value,
        now=now,
    )
    wake_at = min((w for w in wake if w > now), default=None) if status.result is None else None
    return Plan(status=status, actions=tuple(actions), wake_at=wake_at, origins=tuple(origins or ()))


def _fail_barriers(status: WorkflowRunStatus) -> list[MarkBarrier]:
    """A run that ended badly tells every barrier it has not crossed, so nobody waits for it forever."""
    wf = WorkflowSpec.model_validate(status.workflow_spec)
    out: list[MarkBarrier] = []
    for phase, record in zip(wf.phases, status.phases, strict=False):
        for step, step_record in zip(phase.steps, record.steps, strict=False):
            if step.barrier is not None and step_record.state is not StepState.SUCCEEDED:
                out.append(MarkBarrier(step.barrier.name, "failed"))
    return out


def _current_record(status: WorkflowRunStatus) -> tuple[str, StepRecord] | None:
    records = status.rollback if status.rolling_back else status.phases
    for phase_record in records:
        for record in phase_record.steps:
            if not finished(record):
                return phase_record.name, record
    return None


_WAITING_PHASES = {
    Awaiting.APPROVAL: RunPhase.WAITING_FOR_APPROVAL,
    Awaiting.BARRIER: RunPhase.WAITING_AT_BARRIER,
    Awaiting.RESUME: RunPhase.PAUSED,
    Awaiting.INTERVENTION: RunPhase.WAITING_FOR_INTERVENTION,
}


def _phase(status: WorkflowRunStatus) -> RunPhase:
    if status.result is not None:
        return RunPhase(status.result.value)
    if status.started_at is None:
        return RunPhase.QUEUED if status.queue_position else RunPhase.PENDING
    if status.rolling_back:
        return RunPhase.ROLLING_BACK
    current = _current_record(status)
    if current is not None and current[1].awaiting in _WAITING_PHASES:
        return _WAITING_PHASES[current[1].awaiting]
    return RunPhase.RUNNING
