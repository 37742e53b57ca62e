"""A canary's service setup, as the reference's ECS Service Setup: the service's size (the instances already
running, or a fixed count) and the order in which a phase resizes the old and the new version."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.decisions import DecisionAction
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.api.workflow import ResizeStrategy
from convoy.api.workflowrun import RunPhase
from convoy.planner.actions import DeleteDeployment, EnsureCopy, HandOver, ScaleDeployment
from convoy.planner.canary import resize_now

from .builders import OLD_IMAGE, strategy, workflow
from .sim import actions_of, seconds
from .test_canary import canary_sim, canary_wire, pods


def setup(**fields: Any) -> dict[str, Any]:
    return {"canary": {"setup": fields}}


@pytest.mark.parametrize(
    ("running", "fields", "phases", "promoted"),
    [
        pytest.param(4, {}, [(2, 2)], 4, id="same-as-running"),
        pytest.param(4, {"instances": "Fixed", "fixedCount": 2}, [(1, 1)], 2, id="fixed-below-running"),
        pytest.param(2, {"instances": "Fixed", "fixedCount": 6}, [(3, 3)], 6, id="fixed-above-running"),
        pytest.param(0, {"instances": "Fixed", "fixedCount": 2}, [(1, 1)], 2, id="fixed-from-nothing-running"),
    ],
)
def test_the_service_is_sized_as_running_or_fixed(
    running: int, fields: dict[str, Any], phases: list[tuple[int, int]], promoted: int
) -> None:
    sim = canary_sim(workflow(canary_wire(50, 100, **setup(**fields))), replicas=running)

    status = sim.run()

    assert status.phase is RunPhase.PAUSED
    assert [pods(sim)] == phases
    assert status.canary is not None and status.canary.total == promoted
    sim.decide(DecisionAction.RESUME)
    assert sim.run().phase is RunPhase.SUCCEEDED
    assert pods(sim) == (promoted, None), "the promotion leaves the service at its size"


def test_a_fixed_size_is_kept_through_a_rollback() -> None:
    wire = canary_wire(50, 100, failureStrategies=[strategy("Rollback")], **setup(instances="Fixed", fixedCount=2))
    sim = canary_sim(workflow(wire), replicas=4)
    sim.run()

    sim.decide(DecisionAction.ROLLBACK)
    status = sim.run()

    assert status.phase is RunPhase.ROLLED_BACK
    assert pods(sim) == (2, None)
    assert sim.cluster.deployment().image == OLD_IMAGE


def walk(fields: dict[str, Any], replicas: int = 4) -> tuple[list[tuple[int, int | None]], list[list[str]]]:
    """Pods after each reconcile of a 50% phase, and the resizes each reconcile asked for, until it pauses."""
    sim = canary_sim(workflow(canary_wire(50, 100, **setup(**fields))), replicas=replicas)
    seen, asked = [], []
    for _ in range(20):
        result = sim.reconcile()
        asked.append(
            [f"canary {a.replicas}" for a in actions_of(result, EnsureCopy)]
            + [f"stable {a.replicas}" for a in actions_of(result, ScaleDeployment)]
        )
        seen.append(pods(sim))
        if sim.status.phase is RunPhase.PAUSED:
            break
        sim.advance(seconds(5))
    return list(dict.fromkeys(seen)), asked


@pytest.mark.parametrize(
    ("resize", "pods_seen", "first_asked"),
    [
        pytest.param("Together", [(2, 2)], ["canary 2", "stable 2"], id="together"),
        pytest.param("NewFirst", [(4, 2), (2, 2)], ["canary 2"], id="new-first-never-below-capacity"),
        pytest.param("OldDownFirst", [(2, None), (2, 2)], ["stable 2"], id="old-down-first-never-above-total"),
    ],
)
def test_the_resize_strategy_orders_a_phases_resizes(
    resize: str, pods_seen: list[tuple[int, int | None]], first_asked: list[str]
) -> None:
    seen, asked = walk({"resizeStrategy": resize})

    assert seen == pods_seen
    assert asked[0] == first_asked


@pytest.mark.parametrize(
    ("resize", "first_asked"),
    [
        pytest.param("Together", ["handover"], id="together-hands-over-at-once"),
        pytest.param("NewFirst", ["canary 4"], id="new-first-moves-the-pods-first"),
        pytest.param("OldDownFirst", ["stable 0"], id="old-down-first-moves-the-pods-first"),
    ],
)
def test_the_resize_strategy_orders_the_promotion(resize: str, first_asked: list[str]) -> None:
    sim = canary_sim(workflow(canary_wire(50, 100, **setup(resizeStrategy=resize))), replicas=4)
    sim.run()
    promoting = sim.decide(DecisionAction.RESUME)
    asked = (
        [f"canary {a.replicas}" for a in actions_of(promoting, EnsureCopy)]
        + [f"stable {a.replicas}" for a in actions_of(promoting, ScaleDeployment)]
        + ["handover" for _ in actions_of(promoting, HandOver)]
    )
    assert asked == first_asked
    assert sim.run().phase is RunPhase.SUCCEEDED
    assert pods(sim) == (4, None) and len(sim.cluster.changes) == 1


@pytest.mark.parametrize(
    ("resize", "first", "then"),
    [
        pytest.param("NewFirst", "stable 4", "canary removed", id="new-first-stable-back-first"),
        pytest.param("OldDownFirst", "canary removed", "stable 4", id="old-down-first-canary-goes-first"),
    ],
)
def test_a_rollback_resizes_in_the_same_order(resize: str, first: str, then: str) -> None:
    wire = canary_wire(50, 100, failureStrategies=[strategy("Rollback")], **setup(resizeStrategy=resize))
    sim = canary_sim(workflow(wire), replicas=4)
    sim.run()
    planned = len(sim.plans)
    sim.decide(DecisionAction.ROLLBACK)

    assert sim.run().phase is RunPhase.ROLLED_BACK

    asked = [
        [f"stable {a.replicas}" for a in actions_of(p, ScaleDeployment)]
        + ["canary removed" for _ in actions_of(p, DeleteDeployment)]
        for p in sim.plans[planned:]
    ]
    assert asked[0] == [first], asked
    assert then in next(a for a in asked if a != asked[0]), asked
    assert pods(sim) == (4, None)


@pytest.mark.parametrize(
    ("resize", "stable_grows", "canary_grows", "stable_ready", "canary_ready", "now"),
    [
        pytest.param(ResizeStrategy.TOGETHER, False, True, False, False, (True, True), id="together"),
        pytest.param(ResizeStrategy.NEW_FIRST, False, True, False, False, (False, True), id="new-first-canary-up"),
        pytest.param(ResizeStrategy.NEW_FIRST, False, True, False, True, (True, True), id="new-first-canary-ready"),
        pytest.param(ResizeStrategy.NEW_FIRST, True, False, False, False, (True, False), id="new-first-back-stable-up"),
        pytest.param(ResizeStrategy.NEW_FIRST, True, False, True, False, (True, True), id="new-first-back-ready"),
        pytest.param(ResizeStrategy.OLD_DOWN_FIRST, False, True, False, False, (True, False), id="old-first-stable"),
        pytest.param(ResizeStrategy.OLD_DOWN_FIRST, False, True, True, False, (True, True), id="old-first-stable-done"),
        pytest.param(ResizeStrategy.OLD_DOWN_FIRST, True, False, False, False, (False, True), id="old-first-back"),
        pytest.param(ResizeStrategy.NEW_FIRST, False, False, False, False, (True, True), id="nothing-moves-apart"),
    ],
)
def test_resize_now(
    resize: ResizeStrategy,
    stable_grows: bool,
    canary_grows: bool,
    stable_ready: bool,
    canary_ready: bool,
    now: tuple[bool, bool],
) -> None:
    assert (
        resize_now(
            resize,
            stable_grows=stable_grows,
            canary_grows=canary_grows,
            stable_ready=stable_ready,
            canary_ready=canary_ready,
        )
        == now
    )


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"instances": "Fixed"}, id="fixed-without-count"),
        pytest.param({"fixedCount": 3}, id="count-without-fixed"),
        pytest.param({"instances": "Fixed", "fixedCount": 0}, id="zero"),
        pytest.param({"resizeStrategy": "Sideways"}, id="unknown-strategy"),
    ],
)
def test_an_unusable_setup_is_refused_at_its_field(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec("Workflow", canary_wire(50, 100, **setup(**fields)))

    assert any(e.path.startswith("spec.canary.setup") for e in raised.value.errors), raised.value.errors
