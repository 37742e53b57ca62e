"""Failure strategies: which one applies to a failed step, and what each action does to the run."""

from __future__ import annotations

from convoy.api.common import seconds
from convoy.api.steps import ErrorKind, FailureAction, FailureStrategy, ManualInterventionPolicy, RetryPolicy
from convoy.api.workflowrun import Awaiting, Failure, PhaseRecord, RunResult, StepRecord, StepState
from convoy.planner.cycle import Cycle, Position, clip
from convoy.planner.timeutil import after, stamp

DEFAULT = FailureStrategy(action=FailureAction.ROLLBACK)


def strategy_for(c: Cycle, pos: Position, error: ErrorKind) -> FailureStrategy:
    """The step's first matching strategy, else the workflow's, else Rollback (as Harness does by default)."""
    for strategy in (*pos.step.failure_strategies, *c.workflow.failure_strategies):
        if ErrorKind.ANY in strategy.errors or error in strategy.errors:
            return strategy
    return DEFAULT


def handle(c: Cycle, pos: Position) -> None:
    """Apply the failure strategy to a step that has just failed."""
    record = pos.record
    error = record.error or ErrorKind.ANY
    if pos.rollback:
        record.finished_at = c.stamp
        c.event(
            f"{pos.key}/failed",
            "RollbackStepFailed",
            f"{pos.phase.name}/{pos.step.name}: {record.message}",
            warning=True,
        )
        c.status.failure = c.status.failure or Failure(
            phase=pos.phase.name, step=pos.step.name, error=error, message=record.message or ""
        )
        return
    strategy = strategy_for(c, pos, error)
    action = strategy.action
    if action is FailureAction.RETRY:
        policy = strategy.retry or RetryPolicy()
        if record.attempts <= policy.count:
            delay = _retry_delay(policy, record.attempts)
            record.awaiting = Awaiting.RETRY
            record.next_at = stamp(after(c.stamp, delay))
            c.wake_at(after(c.stamp, delay))
            c.event(
                f"{pos.key}/retry",
                "StepRetrying",
                f"{pos.phase.name}/{pos.step.name} failed ({error.value}: {record.message}); "
                f"attempt {record.attempts + 1} of {policy.count + 1} in {delay:g}s",
                warning=True,
            )
            return
        action = policy.then
    apply_action(c, pos, action, strategy.manual_intervention)


def _retry_delay(policy: RetryPolicy, attempts: int) -> float:
    return seconds(policy.interval) * policy.backoff ** (attempts - 1)


def apply_action(
    c: Cycle, pos: Position, action: FailureAction, manual: ManualInterventionPolicy | None = None
) -> None:
    record = pos.record
    error = record.error or ErrorKind.ANY
    where = f"{pos.phase.name}/{pos.step.name}"
    if action is FailureAction.MANUAL_INTERVENTION:
        policy = manual or ManualInterventionPolicy()
        record.awaiting = Awaiting.INTERVENTION
        record.deadline = stamp(after(c.stamp, policy.timeout))
        record.next_at = None
        c.wake_at(after(c.stamp, policy.timeout))
        c.event(
            f"{pos.key}/intervention",
            "WaitingForIntervention",
            f"{where} failed ({error.value}: {record.message}); decide retry, ignore, abort or rollback within "
            f"{policy.timeout} (then: {policy.default_action.value})",
            warning=True,
        )
        return
    record.awaiting, record.next_at, record.deadline = None, None, None
    record.finished_at = c.stamp
    if action is FailureAction.IGNORE:
        record.state = StepState.IGNORED
        c.event(
            f"{pos.key}/ignored",
            "StepFailureIgnored",
            f"{where} failed ({error.value}) and was ignored: {record.message}",
            warning=True,
        )
        return
    c.status.failure = Failure(phase=pos.phase.name, step=pos.step.name, error=error, message=record.message or "")
    c.event(f"{pos.key}/failed", "StepFailed", f"{where} failed ({error.value}): {record.message}", warning=True)
    if action is FailureAction.ABORT:
        abort(c, f"aborted after {where} failed: {record.message}")
    else:
        begin_rollback(c, f"rolling back after {where} failed: {record.message}")


def _stop_steps_at_work(c: Cycle) -> None:
    """Abort every step still running, waiting, or failed with its failure not handled yet (awaiting a retry),
    deploy and rollback steps alike, so that no step of a run that stops or turns back stays at work."""
    for phase_record in (*c.status.phases, *c.status.rollback):
        for record in phase_record.steps:
            if record.state in (StepState.RUNNING, StepState.WAITING) or (
                record.state is StepState.FAILED and record.finished_at is None
            ):
                record.state, record.awaiting, record.finished_at = StepState.ABORTED, None, c.stamp
                record.next_at = record.deadline = None


def abort(c: Cycle, message: str) -> None:
    """Stop where the run is, without rollback steps (as Harness's Abort); a rollback under way stops too."""
    _stop_steps_at_work(c)
    c.status.result = RunResult.ABORTED
    c.status.message = clip(message)
    c.event("aborted", "Aborted", message, warning=True)


def begin_rollback(c: Cycle, message: str) -> None:
    """Undo every phase that started, in reverse order."""
    if c.status.rolling_back:
        return
    _stop_steps_at_work(c)
    started = [
        (p, r) for p, r in zip(c.workflow.phases, c.status.phases, strict=True) if r.state is not StepState.PENDING
    ]
    c.status.rollback = [
        PhaseRecord(
            name=phase.name,
            steps=[StepRecord(name=s.name, kind=s.kind) for s in c.steps_of(phase, rollback=True)],
        )
        for phase, _ in reversed(started)
    ]
    c.status.rolling_back = True
    c.status.message = clip(message)
    c.event("rollback", "RollingBack", message, warning=True)
