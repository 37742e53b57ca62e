"""What holds for every plan: purity and determinism, a bounded status, kstatus conditions, Events created once,
and the derived fields (phase states, progress, current step, notifications of the result)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from convoy.api.common import ConditionStatus
from convoy.api.decisions import Decision, DecisionAction
from convoy.api.workflowrun import RunPhase, RunResult, StepState, WorkflowRunStatus
from convoy.planner.actions import Notify, RecordEvent
from convoy.planner.observed import JobResult, Measurement, Outcome

from .builders import (
    Obj,
    approval,
    barrier,
    deploy,
    job,
    multi_service,
    notify,
    pause,
    phase,
    rolling,
    strategy,
    verify_http,
)
from .sim import FAILED, T0, Cluster, Rollout, Sim, seconds

# Runs at an interesting point, to plan from.


def fresh() -> Sim:
    return Sim(rolling(job()))


def rolling_out() -> Sim:
    sim = Sim(rolling(job()))
    sim.cluster.rollouts["web"] = Rollout.STUCK
    sim.reconcile()
    sim.advance(seconds(30))
    return sim


def approval_decided() -> Sim:
    sim = Sim(rolling(approval(approvers=["bob"])))
    sim.run()
    sim.decisions.append(Decision(action=DecisionAction.APPROVE, by="bob"))
    return sim


def job_failed() -> Sim:
    sim = Sim(rolling(job(), notify()))
    sim.cluster.job_default = FAILED
    for _ in range(2):
        sim.reconcile()
        sim.advance(seconds(5))
    return sim


def measuring() -> Sim:
    sim = Sim(rolling(verify_http(count=3, interval="10s")))
    sim.cluster.script_measurements(Outcome.SUCCESS, Outcome.FAILURE)
    for _ in range(2):
        sim.reconcile()
        sim.advance(seconds(10))
    return sim


def finished() -> Sim:
    sim = Sim(rolling(job()))
    sim.cluster.job_default = FAILED
    sim.run()
    return sim


SCENARIOS: list[Any] = [
    pytest.param(fresh, id="fresh"),
    pytest.param(rolling_out, id="rolling-out"),
    pytest.param(approval_decided, id="approval-decided"),
    pytest.param(job_failed, id="job-failed"),
    pytest.param(measuring, id="measuring"),
    pytest.param(finished, id="finished"),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_plan_does_not_mutate_its_input_status(scenario: Callable[[], Sim]) -> None:
    sim = scenario()
    before = sim.status.model_copy(deep=True)
    wire = sim.status.to_wire()

    sim.plan_once()

    assert sim.status == before
    assert sim.status.to_wire() == wire


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_inputs_give_the_same_plan(scenario: Callable[[], Sim]) -> None:
    sim = scenario()

    assert sim.plan_once() == sim.plan_once()


def messages(tree: Any, path: str = "status") -> Iterator[tuple[str, str]]:
    """(path, text) of every `message` in a wire-format status."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "message" and isinstance(value, str):
                yield f"{path}.{key}", value
            yield from messages(value, f"{path}.{key}")
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from messages(item, f"{path}[{i}]")


HUGE = "x" * 10_000


def huge_job_failure(sim: Sim) -> None:
    sim.cluster.job_default = JobResult(failed=True, message=HUGE)


def huge_measurement(sim: Sim) -> None:
    sim.cluster.measurements.append(Measurement(Outcome.FAILURE, HUGE))


@pytest.mark.parametrize(
    ("step", "make_huge"),
    [
        pytest.param(job(), huge_job_failure, id="job-failure-message"),
        pytest.param(verify_http(), huge_measurement, id="measurement-message"),
    ],
)
def test_status_stays_bounded_with_a_huge_failure_message(step: Obj, make_huge: Callable[[Sim], None]) -> None:
    sim = Sim(rolling(step, failure_strategies=[strategy("ManualIntervention")]))
    make_huge(sim)
    sim.run()
    assert sim.status.phase is RunPhase.WAITING_FOR_INTERVENTION

    sim.decide("Rollback", reason="y" * 1024)
    sim.run()

    assert sim.status.result is RunResult.ROLLED_BACK
    found = list(messages(sim.status.to_wire()))
    assert {p for p, _ in found} >= {"status.message", "status.failure.message", "status.conditions[0].message"}
    assert all(len(text) <= 1024 for _, text in found), [(p, len(t)) for p, t in found if len(t) > 1024]
    assert all(len(e.message) <= 1024 for e in sim.cluster.event_log)
    assert len(str(sim.status.to_wire())) < 20_000
    WorkflowRunStatus.model_validate(sim.status.to_wire())  # the API server's schema limits hold


def test_a_huge_rejection_reason_is_clipped() -> None:
    sim = Sim(rolling(approval()))
    sim.run()

    sim.decide("Reject", by="b" * 256, reason="r" * 1024)
    sim.run()

    assert len(sim.record("rollout", "approve").message or "") <= 1024
    assert all(len(text) <= 1024 for _, text in messages(sim.status.to_wire()))


# Conditions


def queued() -> Sim:
    sim = Sim(rolling(), queued_behind=("shop/web-0",))
    sim.reconcile()
    return sim


def waiting_for_approval() -> Sim:
    sim = Sim(rolling(approval()))
    sim.run()
    return sim


def succeeded() -> Sim:
    sim = Sim(rolling())
    sim.run()
    return sim


def aborted() -> Sim:
    sim = rolling_out()
    sim.decide("Abort")
    return sim


def rollback_failed() -> Sim:
    sim = job_failed()
    sim.cluster.rollouts["web"] = Rollout.DEADLINE_EXCEEDED
    sim.run()
    return sim


T, F = ConditionStatus.TRUE, ConditionStatus.FALSE


@pytest.mark.parametrize(
    ("scenario", "phase", "ready", "reconciling", "stalled"),
    [
        pytest.param(queued, RunPhase.QUEUED, F, T, F, id="queued"),
        pytest.param(rolling_out, RunPhase.RUNNING, F, T, F, id="running"),
        pytest.param(waiting_for_approval, RunPhase.WAITING_FOR_APPROVAL, F, T, F, id="waiting-for-approval"),
        pytest.param(succeeded, RunPhase.SUCCEEDED, T, F, F, id="succeeded"),
        pytest.param(finished, RunPhase.ROLLED_BACK, F, F, T, id="rolled-back"),
        pytest.param(aborted, RunPhase.ABORTED, F, F, T, id="aborted"),
        pytest.param(rollback_failed, RunPhase.FAILED, F, F, T, id="rollback-failed"),
    ],
)
def test_conditions_follow_kstatus(
    scenario: Callable[[], Sim],
    phase: RunPhase,
    ready: ConditionStatus,
    reconciling: ConditionStatus,
    stalled: ConditionStatus,
) -> None:
    sim = scenario()

    assert sim.status.phase is phase
    conditions = {c.type: c for c in sim.status.conditions}
    assert [c.type for c in sim.status.conditions] == ["Ready", "Reconciling", "Stalled"]
    assert (conditions["Ready"].status, conditions["Reconciling"].status, conditions["Stalled"].status) == (
        ready,
        reconciling,
        stalled,
    )
    assert {c.reason for c in sim.status.conditions} == {phase.value}
    assert sim.status.observed_generation == 1


def test_last_transition_time_changes_only_with_the_status() -> None:
    sim = Sim(rolling(pause(duration="10m")))
    sim.reconcile()
    start = {c.type: c.last_transition_time for c in sim.status.conditions}
    assert set(start.values()) == {"2025-03-01T12:00:00Z"}

    sim.advance(seconds(5))
    sim.reconcile()  # now paused: same condition statuses, other messages
    assert {c.type: c.last_transition_time for c in sim.status.conditions} == start

    sim.now = T0 + seconds(605)
    sim.reconcile()

    assert sim.status.result is RunResult.SUCCEEDED
    assert {c.type: c.last_transition_time for c in sim.status.conditions} == {
        "Ready": "2025-03-01T12:10:05Z",
        "Reconciling": "2025-03-01T12:10:05Z",
        "Stalled": "2025-03-01T12:00:00Z",
    }


# Events


def eventful() -> Sim:
    """A MultiService run through a retry, an approval, a refusal, a barrier and a rollback."""
    wf = multi_service(
        phase("api", deploy(), job(failureStrategies=[strategy("Retry", count=1, interval="5s")]), deployment="api"),
        phase("worker", deploy(), approval(approvers=["bob"]), barrier(), job("check"), deployment="worker"),
        notifications=[{"events": ["Started", "WaitingForApproval", "RolledBack"], "notify": {"message": "note"}}],
    )
    sim = Sim(wf, cluster=Cluster.with_deployments("api", "worker"))
    sim.cluster.job_outcomes["web-1-api-deploy-migrate-1"] = FAILED
    sim.cluster.job_outcomes["web-1-worker-deploy-check-1"] = FAILED
    return sim


def test_event_keys_are_unique_per_transition() -> None:
    sim = eventful()
    sim.run()
    sim.decide("Approve", by="mallory")
    sim.decide("Approve", by="bob")
    sim.run()

    assert sim.status.result is RunResult.ROLLED_BACK
    for key in {e.key for e in sim.cluster.event_log}:
        assert len({e.reason for e in sim.cluster.event_log if e.key == key}) == 1, key
    assert sorted(sim.event_reasons()) == sorted(
        [
            "Started",
            "Notification",  # Started
            "PhaseStarted",  # api
            "StepRetrying",
            "PhaseFinished",  # api
            "PhaseStarted",  # worker
            "WaitingForApproval",
            "Notification",  # WaitingForApproval
            "ApprovalRefused",
            "Approved",
            "StepFailed",
            "RollingBack",
            "PhaseFinished",  # worker
            "PhaseStarted",  # worker rollback
            "PhaseFinished",  # worker rollback
            "PhaseStarted",  # api rollback
            "PhaseFinished",  # api rollback
            "RolledBack",
            "Notification",  # RolledBack
        ]
    )


def waits_for_approval(sim: Sim) -> bool:
    return sim.status.phase is RunPhase.WAITING_FOR_APPROVAL


@pytest.mark.parametrize("delay", [pytest.param(seconds(1), id="1s-later"), pytest.param(seconds(90), id="90s-later")])
def test_event_keys_are_stable_when_a_cycle_is_planned_again(delay: timedelta) -> None:
    """A status write that conflicts makes the operator plan the same transitions again, a little later: the
    Events it asks for must have the same keys, so that they are created once."""
    sim = eventful()
    for _ in range(50):
        first = sim.plan_once()
        sim.now += delay
        again = sim.plan_once()
        sim.now -= delay

        assert [(a.key, a.reason) for a in again.actions if isinstance(a, RecordEvent)] == [
            (a.key, a.reason) for a in first.actions if isinstance(a, RecordEvent)
        ]
        if sim.status.phase is RunPhase.WAITING_FOR_APPROVAL:
            sim.decide("Approve", by="bob")
        elif not sim.cycle() and not waits_for_approval(sim):
            break
    assert sim.status.result is RunResult.ROLLED_BACK


# Derived fields


def test_phases_that_started_are_settled_when_the_run_ends() -> None:
    sim = finished_with_pending_steps()

    assert sim.status.result is RunResult.ROLLED_BACK
    settled = sim.status.phases[0]
    assert (settled.state, settled.finished_at is not None) == (StepState.FAILED, True)
    assert sim.record("rollout", "announce").state is StepState.PENDING
    assert sim.status.progress == "1/1"


def finished_with_pending_steps() -> Sim:
    sim = Sim(rolling(job(), notify()))
    sim.cluster.job_default = FAILED
    sim.run()
    return sim


def test_aborted_phase_is_settled_aborted() -> None:
    sim = aborted()

    assert sim.status.phases[0].state is StepState.ABORTED
    assert sim.status.phases[0].finished_at is not None


def test_a_finished_run_is_at_no_step() -> None:
    sim = aborted()

    assert (sim.status.current_phase, sim.status.current_step) == (None, None)
    assert sim.record("rollout", "migrate").state is StepState.PENDING


def test_progress_counts_finished_phases_skipped_ones_too() -> None:
    sim = Sim(rolling(phases=[phase("rollout", deploy()), phase("extra", notify(when="false"))]))
    sim.cluster.rollouts["web"] = Rollout.STUCK

    sim.reconcile()
    assert sim.status.progress == "0/2"

    sim.cluster.deployment().rollout = Rollout.STEADY
    sim.run()

    assert sim.status.phases[1].state is StepState.SKIPPED
    assert sim.status.progress == "2/2"
    assert sim.status.result is RunResult.SUCCEEDED


EVERY_RESULT = [{"events": ["Started", "Succeeded", "Failed", "RolledBack", "Aborted"], "notify": {"message": "note"}}]


def with_failing_job(*strategies: Obj, rollout: Rollout = Rollout.ROLLING) -> Sim:
    sim = Sim(rolling(job(), failure_strategies=list(strategies), notifications=EVERY_RESULT))
    sim.cluster.job_default = FAILED
    for _ in range(2):
        sim.reconcile()
        sim.advance(seconds(5))
    sim.cluster.rollouts["web"] = rollout
    return sim


@pytest.mark.parametrize(
    ("scenario", "result"),
    [
        pytest.param(lambda: Sim(rolling(notifications=EVERY_RESULT)), RunResult.SUCCEEDED, id="succeeded"),
        pytest.param(lambda: with_failing_job(), RunResult.ROLLED_BACK, id="rolled-back"),
        pytest.param(lambda: with_failing_job(strategy("Abort")), RunResult.ABORTED, id="aborted"),
        pytest.param(lambda: with_failing_job(rollout=Rollout.DEADLINE_EXCEEDED), RunResult.FAILED, id="failed"),
    ],
)
def test_the_result_is_notified_once(scenario: Callable[[], Sim], result: RunResult) -> None:
    sim = scenario()

    sim.run()
    sim.reconcile()

    assert sim.status.result is result
    assert sorted(sim.cluster.notified) == sorted(
        ["shop/web-1/notification/0/Started", f"shop/web-1/notification/0/{result.value}"]
    )
    assert sum(a.key.endswith(f"/{result.value}") for p in sim.plans for a in p.actions if isinstance(a, Notify)) == 1
