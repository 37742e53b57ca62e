"""Post-deployment rollback in the planner: a Rollback decision reopens a run that succeeded, which then undoes
every phase in reverse order, as if its deployment had failed, and ends RolledBack, marked for good."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.workflowrun import RunPhase, RunResult, StepState
from convoy.planner.actions import Notify, RecordEvent, RestoreSnapshot
from convoy.planner.run import plan

from .builders import DEPLOYMENT, NEW_IMAGE, OLD_IMAGE, deploy, job, notify, phase, rolling, strategy, workflow
from .sim import FAILED, RUN, T0, Sim, actions_of, reasons, seconds
from .test_bluegreen import ACTIVE, ORIGINAL, bg_sim, blue_green_wire
from .test_canary import canary_sim, canary_wire, pods


def deployed(sim: Sim) -> Sim:
    """The run has succeeded: the Deployment runs the new image."""
    assert sim.run().result is RunResult.SUCCEEDED
    assert sim.cluster.deployment().image == NEW_IMAGE
    sim.advance(seconds(600))  # some time later, the deployment turns out to be bad
    return sim


def test_a_rollback_decision_reopens_a_run_that_succeeded_and_restores_the_previous_version() -> None:
    sim = deployed(Sim(rolling()))
    succeeded_at = sim.status.finished_at

    reopened = sim.decide("Rollback", by="oncall", reason="Rollback web-back: errors since 1.1")
    status = sim.run()

    assert "RollingBack" in reasons(reopened)
    assert status.result is RunResult.ROLLED_BACK and status.phase is RunPhase.ROLLED_BACK
    assert sim.cluster.deployment().image == OLD_IMAGE
    assert [p.name for p in status.rollback] == ["rollout"]
    assert sim.rollback_record("rollout").state is StepState.SUCCEEDED
    mark = status.post_deployment_rollback
    assert mark is not None
    assert (mark.succeeded_at, mark.requested_by, mark.reason) == (
        succeeded_at,
        "oncall",
        "Rollback web-back: errors since 1.1",
    )
    assert status.finished_at is not None and status.finished_at > (succeeded_at or "")
    assert status.message == "rolled back: the deployment had succeeded; rolled back on request"
    assert [p.state for p in status.phases] == [StepState.SUCCEEDED], "the deployment's own records stay as they were"
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert ready.status.value == "False"


def test_the_end_of_a_post_deployment_rollback_gets_its_own_event() -> None:
    sim = deployed(Sim(rolling()))
    sim.decide("Rollback")
    sim.run()

    ends = [e for e in sim.cluster.events.values() if e.reason in ("Succeeded", "RolledBack")]
    assert [(e.reason, e.key) for e in ends] == [
        ("Succeeded", "web-1/done"),
        ("RolledBack", "web-1/post-deployment-rollback/done"),
    ]


def test_phases_are_undone_in_reverse_order() -> None:
    wf = rolling(phases=[phase("first", deploy()), phase("second", deploy("deploy-again"))])
    sim = deployed(Sim(wf))

    sim.decide("Rollback")
    status = sim.run()

    assert [p.name for p in status.rollback] == ["second", "first"]
    restores = [c for c in sim.cluster.changes if isinstance(c, RestoreSnapshot)]
    assert [r.snapshot for r in restores] == ["web-1-second-snapshot", "web-1-first-snapshot"]
    assert sim.cluster.deployment().image == OLD_IMAGE


def test_it_restores_even_when_a_later_change_marked_the_deployment() -> None:
    """A later run that failed and put this run's version back leaves its own mark on the Deployment; the
    in-flight rule 'nothing of this run's to undo' does not apply to a run that succeeded."""
    sim = deployed(Sim(rolling()))
    sim.cluster.deployment().applied = "web-2/rollout/rollback"

    sim.decide("Rollback")
    status = sim.run()

    assert status.result is RunResult.ROLLED_BACK
    assert sim.cluster.deployment().image == OLD_IMAGE


def test_the_workflow_rollback_steps_run_as_if_the_deployment_had_failed() -> None:
    wf = rolling(
        phases=[phase("rollout", deploy(), rollback=[job("undo-migration"), {"name": "restore", "rollback": {}}])]
    )
    sim = deployed(Sim(wf))

    sim.decide("Rollback")
    status = sim.run()

    assert [s.name for s in status.rollback[0].steps] == ["undo-migration", "restore"]
    assert [j.name for j in sim.cluster.created_jobs] == ["web-1-rollout-rollback-undo-migration-1"]
    assert sim.cluster.deployment().image == OLD_IMAGE


def test_a_failing_rollback_step_ends_the_run_failed() -> None:
    wf = rolling(phases=[phase("rollout", deploy(), rollback=[job("undo-migration")])])
    sim = deployed(Sim(wf))
    sim.cluster.job_default = FAILED

    sim.decide("Rollback")
    status = sim.run()

    assert status.result is RunResult.FAILED
    assert status.message == "rollback failed: see status.rollback"
    assert status.post_deployment_rollback is not None


def test_a_rolled_back_run_never_runs_again() -> None:
    sim = deployed(Sim(rolling()))
    sim.decide("Rollback")
    sim.run()
    done = sim.status.model_copy(deep=True)

    for action in ("Rollback", "Resume", "Retry"):
        sim.decisions.append(Decision(action=DecisionAction(action), by="bob"))
        again = sim.plan_once()
        assert again.status.result is RunResult.ROLLED_BACK
        assert again.status.rollback == done.rollback and again.actions == ()


@pytest.mark.parametrize(
    ("wire_steps", "ended"),
    [
        pytest.param([job(failureStrategies=[strategy("Rollback")])], RunResult.ROLLED_BACK, id="rolled-back"),
        pytest.param([job(failureStrategies=[strategy("Abort")])], RunResult.ABORTED, id="aborted"),
    ],
)
def test_a_rollback_decision_on_a_run_that_did_not_succeed_is_ignored(
    wire_steps: list[dict[str, object]], ended: RunResult
) -> None:
    sim = Sim(rolling(*wire_steps))
    sim.cluster.job_default = FAILED
    assert sim.run().result is ended
    before = sim.status.model_copy(deep=True)
    sim.decisions.append(Decision(action=DecisionAction.ROLLBACK, by="bob"))

    after = sim.plan_once()

    assert after.status.result is ended
    assert after.status.post_deployment_rollback is None
    assert after.status.rollback == before.rollback and after.actions == ()


def test_decisions_made_after_success_are_passed_over_and_later_ones_apply() -> None:
    sim = deployed(Sim(rolling()))
    sim.decisions += [
        Decision(action=DecisionAction.RESUME, by="carol"),
        Decision(action=DecisionAction.ROLLBACK, by="bob"),
    ]
    sim.reconcile()
    assert sim.status.decisions_seen == 2 and sim.status.phase is RunPhase.ROLLING_BACK

    aborted = sim.decide("Abort", by="dave")

    assert sim.status.result is RunResult.ABORTED, "an Abort stops the rollback, as it would any rollback"
    assert "Aborted" in reasons(aborted)


def test_a_second_rollback_decision_while_rolling_back_changes_nothing() -> None:
    sim = deployed(Sim(rolling()))
    sim.decide("Rollback", by="bob")
    first = sim.status.model_copy(deep=True)

    again = sim.decide("Rollback", by="carol")

    assert [p.name for p in sim.status.rollback] == [p.name for p in first.rollback]
    assert sim.status.post_deployment_rollback == first.post_deployment_rollback
    assert "RollingBack" not in reasons(again)
    assert sim.run().result is RunResult.ROLLED_BACK


def test_planning_a_reopen_is_pure() -> None:
    sim = deployed(Sim(rolling()))
    sim.decisions.append(Decision(action=DecisionAction.ROLLBACK, by="bob"))
    stored = sim.status.model_copy(deep=True)

    one, two = sim.plan_once(), sim.plan_once()

    assert one == two
    assert sim.status == stored, "the stored status was not touched"
    assert one.status.result is None and one.status.finished_at is None


def test_the_rolled_back_notification_is_sent() -> None:
    wf = rolling(notifications=[{"events": ["RolledBack"], "notify": notify()["notify"]}])
    sim = deployed(Sim(wf))
    sim.decide("Rollback")
    sim.run()
    sent = [n for p in sim.plans for n in actions_of(p, Notify)]
    assert [n.key for n in sent] == ["shop/web-1/notification/0/RolledBack"]


def test_a_promoted_canary_is_undone_phase_by_phase_back_to_the_stable_template() -> None:
    sim = canary_sim(workflow(canary_wire(10, 50, 100, steps={10: [], 50: []})))
    assert sim.run().result is RunResult.SUCCEEDED
    assert pods(sim) == (10, None) and sim.cluster.deployment().image == NEW_IMAGE

    sim.decide("Rollback")
    status = sim.run()

    assert status.result is RunResult.ROLLED_BACK
    assert [p.name for p in status.rollback] == ["w100", "w50", "w10"]
    assert sim.cluster.deployment().image == OLD_IMAGE
    assert pods(sim) == (10, None), "all pods back on the old version, no canary"
    # each phase's share of the 10 instances it deployed (1, 4, 5), in reverse order (planner/canary.py)
    assert [(p.name, p.instances) for p in status.rollback] == [("w100", 5), ("w50", 4), ("w10", 1)]


def test_a_blue_green_run_whose_old_color_was_scaled_down_brings_it_back_and_swaps_back() -> None:
    sim = bg_sim(workflow(blue_green_wire(delay="30s")))
    sim.run()
    sim.decide(DecisionAction.RESUME)
    sim.now = T0 + timedelta(minutes=5)
    assert sim.run().result is RunResult.SUCCEEDED
    assert sim.status.blue_green is not None and sim.status.blue_green.old_scaled_down
    assert sim.cluster.deployment().replicas == 0

    sim.decide("Rollback")
    status = sim.run()

    assert status.result is RunResult.ROLLED_BACK
    assert sim.cluster.services[ACTIVE] == ORIGINAL
    assert sim.cluster.deployment().replicas == 3 and sim.cluster.deployment().image == OLD_IMAGE
    assert sim.cluster.deployment(f"{DEPLOYMENT}-blue").replicas == 0


def test_events_of_a_reopen_name_who_asked() -> None:
    sim = deployed(Sim(rolling()))
    reopened = sim.decide("Rollback", by="oncall", reason="Rollback web-back")
    [event] = [a for a in reopened.actions if isinstance(a, RecordEvent) and a.reason == "RollingBack"]
    assert event.message == "rolling back the deployment after it succeeded, requested by oncall: Rollback web-back"
    assert event.warning


def test_a_rollback_decision_is_ignored_while_another_run_of_the_target_is_in_flight() -> None:
    """Restoring what ran before this run would overwrite what the later run deploys."""
    sim = deployed(Sim(rolling()))
    sim.decisions.append(Decision(action=DecisionAction.ROLLBACK, by="bob"))
    observed = replace(
        sim.cluster.observe(queued_behind=(), in_pipeline=False),
        others_in_flight=("shop/web-2",),
        provenance=sim.provenance,
    )

    refused = plan(run=RUN, spec=sim.spec, workflow=sim.workflow, status=sim.status, observed=observed, now=sim.now)

    assert refused.status.result is RunResult.SUCCEEDED and refused.status.post_deployment_rollback is None
    assert refused.status.decisions_seen == 1, "seen, so it is not taken later either"
    [event] = [a for a in refused.actions if isinstance(a, RecordEvent)]
    assert (event.reason, event.message) == ("DecisionIgnored", "Rollback: shop/web-2 of the same target is in flight")
    assert not actions_of(refused, Notify), "the run's Succeeded notification is not sent again"
