"""Deploy and rollback steps of Rolling and MultiService workflows: rolling the image out, waiting until the
Deployment is steady, and restoring the snapshot in reverse phase order."""

from __future__ import annotations

import pytest

from convoy.api.steps import ErrorKind
from convoy.api.workflowrun import Awaiting, Revisions, RunPhase, RunResult, StepState
from convoy.planner.actions import RestoreSnapshot, SetImage

from .builders import NEW_IMAGE, OLD_IMAGE, Obj, deploy, job, multi_service, phase, rolling, verify_job
from .sim import FAILED, T0, Cluster, Rollout, Sim, actions_of, seconds


def test_rolling_deploy_sets_the_image_and_waits_for_the_rollout() -> None:
    sim = Sim(rolling(artifact={"image": NEW_IMAGE, "container": "web"}))

    first = sim.reconcile()

    assert actions_of(first, SetImage) == [
        SetImage("shop", "web", "web", NEW_IMAGE, snapshot="web-1-rollout-snapshot", key="web-1/rollout/deploy")
    ]
    record = sim.record("rollout", "deploy")
    assert (record.state, record.awaiting) == (StepState.RUNNING, Awaiting.ROLLOUT)
    assert sim.status.phase is RunPhase.RUNNING
    assert first.wake_at == T0 + seconds(600)  # the steady-state timeout

    sim.advance(seconds(5))
    sim.reconcile()

    assert sim.record("rollout", "deploy").state is StepState.SUCCEEDED
    assert sim.record("rollout", "deploy").message == "rolled out web"
    assert sim.status.result is RunResult.SUCCEEDED
    assert sim.status.revisions == Revisions(stable=OLD_IMAGE, new=NEW_IMAGE)
    assert sim.cluster.deployment().image == NEW_IMAGE


def test_a_rollout_that_is_not_steady_yet_keeps_the_step_waiting() -> None:
    sim = Sim(rolling())
    sim.cluster.rollouts["web"] = Rollout.STUCK

    sim.reconcile()
    sim.advance(seconds(60))
    later = sim.reconcile()

    record = sim.record("rollout", "deploy")
    assert (record.state, record.awaiting) == (StepState.RUNNING, Awaiting.ROLLOUT)
    assert record.message == "waiting for shop/web to roll out"
    assert later.wake_at == T0 + seconds(600)


@pytest.mark.parametrize(
    ("extra", "deploy_step", "limit"),
    [
        pytest.param({}, deploy(), 600, id="default-10m"),
        pytest.param({"steadyStateTimeout": "5m"}, deploy(), 300, id="steady-state-timeout"),
        pytest.param({"steadyStateTimeout": "5m"}, deploy(timeout="2m"), 120, id="step-timeout-wins"),
    ],
)
def test_a_rollout_that_never_settles_times_out(extra: Obj, deploy_step: Obj, limit: int) -> None:
    sim = Sim(rolling(phases=[phase("rollout", deploy_step)], **extra))
    sim.cluster.rollouts["web"] = Rollout.STUCK
    first = sim.reconcile()
    assert first.wake_at == T0 + seconds(limit)

    sim.now = T0 + seconds(limit - 1)
    sim.reconcile()
    assert sim.record("rollout", "deploy").state is StepState.RUNNING

    sim.now = T0 + seconds(limit)
    sim.reconcile()

    record = sim.record("rollout", "deploy")
    assert record.error is ErrorKind.TIMEOUT
    assert record.message is not None and "did not finish within" in record.message
    assert sim.status.failure is not None and sim.status.failure.error is ErrorKind.TIMEOUT


def test_a_rollout_that_finished_while_nobody_looked_succeeds_even_past_the_timeout() -> None:
    sim = Sim(rolling())
    sim.reconcile()

    sim.advance(seconds(3600))  # the operator was down for an hour; the rollout finished meanwhile
    sim.reconcile()

    assert sim.record("rollout", "deploy").state is StepState.SUCCEEDED
    assert sim.status.result is RunResult.SUCCEEDED


def test_progress_deadline_exceeded_fails_the_deploy() -> None:
    sim = Sim(rolling())
    sim.cluster.rollouts["web"] = Rollout.DEADLINE_EXCEEDED

    sim.reconcile()
    sim.advance(seconds(5))
    sim.reconcile()

    record = sim.record("rollout", "deploy")
    assert record.error is ErrorKind.DEPLOYMENT_FAILED
    assert record.message == "Deployment shop/web exceeded its progress deadline"
    assert sim.status.rolling_back


def test_missing_deployment_fails_naming_it_and_rolls_back_at_once() -> None:
    sim = Sim(rolling(), cluster=Cluster())

    sim.run()

    record = sim.record("rollout", "deploy")
    assert record.error is ErrorKind.DEPLOYMENT_FAILED
    assert record.message == "Deployment shop/web not found: create it or fix the workflow's target"
    assert sim.status.result is RunResult.ROLLED_BACK
    assert sim.rollback_record("rollout").message == "nothing to restore: Deployment shop/web not found"
    assert sim.now == T0  # no wait for a restore that cannot come
    assert sim.cluster.changes == []


def test_deploy_is_idempotent_across_cycles() -> None:
    sim = Sim(rolling())
    sim.cluster.rollouts["web"] = Rollout.STUCK

    for _ in range(3):
        sim.reconcile()
        sim.advance(seconds(10))

    assert len(sim.cluster.changes) == 1
    assert len({a for p in sim.plans for a in actions_of(p, SetImage)}) == 1


def test_rolling_rollback_restores_the_snapshot_and_ends_rolled_back() -> None:
    sim = Sim(rolling(job()))
    sim.cluster.job_default = FAILED

    sim.run()

    assert sim.status.result is RunResult.ROLLED_BACK
    assert sim.cluster.deployment().image == OLD_IMAGE
    assert sim.cluster.changes == [
        SetImage("shop", "web", None, NEW_IMAGE, "web-1-rollout-snapshot", "web-1/rollout/deploy"),
        RestoreSnapshot("shop", "web", "web-1-rollout-snapshot", "web-1/rollout/rollback", "web-1/rollout/deploy"),
    ]
    assert sim.cluster.deployment().applied == "web-1/rollout/rollback"
    assert sim.rollback_record("rollout").message == "rolled out web"


def test_two_deploy_phases_on_one_deployment_roll_back_to_the_original_image() -> None:
    sim = Sim(rolling(phases=[phase("first", deploy()), phase("second", deploy(), job())]))
    sim.cluster.job_default = FAILED

    sim.run()

    assert [p.name for p in sim.status.rollback] == ["second", "first"]
    assert sim.status.result is RunResult.ROLLED_BACK
    assert sim.cluster.deployment().image == OLD_IMAGE


def multi(*late: Obj) -> Sim:
    wf = multi_service(
        phase("api", deploy(), deployment="api"),
        phase("worker", deploy(), *late, deployment="worker"),
    )
    return Sim(wf, cluster=Cluster.with_deployments("api", "worker"))


def test_multi_service_deploys_its_phases_in_order() -> None:
    sim = multi()
    sim.cluster.rollouts["api"] = Rollout.STUCK

    for _ in range(3):
        sim.reconcile()
        sim.advance(seconds(5))

    assert sim.cluster.deployment("worker").image == OLD_IMAGE, "worker waits until api is rolled out"
    assert sim.status.current_phase == "api"

    sim.cluster.deployment("api").rollout = Rollout.STEADY
    sim.run()

    assert [c.deployment for c in sim.cluster.changes] == ["api", "worker"]
    assert [c.key for c in sim.cluster.changes] == ["web-1/api/deploy", "web-1/worker/deploy"]
    assert sim.status.result is RunResult.SUCCEEDED
    assert sim.status.targets == ["shop/api", "shop/worker"]
    assert sim.status.revisions == Revisions(stable=OLD_IMAGE, new=NEW_IMAGE)
    assert sim.status.progress == "2/2"


def test_multi_service_late_failure_rolls_back_both_in_reverse_order() -> None:
    sim = multi(verify_job("smoke"))
    sim.cluster.job_default = FAILED

    sim.run()

    assert sim.status.result is RunResult.ROLLED_BACK
    assert [p.name for p in sim.status.rollback] == ["worker", "api"]
    restores = [c for c in sim.cluster.changes if isinstance(c, RestoreSnapshot)]
    assert [(r.deployment, r.snapshot) for r in restores] == [
        ("worker", "web-1-worker-snapshot"),
        ("api", "web-1-api-snapshot"),
    ]
    assert sim.cluster.deployment("api").image == OLD_IMAGE
    assert sim.cluster.deployment("worker").image == OLD_IMAGE
    assert sim.status.failure is not None and sim.status.failure.error is ErrorKind.VERIFICATION_FAILED


def test_rollback_undoes_only_the_phases_that_started() -> None:
    wf = multi_service(
        phase("api", deploy(), deployment="api"),
        phase("worker", deploy(), job(), deployment="worker"),
        phase("cron", deploy(), deployment="cron"),
    )
    sim = Sim(wf, cluster=Cluster.with_deployments("api", "worker", "cron"))
    sim.cluster.job_default = FAILED

    sim.run()

    assert [p.name for p in sim.status.rollback] == ["worker", "api"]
    assert sim.status.phases[2].state is StepState.PENDING
    assert all(c.deployment != "cron" for c in sim.cluster.changes)


def test_same_step_name_in_two_phases_runs_two_jobs() -> None:
    sim = multi_service(
        phase("api", deploy(), verify_job("smoke"), deployment="api"),
        phase("worker", deploy(), verify_job("smoke"), deployment="worker"),
    )
    run = Sim(sim, cluster=Cluster.with_deployments("api", "worker"))
    run.cluster.job_outcomes["web-1-worker-deploy-smoke-1"] = FAILED

    run.run()

    assert [j.name for j in run.cluster.created_jobs] == ["web-1-api-deploy-smoke-1", "web-1-worker-deploy-smoke-1"]
    assert run.record("worker", "smoke").error is ErrorKind.VERIFICATION_FAILED
    assert run.status.result is RunResult.ROLLED_BACK
