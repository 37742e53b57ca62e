"""Blue/green workflows against the simulated cluster: preview before the swap, active after it, the old color
kept for scaleDownDelay, and a swap back within the reconcile that saw a post-swap verification fail."""

from __future__ import annotations

from datetime import timedelta

from convoy.api.decisions import DecisionAction
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import RunPhase
from convoy.planner.actions import PointService
from convoy.planner.observed import Outcome

from .builders import (
    DEPLOYMENT,
    NAMESPACE,
    NEW_IMAGE,
    OLD_IMAGE,
    Obj,
    deploy,
    pause,
    phase,
    step,
    strategy,
    verify_http,
    workflow,
)
from .sim import Cluster, Sim, actions_of

ACTIVE, PREVIEW = f"{NAMESPACE}/web", f"{NAMESPACE}/web-preview"
ORIGINAL = (("app", "web"),)
BLUE = (("convoy.dev/color", "blue"),)
GREEN = (("convoy.dev/color", "green"),)


def blue_green_wire(*after_swap: Obj, delay: str = "30s") -> Obj:
    return {
        "type": "BlueGreen",
        "target": {"deployment": DEPLOYMENT},
        "artifact": {"image": NEW_IMAGE},
        "blueGreen": {"activeService": "web", "previewService": "web-preview", "scaleDownDelay": delay},
        "phases": [
            phase("preview", deploy(), pause("check")),
            phase("live", step("swap", "swap"), *after_swap),
        ],
        "failureStrategies": [strategy("Rollback")],
    }


def bg_sim(wf: WorkflowSpec, active: tuple[tuple[str, str], ...] = ORIGINAL) -> Sim:
    cluster = Cluster.with_deployments(DEPLOYMENT)
    cluster.services[ACTIVE] = active
    cluster.services[PREVIEW] = ORIGINAL
    return Sim(wf, cluster=cluster)


def settle(sim: Sim) -> None:
    """Reconcile until the cluster is quiet, without moving the clock (sim.run() would jump to each wake-up)."""
    sim.reconcile()
    for _ in range(20):
        if not sim.cluster.busy():
            return
        sim.cluster.tick()
        sim.reconcile()


def run_phase(sim: Sim) -> RunPhase:
    return sim.status.phase


def test_preview_reaches_the_new_color_before_the_swap_and_active_after_it() -> None:
    sim = bg_sim(workflow(blue_green_wire()))
    status = sim.run()
    assert status.phase is RunPhase.PAUSED
    assert sim.cluster.services[PREVIEW] == BLUE
    assert sim.cluster.services[ACTIVE] == ORIGINAL
    blue = sim.cluster.deployment("web-blue")
    assert (blue.image, blue.replicas) == (NEW_IMAGE, 3)
    assert sim.cluster.deployment().image == OLD_IMAGE
    sim.decide(DecisionAction.RESUME)
    settle(sim)
    status = sim.status
    assert sim.cluster.services[ACTIVE] == BLUE
    assert status.phase is RunPhase.RUNNING, "the old color is kept for scaleDownDelay before the run ends"
    assert sim.cluster.deployment().replicas == 3
    sim.advance(timedelta(seconds=31))
    status = sim.run()
    assert status.phase is RunPhase.SUCCEEDED
    assert sim.cluster.deployment().replicas == 0
    assert status.blue_green is not None and status.blue_green.old_scaled_down


def test_the_old_color_is_scaled_down_only_after_the_delay() -> None:
    sim = bg_sim(workflow(blue_green_wire(delay="2m")))
    sim.run()
    sim.decide(DecisionAction.RESUME)
    settle(sim)
    sim.advance(timedelta(seconds=90))
    settle(sim)
    assert run_phase(sim) is RunPhase.RUNNING
    assert sim.cluster.deployment().replicas == 3
    sim.advance(timedelta(seconds=31))
    settle(sim)
    assert run_phase(sim) is RunPhase.SUCCEEDED
    assert sim.cluster.deployment().replicas == 0


def test_failed_post_swap_verification_swaps_back_in_the_same_reconcile() -> None:
    sim = bg_sim(workflow(blue_green_wire(verify_http("after-swap", count=1))))
    sim.cluster.script_measurements(Outcome.FAILURE)
    sim.run()
    sim.decide(DecisionAction.RESUME)
    for _ in range(20):
        plan = sim.reconcile()
        if sim.status.rolling_back:
            break
        sim.cluster.tick()
    assert sim.status.rolling_back
    assert PointService(NAMESPACE, "web", ORIGINAL) in actions_of(plan, PointService)
    status = sim.run()
    assert status.phase is RunPhase.ROLLED_BACK
    assert sim.cluster.services[ACTIVE] == ORIGINAL
    assert sim.cluster.deployment("web-blue").replicas == 0
    assert sim.cluster.deployment().replicas == 3


def test_the_next_deployment_uses_the_other_color() -> None:
    cluster = Cluster.with_deployments(DEPLOYMENT, "web-blue")
    cluster.services[ACTIVE] = BLUE
    cluster.services[PREVIEW] = BLUE
    sim = Sim(workflow(blue_green_wire()), cluster=cluster)
    sim.run()
    assert sim.status.blue_green is not None
    assert (sim.status.blue_green.color, sim.status.blue_green.previous) == ("green", "web-blue")
    assert sim.cluster.services[PREVIEW] == GREEN
