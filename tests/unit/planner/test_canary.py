"""Canary workflows: the replica arithmetic, and runs through their phases against the simulated cluster."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.decisions import DecisionAction
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import RunPhase
from convoy.planner.canary import canary_selector, split
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
    strategy,
    verify_http,
    workflow,
)
from .sim import Cluster, Sim


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
