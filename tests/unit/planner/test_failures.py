"""Failure strategies: which one applies to a failed step, and what Retry, Ignore, Abort, Rollback and
ManualIntervention do to the run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from convoy.api.steps import ErrorKind
from convoy.api.workflowrun import Awaiting, RunPhase, RunResult, StepState
from convoy.planner.actions import RestoreSnapshot
from convoy.planner.observed import Refusal
from convoy.planner.timeutil import stamp

from .builders import (
    NEW_IMAGE,
    OLD_IMAGE,
    Obj,
    barrier,
    deploy,
    job,
    multi_service,
    notify,
    phase,
    rollback_step,
    rolling,
    strategy,
    verify_job,
)
from .sim import FAILED, SUCCEEDED, Cluster, Rollout, Sim, actions_of, reasons, seconds


def failing_job(*strategies: Obj, workflow_strategies: list[Obj] | None = None, then: Obj | None = None) -> Sim:
    """A Rolling run whose `migrate` job always fails, followed by a notify step (or `then`): deployed, and its
    first job has just failed; the next reconcile sees it."""
    steps = [job(failureStrategies=list(strategies))] + ([then] if then else [notify()])
    sim = Sim(rolling(*steps, failure_strategies=workflow_strategies or []))
    sim.cluster.job_default = FAILED
    for _ in range(2):
        sim.reconcile()
        sim.advance(seconds(5))
    return sim


# Retry


@pytest.mark.parametrize(
    ("interval", "backoff", "delays"),
    [
        pytest.param("10s", None, [10, 20], id="default-backoff-doubles"),
        pytest.param("30s", 1.0, [30, 30], id="no-backoff"),
        pytest.param("5s", 3.0, [5, 15], id="backoff-3"),
    ],
)
def test_retry_attempts_count_plus_one_times_with_backoff(
    interval: str, backoff: float | None, delays: list[int]
) -> None:
    sim = failing_job(strategy("Retry", count=2, interval=interval, backoff=backoff, then="Abort"))

    for attempt, delay in enumerate(delays, start=1):
        failed_at = sim.now
        retrying = sim.reconcile()
        record = sim.record("rollout", "migrate")
        assert (record.state, record.awaiting, record.attempts) == (StepState.FAILED, Awaiting.RETRY, attempt)
        assert retrying.wake_at == failed_at + seconds(delay)
        assert "StepRetrying" in reasons(retrying)

        sim.now = failed_at + seconds(delay - 1)
        sim.reconcile()
        assert len(sim.cluster.created_jobs) == attempt, "no new attempt before the delay passed"
        sim.now = failed_at + seconds(delay)
        sim.reconcile()
        assert len(sim.cluster.created_jobs) == attempt + 1
        sim.advance(seconds(5))  # the new attempt's job fails

    sim.run()

    assert len(sim.cluster.created_jobs) == 3
    assert sim.record("rollout", "migrate").attempts == 3
    assert sim.status.result is RunResult.ABORTED


@pytest.mark.parametrize(
    ("then", "phase", "state"),
    [
        pytest.param("Abort", RunPhase.ABORTED, StepState.FAILED, id="abort"),
        pytest.param("Ignore", RunPhase.SUCCEEDED, StepState.IGNORED, id="ignore"),
        pytest.param("Rollback", RunPhase.ROLLED_BACK, StepState.FAILED, id="rollback"),
        pytest.param("ManualIntervention", RunPhase.WAITING_FOR_INTERVENTION, StepState.FAILED, id="intervention"),
    ],
)
def test_retry_then_action_once_the_retries_are_spent(then: str, phase: RunPhase, state: StepState) -> None:
    sim = failing_job(strategy("Retry", count=2, interval="1s", then=then))

    sim.run()

    assert sim.status.phase is phase
    record = sim.record("rollout", "migrate")
    assert record.state is state
    assert record.attempts == 3
    assert len(sim.cluster.created_jobs) == 3


def test_retry_that_succeeds_continues_the_run() -> None:
    sim = failing_job(strategy("Retry", count=2, interval="1s"))
    sim.cluster.job_outcomes["web-1-rollout-deploy-migrate-2"] = SUCCEEDED

    sim.run()

    record = sim.record("rollout", "migrate")
    assert (record.state, record.attempts, record.error) == (StepState.SUCCEEDED, 2, None)
    assert sim.status.result is RunResult.SUCCEEDED
    assert sim.status.failure is None


# Ignore, Abort, Rollback


def test_ignore_marks_the_step_ignored_and_the_run_goes_on() -> None:
    sim = failing_job(strategy("Ignore"))

    sim.run()

    record = sim.record("rollout", "migrate")
    assert (record.state, record.error) == (StepState.IGNORED, ErrorKind.JOB_FAILED)
    assert sim.record("rollout", "announce").state is StepState.SUCCEEDED
    assert sim.status.result is RunResult.SUCCEEDED
    assert sim.status.failure is None
    assert "StepFailureIgnored" in sim.event_reasons()


def test_abort_stops_without_rollback_and_fails_the_barriers() -> None:
    sim = failing_job(strategy("Abort"), then=barrier())
    sim.in_pipeline = True

    sim.run()

    assert sim.status.result is RunResult.ABORTED
    assert sim.status.rollback == [] and not sim.status.rolling_back
    assert not any(isinstance(c, RestoreSnapshot) for c in sim.cluster.changes)
    assert sim.cluster.deployment().image == NEW_IMAGE
    assert sim.cluster.marks == {"meet": "failed"}
    assert sim.record("rollout", "sync").state is StepState.PENDING
    assert sim.status.failure is not None and sim.status.failure.error is ErrorKind.JOB_FAILED
    assert sim.status.message == (
        "aborted after rollout/migrate failed: job web-1-rollout-deploy-migrate-1 failed: BackoffLimitExceeded"
    )


def test_rollback_runs_the_phases_rollback_steps_in_reverse_order() -> None:
    wf = multi_service(
        phase("api", deploy(), deployment="api", rollback=[notify("tell"), rollback_step("undo")]),
        phase("worker", deploy(), job(), deployment="worker"),
        failure_strategies=[strategy("Rollback", "JobFailed")],
    )
    sim = Sim(wf, cluster=Cluster.with_deployments("api", "worker"))
    sim.cluster.job_default = FAILED

    sim.run()

    assert [(p.name, [s.name for s in p.steps]) for p in sim.status.rollback] == [
        ("worker", ["rollback"]),
        ("api", ["tell", "undo"]),
    ]
    assert all(s.state is StepState.SUCCEEDED for p in sim.status.rollback for s in p.steps)
    assert [c.key for c in sim.cluster.changes if isinstance(c, RestoreSnapshot)] == [
        "web-1/worker/rollback",
        "web-1/api/rollback",
    ]
    assert list(sim.cluster.notified) == ["shop/web-1/api/rollback/tell/1"]
    assert sim.status.result is RunResult.ROLLED_BACK
    assert sim.status.phase is RunPhase.ROLLED_BACK
    assert sim.status.message == "rolled back: job web-1-worker-deploy-migrate-1 failed: BackoffLimitExceeded"


def test_rollback_steps_show_the_run_rolling_back() -> None:
    sim = failing_job()
    sim.cluster.rollouts["web"] = Rollout.STUCK

    rolling_back = sim.reconcile()

    assert sim.status.phase is RunPhase.ROLLING_BACK
    assert (sim.status.current_phase, sim.status.current_step) == ("rollout", "rollback")
    assert actions_of(rolling_back, RestoreSnapshot) == [
        RestoreSnapshot("shop", "web", "web-1-rollout-snapshot", "web-1/rollout/rollback", "web-1/rollout/deploy")
    ]
    assert reasons(rolling_back)[:2] == ["StepFailed", "RollingBack"]


@pytest.mark.parametrize(
    ("rollout", "rollback_steps", "error"),
    [
        pytest.param(Rollout.STUCK, None, ErrorKind.TIMEOUT, id="restore-never-settles"),
        pytest.param(Rollout.DEADLINE_EXCEEDED, None, ErrorKind.DEPLOYMENT_FAILED, id="restore-deadline-exceeded"),
        pytest.param(Rollout.ROLLING, [verify_job("check")], ErrorKind.VERIFICATION_FAILED, id="rollback-verify-fails"),
    ],
)
def test_a_failed_rollback_step_ends_the_run_failed(
    rollout: Rollout, rollback_steps: list[Obj] | None, error: ErrorKind
) -> None:
    sim = Sim(rolling(phases=[phase("rollout", deploy(), job(), rollback=rollback_steps)]))
    sim.cluster.job_default = FAILED
    sim.reconcile()
    sim.advance(seconds(5))
    sim.reconcile()
    sim.advance(seconds(5))  # the job failed
    sim.cluster.rollouts["web"] = rollout

    sim.run()

    record = sim.status.rollback[0].steps[0]
    assert (record.state, record.error) == (StepState.FAILED, error)
    assert sim.status.result is RunResult.FAILED
    assert sim.status.phase is RunPhase.FAILED


def test_a_rollback_whose_snapshot_is_lost_ends_the_run_failed_with_the_reason() -> None:
    # as handlers/execute.py refuses a restore whose snapshot was deleted under a Deployment still changed
    lost = Refusal(ErrorKind.NOT_FOUND, "snapshot ConfigMap shop/web-1-rollout-snapshot was deleted while ...")
    sim = failing_job()
    sim.cluster.refusals[RestoreSnapshot] = lost

    sim.run(wait_out=True)

    record = sim.status.rollback[0].steps[0]
    assert (record.state, record.error, record.message) == (StepState.FAILED, ErrorKind.NOT_FOUND, lost.message)
    assert sim.status.result is RunResult.FAILED
    assert sim.status.message == "rollback failed: see status.rollback"
    assert sim.status.failure is not None and sim.status.failure.step == "migrate", "the first failure is kept"
    assert "RollbackStepFailed" in sim.event_reasons()


def test_a_failed_rollback_step_does_not_stop_the_other_phases_rollback() -> None:
    wf = multi_service(
        phase("api", deploy(), deployment="api"),
        phase("worker", deploy(), job(), deployment="worker", rollback=[verify_job("check")]),
    )
    sim = Sim(wf, cluster=Cluster.with_deployments("api", "worker"))
    sim.cluster.job_default = FAILED

    sim.run()

    assert sim.status.result is RunResult.FAILED
    assert sim.rollback_record("worker", "check").state is StepState.FAILED
    assert sim.rollback_record("api").state is StepState.SUCCEEDED
    assert sim.cluster.deployment("api").image == OLD_IMAGE


# ManualIntervention


def waiting_for_intervention() -> Sim:
    sim = failing_job(strategy("ManualIntervention"))
    sim.run()
    assert sim.status.phase is RunPhase.WAITING_FOR_INTERVENTION
    return sim


def test_manual_intervention_waits_for_a_decision_until_its_timeout() -> None:
    sim = failing_job(strategy("ManualIntervention", timeout="30m"))
    failed_at = sim.now

    waiting = sim.reconcile()

    record = sim.record("rollout", "migrate")
    assert (record.state, record.awaiting) == (StepState.FAILED, Awaiting.INTERVENTION)
    assert sim.status.phase is RunPhase.WAITING_FOR_INTERVENTION
    assert waiting.wake_at == failed_at + seconds(1800)
    assert "WaitingForIntervention" in reasons(waiting)

    sim.now = failed_at + seconds(1799)
    sim.reconcile()
    assert sim.status.phase is RunPhase.WAITING_FOR_INTERVENTION


@pytest.mark.parametrize(
    ("decision", "result", "state"),
    [
        pytest.param("Ignore", RunResult.SUCCEEDED, StepState.IGNORED, id="ignore"),
        pytest.param("Abort", RunResult.ABORTED, StepState.ABORTED, id="abort"),
        pytest.param("Rollback", RunResult.ROLLED_BACK, StepState.FAILED, id="rollback"),
    ],
)
def test_intervention_decision(decision: str, result: RunResult, state: StepState) -> None:
    sim = waiting_for_intervention()

    decided = sim.decide(decision, by="oncall")
    sim.run()

    record = sim.record("rollout", "migrate")
    assert record.state is state
    assert record.awaiting is None
    assert sim.status.result is result
    if decision != "Abort":
        assert record.decided_by == "oncall"
        assert reasons(decided)[0] == "InterventionDecided"


def test_intervention_retry_runs_a_new_attempt() -> None:
    sim = waiting_for_intervention()
    sim.cluster.job_default = SUCCEEDED

    decided = sim.decide("Retry", by="oncall")
    sim.run()

    assert "InterventionDecided" in reasons(decided)
    record = sim.record("rollout", "migrate")
    assert (record.state, record.attempts) == (StepState.SUCCEEDED, 2)
    assert [j.name for j in sim.cluster.created_jobs][-1] == "web-1-rollout-deploy-migrate-2"
    assert sim.status.result is RunResult.SUCCEEDED


def test_intervention_retry_that_fails_again_waits_again() -> None:
    sim = waiting_for_intervention()

    sim.decide("Retry")
    sim.run()

    record = sim.record("rollout", "migrate")
    assert (record.awaiting, record.attempts) == (Awaiting.INTERVENTION, 2)
    assert sim.event_reasons().count("WaitingForIntervention") == 2


@pytest.mark.parametrize(
    ("policy", "wait", "result"),
    [
        pytest.param({}, seconds(3600), RunResult.ROLLED_BACK, id="default-1h-rollback"),
        pytest.param({"timeout": "10m", "action": "Ignore"}, seconds(600), RunResult.SUCCEEDED, id="ignore"),
        pytest.param({"timeout": "10m", "action": "Abort"}, seconds(600), RunResult.ABORTED, id="abort"),
        pytest.param({"action": "Rollback"}, seconds(3600), RunResult.ROLLED_BACK, id="rollback"),
    ],
)
def test_intervention_timeout_takes_the_default_action(
    policy: dict[str, str], wait: timedelta, result: RunResult
) -> None:
    sim = failing_job(
        strategy("ManualIntervention", timeout=policy.get("timeout"), default_action=policy.get("action"))
    )
    failed_at = sim.now
    assert sim.reconcile().wake_at == failed_at + wait

    sim.run(wait_out=True)

    assert sim.status.result is result
    record = sim.record("rollout", "migrate")
    assert record.decided_by == "timeout"
    assert record.finished_at == stamp(failed_at + wait)


# Which strategy applies


@pytest.mark.parametrize(
    ("step_strategies", "workflow_strategies", "result"),
    [
        pytest.param([], [], RunResult.ROLLED_BACK, id="none-configured-rolls-back"),
        pytest.param([strategy("Ignore")], [strategy("Abort")], RunResult.SUCCEEDED, id="step-level-wins"),
        pytest.param(
            [strategy("Ignore", "VerificationFailed")],
            [strategy("Abort")],
            RunResult.ABORTED,
            id="step-strategy-for-another-error-falls-through",
        ),
        pytest.param(
            [strategy("Ignore", "VerificationFailed")], [], RunResult.ROLLED_BACK, id="no-match-is-the-default"
        ),
        pytest.param(
            [],
            [strategy("Ignore", "VerificationFailed"), strategy("Abort", "JobFailed")],
            RunResult.ABORTED,
            id="workflow-error-kind-match",
        ),
        pytest.param([strategy("Ignore", "Timeout", "JobFailed")], [], RunResult.SUCCEEDED, id="one-of-several-errors"),
        pytest.param(
            [strategy("Abort", "Any"), strategy("Ignore", "JobFailed")], [], RunResult.ABORTED, id="first-match-wins"
        ),
        pytest.param([], [strategy("Ignore", "Any")], RunResult.SUCCEEDED, id="workflow-any"),
    ],
)
def test_which_strategy_applies_to_a_failed_job(
    step_strategies: list[Obj], workflow_strategies: list[Obj], result: RunResult
) -> None:
    sim = failing_job(*step_strategies, workflow_strategies=workflow_strategies)

    sim.run()

    assert sim.record("rollout", "migrate").error is ErrorKind.JOB_FAILED
    assert sim.status.result is result


def test_a_timeout_is_matched_as_timeout_not_as_the_steps_own_error() -> None:
    sim = Sim(
        rolling(
            job(timeout="1m", failureStrategies=[strategy("Abort", "JobFailed"), strategy("Ignore", "Timeout")]),
        )
    )
    sim.cluster.job_default = None

    sim.run()

    record = sim.record("rollout", "migrate")
    assert (record.state, record.error) == (StepState.IGNORED, ErrorKind.TIMEOUT)
    assert sim.status.result is RunResult.SUCCEEDED
