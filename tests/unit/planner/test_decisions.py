"""Decisions people append to a run (`spec.decisions`): applied once, in order, and only while the run runs."""

from __future__ import annotations

import pytest

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.workflowrun import Awaiting, RunPhase, RunResult, StepState
from convoy.planner.actions import RecordEvent, RestoreSnapshot, SetImage

from .builders import NEW_IMAGE, OLD_IMAGE, approval, deploy, job, pause, phase, rolling, strategy
from .sim import FAILED, Rollout, Sim, actions_of, reasons, seconds


def rolling_out() -> Sim:
    """A run whose deploy step waits for a rollout that does not settle by itself."""
    sim = Sim(rolling(job()))
    sim.cluster.rollouts["web"] = Rollout.STUCK
    sim.reconcile()
    sim.advance(seconds(30))
    sim.reconcile()
    return sim


def test_abort_while_running_stops_without_rollback() -> None:
    sim = rolling_out()

    aborted = sim.decide("Abort", by="bob", reason="wrong version")

    assert sim.status.result is RunResult.ABORTED
    assert sim.status.message == "aborted by bob: wrong version"
    assert sim.record("rollout", "deploy").state is StepState.ABORTED
    assert sim.record("rollout", "migrate").state is StepState.PENDING
    assert sim.status.rollback == []
    assert actions_of(aborted, RestoreSnapshot) == [] and actions_of(aborted, SetImage) == []
    assert sim.cluster.deployment().image == NEW_IMAGE
    assert aborted.wake_at is None
    assert "Aborted" in reasons(aborted)


def test_rollback_while_running_undoes_the_started_phases() -> None:
    sim = rolling_out()
    sim.cluster.rollouts.clear()

    requested = sim.decide("Rollback", by="bob")
    sim.run()

    assert "RollingBack" in reasons(requested)
    assert sim.record("rollout", "deploy").state is StepState.ABORTED
    assert sim.status.result is RunResult.ROLLED_BACK
    assert sim.status.message == "rolled back: on request"
    assert sim.cluster.deployment().image == OLD_IMAGE


def test_rollback_while_waiting_to_retry_closes_the_step() -> None:
    sim = Sim(rolling(job(failureStrategies=[strategy("Retry", count=3, interval="10m")])))
    sim.cluster.job_default = FAILED
    for _ in range(3):
        sim.reconcile()
        sim.advance(seconds(5))
    assert sim.record("rollout", "migrate").awaiting is Awaiting.RETRY

    sim.decide("Rollback")
    sim.run()

    record = sim.record("rollout", "migrate")
    assert (record.state, record.awaiting, record.next_at) == (StepState.ABORTED, None, None)
    assert sim.status.result is RunResult.ROLLED_BACK
    assert len(sim.cluster.created_jobs) == 1, "no further attempt after the rollback"


def test_abort_while_rolling_back_stops_the_rollback_step() -> None:
    sim = Sim(rolling(job()))
    sim.cluster.job_default = FAILED
    for _ in range(2):
        sim.reconcile()
        sim.advance(seconds(5))
    sim.cluster.rollouts["web"] = Rollout.STUCK
    sim.reconcile()
    assert sim.status.phase is RunPhase.ROLLING_BACK

    sim.decide("Abort")

    record = sim.rollback_record("rollout")
    assert (record.state, record.awaiting) == (StepState.ABORTED, None)
    assert sim.status.rollback[0].state is StepState.ABORTED
    assert sim.status.result is RunResult.ABORTED
    assert sim.last.wake_at is None


def test_approve_naming_another_step_is_ignored_with_an_event() -> None:
    sim = Sim(rolling(approval("release")))
    sim.run()

    ignored = sim.decide("Approve", step="deploy", by="bob")

    (event,) = actions_of(ignored, RecordEvent)
    assert (event.reason, event.warning) == ("DecisionIgnored", True)
    assert event.message == "Approve by bob: step 'deploy' is not waiting"
    assert sim.status.phase is RunPhase.WAITING_FOR_APPROVAL

    approved = sim.decide("Approve", step="release", by="bob")
    assert "Approved" in reasons(approved)
    assert sim.status.result is RunResult.SUCCEEDED


@pytest.mark.parametrize(
    ("action", "message"),
    [
        pytest.param("Approve", "Approve by alice: deploy is not an approval waiting for a decision", id="approve"),
        pytest.param("Resume", "Resume by alice does not apply to step deploy", id="resume"),
        pytest.param("Retry", "Retry by alice does not apply to step deploy", id="retry"),
        pytest.param("Ignore", "Ignore by alice does not apply to step deploy", id="ignore"),
    ],
)
def test_a_decision_nothing_waits_for_is_ignored(action: str, message: str) -> None:
    sim = rolling_out()
    before = sim.record("rollout", "deploy").model_copy()

    ignored = sim.decide(action)

    (event,) = actions_of(ignored, RecordEvent)
    assert (event.reason, event.message) == ("DecisionIgnored", message)
    assert sim.record("rollout", "deploy") == before
    assert sim.status.decisions_seen == 1


def test_decisions_are_applied_once() -> None:
    sim = Sim(rolling(pause("first"), pause("second")))
    sim.run()
    sim.decide("Resume", by="bob")
    assert sim.record("rollout", "first").state is StepState.SUCCEEDED
    assert sim.status.decisions_seen == 1

    sim.run()
    sim.reconcile()

    assert sim.record("rollout", "second").state is StepState.WAITING, "the old Resume does not resume the next pause"
    assert sim.event_reasons().count("Resumed") == 1
    assert sum(reasons(p).count("Resumed") for p in sim.plans) == 1


def test_decisions_are_applied_in_order_in_one_cycle() -> None:
    sim = Sim(rolling(pause("first"), pause("second")))
    sim.run()
    sim.decisions += [
        Decision(action=DecisionAction.RESUME, step="first", by="bob"),
        Decision(action=DecisionAction.RESUME, step="second", by="carol"),
    ]

    sim.reconcile()

    assert sim.record("rollout", "first").decided_by == "bob"
    assert sim.record("rollout", "second").state is StepState.WAITING, "the second pause was not waiting yet"
    assert sim.status.decisions_seen == 2


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(DecisionAction.ABORT, id="abort"),
        pytest.param(DecisionAction.RESUME, id="resume"),
        pytest.param(DecisionAction.RETRY, id="retry"),
    ],
)
def test_decisions_after_the_run_finished_are_ignored(action: DecisionAction) -> None:
    """(A Rollback is the exception: it reopens a run that succeeded; see test_post_deployment.py.)"""
    sim = Sim(rolling())
    sim.run()
    finished = sim.status.model_copy(deep=True)
    sim.decisions.append(Decision(action=action, by="bob"))

    after = sim.plan_once()

    assert after.status.result is RunResult.SUCCEEDED
    assert after.status.decisions_seen == finished.decisions_seen == 0
    assert after.status.phases == finished.phases and after.status.rollback == []
    assert after.actions == ()
    assert after.wake_at is None


def test_a_decision_in_the_cycle_that_ends_the_run_is_the_last_one_applied() -> None:
    sim = Sim(rolling(phases=[phase("rollout", deploy(), pause())]))
    sim.run()
    sim.decisions += [
        Decision(action=DecisionAction.ABORT, by="bob"),
        Decision(action=DecisionAction.RESUME, by="carol"),
    ]

    decided = sim.reconcile()

    assert sim.status.result is RunResult.ABORTED
    assert sim.record("rollout", "pause").state is StepState.ABORTED
    assert reasons(decided) == ["Aborted", "PhaseFinished"]
    assert sim.status.decisions_seen == 2
