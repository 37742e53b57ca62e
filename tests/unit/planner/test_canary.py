"""Canary workflows: the replica arithmetic, and runs through their phases against the simulated cluster."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from convoy.api.decisions import DecisionAction
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import RunPhase
from convoy.planner.actions import (
    Action,
    EnsureCopy,
    HandOver,
    ScaleDeployment,
    SetAutoscalerBounds,
    SetImage,
    SetPaused,
)
from convoy.planner.canary import added_per_phase, canary_selector, split, stable_bounds
from convoy.planner.observed import Autoscaler, Measurement, Observed, Outcome

from .builders import (
    DEPLOYMENT,
    NAMESPACE,
    NEW_IMAGE,
    OLD_IMAGE,
    Obj,
    deploy,
    pause,
    phase,
    rollback_step,
    strategy,
    verify_http,
    workflow,
)
from .sim import Cluster, Deployment, Rollout, Sim, actions_of, seconds


@pytest.mark.parametrize(
    ("total", "weight", "surge", "expected"),
    [
        pytest.param(10, 10, 0, (9, 1), id="10-at-10"),
        pytest.param(10, 30, 0, (7, 3), id="10-at-30"),
        pytest.param(10, 60, 0, (4, 6), id="10-at-60"),
        pytest.param(10, 0, 0, (10, 0), id="10-at-0"),
        pytest.param(10, 100, 0, (0, 10), id="10-at-100"),
        pytest.param(4, 10, 0, (3, 1), id="never-0-canary-pods-at-a-weight"),
        pytest.param(4, 50, 0, (2, 2), id="4-at-50"),
        pytest.param(3, 50, 0, (1, 2), id="rounds-the-canary-up"),
        pytest.param(10, 30, 2, (9, 3), id="surge-keeps-stable-capacity"),
        pytest.param(10, 10, 5, (10, 1), id="stable-never-above-total"),
        pytest.param(1, 10, 0, (0, 1), id="one-replica-without-surge-has-no-stable"),
        pytest.param(1, 10, 1, (1, 1), id="one-replica-with-surge"),
    ],
)
def test_replica_split(total: int, weight: int, surge: int, expected: tuple[int, int]) -> None:
    stable, canary = split(total, weight, surge)
    assert (stable, canary) == expected
    if 0 < weight < 100:
        assert canary >= 1
        assert stable + canary <= total + surge


def test_canary_selector_relabels_the_stable_values() -> None:
    assert canary_selector({"app": "web"}) == (("app", "web-canary"), ("convoy.dev/track", "canary"))


def canary_wire(*weights: int, steps: dict[int, list[Obj]] | None = None, **extra: Any) -> Obj:
    phases = [phase(f"w{w}", deploy(), *(steps or {}).get(w, [pause("hold")] if w < 100 else [])) for w in weights]
    for p, w in zip(phases, weights, strict=True):
        p["weight"] = w
    return {
        "type": "Canary",
        "target": {"deployment": DEPLOYMENT, "service": DEPLOYMENT},
        "artifact": {"image": NEW_IMAGE},
        "phases": phases,
        **extra,
    }


def canary_sim(wf: WorkflowSpec, replicas: int = 10) -> Sim:
    cluster = Cluster.with_deployments(DEPLOYMENT)
    cluster.deployment().replicas = replicas
    return Sim(wf, cluster=cluster)


def pods(sim: Sim) -> tuple[int, int | None]:
    canary = sim.cluster.deployments.get(f"{NAMESPACE}/{DEPLOYMENT}-canary")
    return sim.cluster.deployment().replicas, canary.replicas if canary else None


def test_a_four_phase_replica_canary_moves_pods_phase_by_phase_then_promotes() -> None:
    sim = canary_sim(workflow(canary_wire(10, 30, 60, 100)))
    seen = []
    for _ in range(3):
        status = sim.run()
        assert status.phase is RunPhase.PAUSED
        assert status.canary is not None
        seen.append((status.weight, pods(sim), (status.canary.stable, status.canary.canary)))
        sim.decide(DecisionAction.RESUME)
    assert seen == [(10, (9, 1), (9, 1)), (30, (7, 3), (7, 3)), (60, (4, 6), (4, 6))]
    status = sim.run()
    assert status.phase is RunPhase.SUCCEEDED
    assert status.weight == 100
    assert pods(sim) == (10, None)
    assert sim.cluster.deployment().image == NEW_IMAGE


def test_canary_image_is_the_new_one_and_stable_keeps_the_old_until_promotion() -> None:
    sim = canary_sim(workflow(canary_wire(50, 100)))
    sim.run()
    assert sim.cluster.deployments[f"{NAMESPACE}/{DEPLOYMENT}-canary"].image == NEW_IMAGE
    assert sim.cluster.deployment().image == OLD_IMAGE
    assert sim.status.revisions is not None and sim.status.revisions.stable == OLD_IMAGE


def test_failed_verification_in_phase_two_rolls_back_to_zero() -> None:
    failing = [verify_http("check", count=1)]
    wire = canary_wire(10, 30, 100, steps={10: [], 30: failing}, failureStrategies=[strategy("Rollback")])
    sim = canary_sim(workflow(wire))
    sim.cluster.script_measurements(Outcome.FAILURE)
    status = sim.run()
    assert status.phase is RunPhase.ROLLED_BACK
    assert status.failure is not None and status.failure.phase == "w30"
    assert [p.name for p in status.rollback] == ["w30", "w10"]
    assert pods(sim) == (10, None)
    assert sim.cluster.deployment().image == OLD_IMAGE
    assert status.weight == 0


def test_traffic_route_split_sets_route_weights_and_keeps_stable_full() -> None:
    wire = canary_wire(
        20,
        50,
        100,
        canary={
            "split": "TrafficRoute",
            "trafficRoute": {
                "httpRoute": "web",
                "stableService": "web",
                "canaryService": "web-canary",
                "headerMatch": [{"name": "x-canary", "value": "yes"}],
            },
        },
    )
    sim = canary_sim(workflow(wire))
    sim.cluster.routes[f"{NAMESPACE}/web"] = {"web": 100}
    seen = []
    for _ in range(2):
        status = sim.run()
        seen.append((status.weight, dict(sim.cluster.routes[f"{NAMESPACE}/web"]), pods(sim)))
        sim.decide(DecisionAction.RESUME)
    assert seen == [
        (20, {"web": 80, "web-canary": 20}, (10, 2)),
        (50, {"web": 50, "web-canary": 50}, (10, 5)),
    ]
    assert sim.cluster.route_headers[f"{NAMESPACE}/web"] == (("x-canary", "yes"),)
    assert sim.cluster.services[f"{NAMESPACE}/web-canary"] == (("convoy.dev/track", "canary"),)
    status = sim.run()
    assert status.phase is RunPhase.SUCCEEDED
    assert sim.cluster.routes[f"{NAMESPACE}/web"] == {"web": 100, "web-canary": 0}
    assert pods(sim) == (10, None)
    # the stable kept all its pods: one patch gave it the new template, and there was nothing to hand over
    assert [type(a) for a in sim.cluster.changes] == [SetImage] and sim.cluster.deployment().image == NEW_IMAGE


def test_promote_full_skips_the_remaining_phases_and_promotes() -> None:
    sim = canary_sim(workflow(canary_wire(10, 30, 60, 100)))
    assert sim.run().phase is RunPhase.PAUSED
    sim.decide(DecisionAction.PROMOTE_FULL)
    status = sim.run()
    assert status.phase is RunPhase.SUCCEEDED
    assert status.weight == 100
    assert pods(sim) == (10, None)
    assert sim.record("w30", "deploy").state.value == "Skipped"
    assert "PromotedFull" in sim.event_reasons()


@pytest.mark.parametrize(
    "trouble",
    [
        pytest.param({"write_conflicts": True}, id="status-write-conflicts"),
        pytest.param({"dies_after_write": True}, id="killed-between-write-and-scale"),
    ],
)
def test_a_first_cycle_that_is_planned_again_never_shrinks_the_stable_twice(trouble: dict[str, bool]) -> None:
    # given a 2-replica Deployment and a canary at 50%
    sim = canary_sim(workflow(canary_wire(50, 100)), replicas=2)
    # when its first cycles are cut short, three times over
    for _ in range(3):
        sim.reconcile(**trouble)
    status = sim.run()
    # then the service keeps its 2 pods: 1 stable and 1 canary, never 0 stable
    assert status.phase is RunPhase.PAUSED
    assert status.canary is not None and status.canary.total == 2
    assert pods(sim) == (1, 1)


@pytest.mark.parametrize(
    ("replicas", "surge", "weights", "leftover", "expected"),
    [
        pytest.param(4, 0, (25, 100), (3, 1), ((3, 1), 4), id="aborted-3-plus-1-is-4"),
        pytest.param(10, 2, (30, 100), (9, 3), ((9, 3), 10), id="surge-is-not-a-pod-of-the-service"),
    ],
)
def test_a_run_after_an_aborted_canary_sizes_the_service_as_the_instances_running(
    replicas: int, surge: int, weights: tuple[int, int], leftover: tuple[int, int], expected: tuple[Any, int]
) -> None:
    # given a canary aborted at its first weight, its partial state kept (as the reference does)
    wire = canary_wire(*weights, canary={"maxSurge": surge})
    first = canary_sim(workflow(wire), replicas=replicas)
    first.run()
    first.decide(DecisionAction.ABORT)
    assert first.status.phase is RunPhase.ABORTED
    assert pods(first) == leftover
    # when the same workflow runs again on that cluster
    again = Sim(workflow(wire), cluster=first.cluster)
    status = again.run()
    # then it sizes the service as the instances already running, and promotes to all of them
    assert (pods(again), status.canary.total if status.canary else None) == expected
    again.decide(DecisionAction.RESUME)
    assert again.run().phase is RunPhase.SUCCEEDED
    assert pods(again) == (expected[1], None)


# Proportional rollback (issue 12, item 3) and the HPA carried through the phases (item 8).


@pytest.mark.parametrize(
    ("total", "weights", "added"),
    [
        pytest.param(8, (10, 30, 60, 100), [1, 2, 2, 3], id="reference-8-at-10-20-30-40"),
        pytest.param(10, (10, 50, 100), [1, 4, 5], id="10-at-10-50-100"),
        pytest.param(4, (50, 50, 100), [2, 0, 2], id="a-repeated-weight-adds-nothing"),
        pytest.param(1, (10, 100), [1, 0], id="one-instance-goes-in-the-first-phase"),
    ],
)
def test_instances_each_phase_added(total: int, weights: tuple[int, ...], added: list[int]) -> None:
    assert added_per_phase(total, weights) == added
    assert sum(added) == total


@pytest.mark.parametrize(
    ("bounds", "total", "stable", "expected"),
    [
        pytest.param((4, 8), 4, 2, (2, 4), id="half-of-4..8"),
        pytest.param((2, 10), 10, 7, (1, 7), id="70-percent-of-2..10"),
        pytest.param((2, 10), 15, 6, (1, 6), id="reference-rollback-6-of-15"),
        pytest.param((4, 8), 4, 4, (4, 8), id="the-whole-service-has-the-bounds"),
        pytest.param((3, 3), 3, 1, (1, 1), id="pinned-bounds-shrink-with-the-share"),
        pytest.param((1, 5), 2, 0, (1, 1), id="no-stable-pod-still-a-valid-hpa"),
    ],
)
def test_stable_bounds_follow_the_share_and_admit_the_stable(
    bounds: tuple[int, int], total: int, stable: int, expected: tuple[int, int]
) -> None:
    low, high = stable_bounds(bounds, total, stable)
    assert (low, high) == expected
    assert 1 <= low <= high
    if stable:
        assert low <= stable <= high, "the HPA never scales the stable away from its share"


def rollback_canary(*weights: int) -> WorkflowSpec:
    """A canary that goes straight through; each phase's rollback holds a minute, so each step can be seen."""
    wire = canary_wire(*weights, steps={w: [] for w in weights})
    for p in wire["phases"]:
        p["rollbackSteps"] = [rollback_step(), pause("hold", duration="1m")]
    return workflow(wire)


def promoted_then_scaled(replicas: int, scaled_to: int, *weights: int) -> Sim:
    sim = canary_sim(rollback_canary(*weights), replicas=replicas)
    assert sim.run().phase is RunPhase.SUCCEEDED
    sim.cluster.deployment().replicas = scaled_to  # scaled since, by hand or by its HPA
    return sim


def steps_of_rollback(sim: Sim) -> list[tuple[str, int | None, tuple[int, int | None], str]]:
    """Run the rollback one reconcile at a time; at each rollback phase's hold: its name, instances, the pods
    (stable, canary) and the stable's image."""
    seen: list[tuple[str, int | None, tuple[int, int | None], str]] = []
    for _ in range(200):
        sim.cycle()
        for record in sim.status.rollback:
            holding = record.steps[-1].state.value == "Waiting"
            if holding and record.name not in [s[0] for s in seen]:
                seen.append((record.name, record.instances, pods(sim), sim.cluster.deployment().image))
        if sim.status.result is not None:
            break
    return seen


def test_the_reference_rollback_undoes_6_4_4_and_the_rest_after_the_service_grew_to_15() -> None:
    # given an 8-instance 10/20/30/40 canary that succeeded, and the service scaled to 15 since
    sim = promoted_then_scaled(8, 15, 10, 30, 60, 100)
    # when it is rolled back after the fact
    sim.decide("Rollback")
    seen = steps_of_rollback(sim)
    # then phase 4 returns 6 instances, phase 3 4, phase 2 4 and phase 1 the rest, as the pods show at each step
    assert seen == [
        ("w100", 6, (6, 9), OLD_IMAGE),
        ("w60", 4, (10, 5), OLD_IMAGE),
        ("w30", 4, (14, 1), OLD_IMAGE),
        ("w10", 1, (15, None), OLD_IMAGE),
    ]
    assert sim.status.phase is RunPhase.ROLLED_BACK
    assert [(p.pods.stable, p.pods.canary) for p in sim.status.rollback if p.pods] == [
        (6, 9),
        (10, 5),
        (14, 1),
        (15, 0),
    ]
    assert sim.status.canary is not None and sim.status.canary.total == 8, "the deployment's own sizes stay"


@pytest.mark.parametrize(
    ("replicas", "scaled_to", "weights", "expected"),
    [
        pytest.param(8, 8, (10, 30, 60, 100), [3, 2, 2, 1], id="nothing-changed-each-phase-gives-back-its-own"),
        pytest.param(8, 4, (10, 30, 60, 100), [2, 1, 1, 0], id="scaled-in-since"),
        pytest.param(2, 5, (50, 100), [3, 2], id="two-phases"),
    ],
)
def test_a_post_deployment_rollback_gives_each_phase_its_share_of_what_runs(
    replicas: int, scaled_to: int, weights: tuple[int, ...], expected: list[int]
) -> None:
    sim = promoted_then_scaled(replicas, scaled_to, *weights)
    sim.decide("Rollback")
    status = sim.run()
    assert status.phase is RunPhase.ROLLED_BACK
    assert [p.instances for p in status.rollback] == expected
    assert pods(sim) == (scaled_to, None) and sim.cluster.deployment().image == OLD_IMAGE


def test_a_canary_failing_in_flight_gives_back_what_each_phase_added() -> None:
    # given a 10-instance canary that fails its check at 60%
    wire = canary_wire(10, 30, 60, 100, steps={10: [], 30: [], 60: [verify_http("check", count=1)]})
    sim = canary_sim(workflow(wire))
    sim.cluster.script_measurements(Outcome.FAILURE)
    # when it rolls back, then each phase gives back the canary pods it added: 6 - 3, 3 - 1, 1
    status = sim.run()
    assert status.phase is RunPhase.ROLLED_BACK
    assert [(p.name, p.instances) for p in status.rollback] == [("w60", 3), ("w30", 2), ("w10", 1)]
    assert [(p.pods.stable, p.pods.canary) for p in status.rollback if p.pods] == [(7, 3), (9, 1), (10, 0)]
    assert pods(sim) == (10, None) and sim.cluster.deployment().image == OLD_IMAGE


def test_a_failure_after_the_promotion_began_turns_the_split_around() -> None:
    # given a canary whose check after the promotion fails: all 4 pods run the new version in the stable
    wire = canary_wire(50, 100, steps={50: [], 100: [verify_http("check", count=1)]})
    sim = canary_sim(workflow(wire), replicas=4)
    sim.cluster.script_measurements(Outcome.FAILURE)
    # when it rolls back, then the promotion phase's 2 instances go back first, the first phase's 2 next
    status = sim.run()
    assert status.phase is RunPhase.ROLLED_BACK
    assert [(p.name, p.instances) for p in status.rollback] == [("w100", 2), ("w50", 2)]
    assert pods(sim) == (4, None) and sim.cluster.deployment().image == OLD_IMAGE


class HpaCluster(Cluster):
    """The simulated cluster with one HorizontalPodAutoscaler on the target, which (as one without metrics) keeps
    the Deployment within its bounds on every tick, unless scaled to 0: then, as the HPA controller, it does not
    act."""

    def __init__(self, low: int, high: int, replicas: int) -> None:
        super().__init__(deployments=Cluster.with_deployments(DEPLOYMENT).deployments)
        self.hpa = Autoscaler("web", low, high)
        self.deployment().replicas = replicas
        self.bound_calls: list[SetAutoscalerBounds] = []

    def observe(self, *, queued_behind: tuple[str, ...], in_pipeline: bool) -> Observed:
        seen = super().observe(queued_behind=queued_behind, in_pipeline=in_pipeline)
        return replace(seen, autoscalers={f"{NAMESPACE}/{DEPLOYMENT}": (self.hpa,)})

    def perform(self, action: Action, measurements: dict[str, Measurement]) -> None:
        if isinstance(action, SetAutoscalerBounds):
            self.bound_calls.append(action)
            self.hpa = Autoscaler(action.name, action.min_replicas, action.max_replicas, action.original)
            return
        super().perform(action, measurements)

    def tick(self) -> None:
        super().tick()
        d = self.deployment()
        if d.replicas > 0:
            d.replicas = min(max(d.replicas, self.hpa.min_replicas), self.hpa.max_replicas)


def test_an_hpa_follows_the_weight_and_gets_its_bounds_back_on_rollback() -> None:
    # given an HPA with bounds 4..8 on a Deployment of 4, and a canary at 50%
    cluster = HpaCluster(4, 8, replicas=4)
    sim = Sim(workflow(canary_wire(50, 100)), cluster=cluster)
    # when it holds at 50%, then the HPA is narrowed to the stable's share and does not fight the split
    assert sim.run().phase is RunPhase.PAUSED
    for _ in range(3):
        sim.advance(seconds(15))
    assert (cluster.hpa.min_replicas, cluster.hpa.max_replicas, cluster.hpa.original) == (2, 4, (4, 8))
    assert pods(sim) == (2, 2)
    assert sim.status.autoscaler is not None
    assert (sim.status.autoscaler.min_replicas, sim.status.autoscaler.max_replicas) == (4, 8)
    # when it is rolled back, then the stable runs all 4 again and the HPA has its own bounds back
    sim.decide(DecisionAction.ROLLBACK)
    assert sim.run().phase is RunPhase.ROLLED_BACK
    assert (cluster.hpa.min_replicas, cluster.hpa.max_replicas, cluster.hpa.original) == (4, 8, None)
    assert pods(sim) == (4, None)


def test_the_total_follows_the_hpa_between_phases_and_promotion_restores_it() -> None:
    # given an HPA 2..10 whose minimum says 4 while the Deployment asks for 2
    cluster = HpaCluster(4, 10, replicas=2)
    sim = Sim(workflow(canary_wire(25, 50, 100)), cluster=cluster)
    # when the canary starts, then the service is the HPA's 4
    sim.run()
    assert sim.status.canary is not None and (sim.status.canary.total, pods(sim)) == (4, (3, 1))
    # when the HPA scales the stable within its share (3 -> 5) before the next phase
    cluster.deployment().replicas = 5
    sim.decide(DecisionAction.RESUME)
    assert sim.run().phase is RunPhase.PAUSED
    # then the next weight divides what runs now, 6: 3 stable and 3 canary pods
    assert sim.status.canary is not None and sim.status.canary.total == 6
    assert pods(sim) == (3, 3)
    # when it promotes, then all 6 pods are the stable's and the HPA has its own bounds back
    sim.decide(DecisionAction.RESUME)
    assert sim.run().phase is RunPhase.SUCCEEDED
    assert pods(sim) == (6, None)
    assert (cluster.hpa.min_replicas, cluster.hpa.max_replicas, cluster.hpa.original) == (4, 10, None)


def test_a_run_after_an_aborted_one_gives_the_hpa_its_original_bounds_back() -> None:
    # given a canary aborted at 50%, which left the HPA narrowed (the original bounds kept on it)
    cluster = HpaCluster(4, 8, replicas=4)
    first = Sim(workflow(canary_wire(50, 100)), cluster=cluster)
    first.run()
    first.decide(DecisionAction.ABORT)
    narrowed = cluster.hpa
    assert narrowed.original == (4, 8)
    # when the workflow runs again and promotes
    again = Sim(workflow(canary_wire(50, 100)), cluster=cluster)
    again.run()
    again.decide(DecisionAction.RESUME)
    assert again.run().phase is RunPhase.SUCCEEDED
    # then it recorded and gave back the bounds from before the first run, not the narrowed ones
    assert again.status.autoscaler is not None
    assert (again.status.autoscaler.min_replicas, again.status.autoscaler.max_replicas) == (4, 8)
    assert (cluster.hpa.min_replicas, cluster.hpa.max_replicas, cluster.hpa.original) == (4, 8, None)


def test_two_hpas_on_the_target_fail_the_deploy_step_and_say_why() -> None:
    cluster = HpaCluster(4, 8, replicas=4)
    sim = Sim(workflow(canary_wire(50, 100, failureStrategies=[strategy("Abort")])), cluster=cluster)
    observe = cluster.observe

    def two(*, queued_behind: tuple[str, ...], in_pipeline: bool) -> Observed:
        seen = observe(queued_behind=queued_behind, in_pipeline=in_pipeline)
        return replace(seen, autoscalers={f"{NAMESPACE}/{DEPLOYMENT}": (cluster.hpa, Autoscaler("web-2", 1, 3))})

    cluster.observe = two  # type: ignore[method-assign]
    status = sim.run()
    assert status.phase is RunPhase.ABORTED
    record = sim.record("w50", "deploy")
    assert record.error is not None and record.error.value == "Invalid"
    assert record.message is not None and "web, web-2 all scale Deployment" in record.message
    assert cluster.bound_calls == [] and pods(sim) == (4, None)


def test_promotion_hands_the_canarys_pods_over_to_the_stable_without_starting_one() -> None:
    # given a canary holding at 60% (4 stable + 6 canary of 10)
    sim = canary_sim(workflow(canary_wire(60, 100)))
    sim.run()
    # when it is resumed into the promotion
    promoting = sim.decide(DecisionAction.RESUME)
    # then the handover comes at once (resized Together): no scale first, the stable's own pods go with its ReplicaSets
    assert actions_of(promoting, ScaleDeployment) == [] and actions_of(promoting, EnsureCopy) == []
    assert actions_of(promoting, SetImage) == []
    assert [(a.copy, a.replicas) for a in actions_of(promoting, HandOver)] == [(f"{DEPLOYMENT}-canary", 10)]
    assert sim.status.canary is not None and (sim.status.canary.stable, sim.status.canary.canary) == (0, 10)
    # when it runs on, then the stable takes the canary's 6 pods in one handover, grows to 10, and is resumed
    assert sim.run().phase is RunPhase.SUCCEEDED
    assert [type(a) for a in sim.cluster.changes] == [HandOver]
    stable = sim.cluster.deployment()
    assert (stable.image, stable.replicas, stable.paused) == (NEW_IMAGE, 10, False)
    assert pods(sim) == (10, None)
    assert sim.record("w100", "deploy").message == "promoted: 10 stable pods run the new version, canary removed"


def handed_over() -> Sim:
    """A 50% canary resumed into its promotion, up to the cycle that asked for the handover."""
    sim = canary_sim(workflow(canary_wire(50, 100)))
    sim.run()
    sim.decide(DecisionAction.RESUME)
    for _ in range(10):
        if actions_of(sim.last, HandOver):
            return sim
        sim.cycle()
    raise AssertionError(f"no handover was asked for: {sim.status.message}")


def test_a_handover_performed_again_after_a_restart_changes_nothing_twice() -> None:
    # given a promotion that performed its handover
    sim = handed_over()
    handover = actions_of(sim.last, HandOver)
    # when a restarted operator, which had not seen it done, performs it again
    sim.cluster.perform(handover[0], {})
    # then the run ends as it would have, with the template changed once and the stable resumed
    assert sim.run().phase is RunPhase.SUCCEEDED
    assert [type(a) for a in sim.cluster.changes] == [HandOver]
    assert pods(sim) == (10, None) and not sim.cluster.deployment().paused


def test_the_stable_is_resumed_once_the_deleted_copy_is_gone_and_not_handed_over_again_meanwhile() -> None:
    # given a promotion whose handover was performed: the copy is being deleted, its ReplicaSet not yet orphaned
    sim = handed_over()
    copy = Deployment(NAMESPACE, f"{DEPLOYMENT}-canary", NEW_IMAGE, replicas=10, deleting=True)
    sim.cluster.deployments[f"{NAMESPACE}/{copy.name}"] = copy
    # when an event comes meanwhile, then nothing is asked: no handover again, and the stable stays paused
    waiting = sim.reconcile()
    assert actions_of(waiting, HandOver) == [] and actions_of(waiting, SetPaused) == []
    assert sim.cluster.deployment().paused
    # when the copy is gone and the stable counts its pods, then the stable is resumed and the promotion ends
    del sim.cluster.deployments[f"{NAMESPACE}/{copy.name}"]
    sim.cluster.deployment().rollout = Rollout.STEADY
    assert actions_of(sim.reconcile(), SetPaused) == [SetPaused(NAMESPACE, DEPLOYMENT, False)]
    assert sim.run().phase is RunPhase.SUCCEEDED


@pytest.mark.parametrize("resumes", [pytest.param(0, id="shifting-to-30"), pytest.param(1, id="promoting")])
def test_pods_becoming_available_one_by_one_leave_the_status_as_it_is(resumes: int) -> None:
    # given a canary whose Deployments roll out slowly, waiting in a deploy step
    sim = canary_sim(workflow(canary_wire(30, 100)))
    for _ in range(resumes):
        sim.run()
        sim.decide(DecisionAction.RESUME)
    sim.cluster.rollouts.update({DEPLOYMENT: Rollout.STUCK, f"{DEPLOYMENT}-canary": Rollout.STUCK})
    sim.reconcile()
    waiting = sim.status.to_wire()
    # when their pods become available one by one
    for available in range(11):
        for deployment in sim.cluster.deployments.values():
            deployment.available = min(available, deployment.replicas)
        sim.reconcile()
        # then the status is not written again for each: the step waits with the same message
        assert sim.status.to_wire() == waiting
