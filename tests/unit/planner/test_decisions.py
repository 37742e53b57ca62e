"""Decisions people append to a run (`spec.decisions`): applied once, in order, only while the run runs, and only
when sealed by admission; approvals follow their rules (approvers, self-approval, distinct approvers)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.workflowrun import Awaiting, RunPhase, RunResult, StepState
from convoy.planner.actions import RecordEvent, RestoreSnapshot, SetImage

from .builders import NEW_IMAGE, OLD_IMAGE, approval, deploy, job, pause, phase, rolling, strategy, workflow
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


# Only sealed decisions count (the handler checks the seals; the sim marks which ones admission sealed).


def waiting(*steps: dict[str, object]) -> Sim:
    sim = Sim(rolling(*steps))
    sim.run()
    return sim


@pytest.mark.parametrize(
    ("action", "setup"),
    [
        pytest.param("Approve", lambda: waiting(approval("release")), id="approve"),
        pytest.param("Abort", rolling_out, id="abort"),
        pytest.param("Rollback", rolling_out, id="rollback"),
        pytest.param("Resume", lambda: waiting(pause("hold")), id="resume"),
    ],
)
def test_an_unsealed_decision_has_no_effect_and_the_run_says_why(action: str, setup: Callable[[], Sim]) -> None:
    sim = setup()
    before = sim.status.model_copy(deep=True)
    sim.unsealed.add(len(sim.decisions))

    ignored = sim.decide(action, by="alice")

    message = f"decision 0 ({action} by alice) ignored: not sealed by Convoy's admission webhook"
    (event,) = actions_of(ignored, RecordEvent)
    assert (event.reason, event.message, event.warning) == ("DecisionIgnored", message, True)
    assert sim.status.message == message
    assert sim.status.phases == before.phases and sim.status.result is None
    assert sim.status.decisions_seen == 1, "seen: a later seal cannot revive it"


def test_an_unsealed_rollback_does_not_reopen_a_run_that_succeeded() -> None:
    sim = Sim(rolling())
    sim.run()
    sim.unsealed.add(0)

    after = sim.decide("Rollback", by="alice")

    assert after.status.result is RunResult.SUCCEEDED and after.status.post_deployment_rollback is None
    assert after.actions == ()


def test_sealed_decisions_after_an_unsealed_one_still_apply() -> None:
    sim = Sim(rolling(approval("release", ["alice"])))
    sim.run()
    sim.unsealed.add(0)
    sim.decisions += [
        Decision(action=DecisionAction.REJECT, by="mallory"),
        Decision(action=DecisionAction.APPROVE, by="alice"),
    ]

    sim.reconcile()

    assert sim.record("rollout", "release").state is StepState.SUCCEEDED
    assert sim.record("rollout", "release").approved_by == ["alice"]


# Approval rules, checked again by the planner whatever admission did.


@pytest.mark.parametrize(
    ("approval_body", "creator", "decisions", "state", "approved_by", "refusal"),
    [
        pytest.param({"approvers": ["alice"]}, "carol", [("Approve", "alice")], StepState.SUCCEEDED, ["alice"], None,
                     id="approver"),
        pytest.param({"approvers": ["alice"]}, "carol", [("Approve", "bob")], StepState.WAITING, [],
                     "bob may not approve step release: the approvers are alice", id="not-an-approver"),
        pytest.param({}, "alice", [("Approve", "alice")], StepState.WAITING, [],
                     "alice may not approve step release: alice created the run and allowSelfApproval is false",
                     id="self-approval"),
        pytest.param({"allowSelfApproval": True}, "alice", [("Approve", "alice")], StepState.SUCCEEDED, ["alice"],
                     None, id="self-approval-allowed"),
        pytest.param({}, "alice", [("Reject", "alice")], StepState.FAILED, [], None, id="creator-may-reject"),
        pytest.param({}, None, [("Approve", "alice")], StepState.WAITING, [],
                     "alice may not approve step release: Convoy has no sealed record of who created the run "
                     "(annotation convoy.dev/created-by), so self-approval cannot be ruled out "
                     "(allowSelfApproval is false)", id="creator-unknown"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice")], StepState.WAITING, ["alice"], None,
                     id="one-of-two"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice"), ("Approve", "alice")], StepState.WAITING,
                     ["alice"], "alice has already approved step release: each approver counts once (2 needed)",
                     id="same-approver-twice"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice"), ("Approve", "bob")], StepState.SUCCEEDED,
                     ["alice", "bob"], None, id="two-of-two"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice"), ("Reject", "bob")], StepState.FAILED,
                     ["alice"], None, id="one-rejection-is-enough"),
    ],
)  # fmt: skip
def test_approval_rules(
    approval_body: dict[str, object],
    creator: str | None,
    decisions: list[tuple[str, str]],
    state: StepState,
    approved_by: list[str],
    refusal: str | None,
) -> None:
    wf = rolling(
        {"name": "release", "approval": approval_body}, failure_strategies=[strategy("Abort", "ApprovalRejected")]
    )
    sim = Sim(wf, creator=creator)
    sim.run()
    sim.decisions += [Decision(action=DecisionAction(action), by=by) for action, by in decisions]

    decided = sim.reconcile()

    record = sim.record("rollout", "release")
    assert (record.state, record.approved_by) == (state, approved_by)
    refused = [a.message for a in actions_of(decided, RecordEvent) if a.reason == "ApprovalRefused"]
    assert refused == ([refusal] if refusal else [])


def test_partial_approvals_say_how_many_are_missing() -> None:
    sim = waiting({"name": "release", "approval": {"minApprovals": 3}})
    assert sim.record("rollout", "release").message == (
        "waiting for approval by anyone allowed to patch the run (3 distinct approvers needed)"
    )

    recorded = sim.decide("Approve", by="alice")

    assert sim.record("rollout", "release").message == "waiting for 2 more approval(s) (approved by alice)"
    assert "ApprovalRecorded" in reasons(recorded)


def test_ignoring_a_rejected_approval_needs_someone_who_could_approve_it() -> None:
    manual = strategy("ManualIntervention", "ApprovalRejected", timeout="1h")
    sim = Sim(rolling(approval("release", ["alice", "bob"], failureStrategies=[manual])))
    sim.run()
    sim.decide("Reject", by="alice")
    assert sim.record("rollout", "release").awaiting is Awaiting.INTERVENTION

    refused = sim.decide("Ignore", by="mallory")

    (event,) = actions_of(refused, RecordEvent)
    assert (event.reason, event.message) == (
        "ApprovalRefused",
        "mallory may not ignore the failure of step release: the approvers are alice, bob",
    )
    assert sim.record("rollout", "release").awaiting is Awaiting.INTERVENTION

    sim.decide("Ignore", by="bob")
    assert sim.record("rollout", "release").state is StepState.IGNORED


# PromoteFull never skips an approval its decider could not approve.


def canary_with_approval(approval_body: dict[str, object]) -> Sim:
    phases = [
        phase("w10", deploy(), pause("hold")),
        phase("w50", deploy(), {"name": "release", "approval": approval_body}, pause("soak")),
        phase("w100", deploy()),
    ]
    for p, weight in zip(phases, (10, 50, 100), strict=True):
        p["weight"] = weight
    wire = {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": NEW_IMAGE},
        "phases": phases,
    }
    return Sim(workflow(wire))


@pytest.mark.parametrize(
    ("approval_body", "by", "release", "result", "message"),
    [
        pytest.param({"approvers": ["alice"]}, "alice", StepState.SKIPPED, RunResult.SUCCEEDED,
                     "promoted to full by alice: 4 steps skipped", id="approver-skips-it"),
        pytest.param({"approvers": ["alice"]}, "bob", StepState.WAITING, None,
                     "promoted to full by bob up to approval step release: 2 steps skipped; it waits for its approvers "
                     "(bob may not promote past step release: the approvers are alice)", id="stops-at-it"),
        pytest.param({"approvers": ["alice", "bob"], "minApprovals": 2}, "alice", StepState.WAITING, None,
                     "promoted to full by alice up to approval step release: 2 steps skipped; it waits for its "
                     "approvers (release needs 2 distinct approvers)", id="one-of-two-approvers"),
        pytest.param({}, "creator", StepState.WAITING, None,
                     "promoted to full by creator up to approval step release: 2 steps skipped; it waits for its "
                     "approvers (creator may not promote past step release: creator created the run and "
                     "allowSelfApproval is false)", id="self-approval"),
    ],
)  # fmt: skip
def test_promote_full_skips_an_approval_only_for_its_approvers(
    approval_body: dict[str, object], by: str, release: StepState, result: RunResult | None, message: str
) -> None:
    sim = canary_with_approval(approval_body)
    assert sim.run().phase is RunPhase.PAUSED

    promoted = sim.decide("PromoteFull", by=by)
    sim.run()

    assert [a.message for a in actions_of(promoted, RecordEvent) if a.reason == "PromotedFull"] == [message]
    assert sim.record("w50", "release").state is release
    assert sim.status.result is result
    if result is None:
        assert sim.status.phase is RunPhase.WAITING_FOR_APPROVAL
        assert sim.record("w10", "hold").state is StepState.SKIPPED
