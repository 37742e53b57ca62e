"""The revision history: which runs are deployments, the rolled-back mark, bounded merging, per-phase sizes."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.history import PhaseSize, Revision
from convoy.api.workflowrun import RunResult
from convoy.planner.history import RunView, entry, merge

from .builders import workflow
from .runs import at, image, run
from .test_canary import canary_wire


def revisions(history: list[Revision]) -> list[tuple[str, str | None, bool]]:
    return [(e.run, e.revision, e.rolled_back is not None) for e in history]


def test_a_run_that_succeeded_is_a_deployment() -> None:
    made = entry(run("web-2", "2.0", before="1.0", finished=7))
    assert made is not None
    assert (made.run, made.revision, made.previous, made.deployed_at) == ("web-2", image("2.0"), image("1.0"), at(7))
    assert made.targets == ["shop/web"]
    assert made.phases == [PhaseSize(name="rollout")]
    assert made.rolled_back is None


@pytest.mark.parametrize(
    "not_a_deployment",
    [
        pytest.param(run("web-2", result=None), id="in-flight"),
        pytest.param(run("web-2", result=RunResult.FAILED), id="failed"),
        pytest.param(run("web-2", result=RunResult.ABORTED), id="aborted"),
        pytest.param(run("web-2", result=RunResult.ROLLED_BACK), id="rolled-back-by-its-failure-strategy"),
        pytest.param(run("web-2", result=None, rolled_back_after=9), id="being-rolled-back-after-success"),
    ],
)
def test_other_runs_are_not_deployments(not_a_deployment: RunView) -> None:
    assert entry(not_a_deployment) is None


def test_a_run_rolled_back_after_it_succeeded_keeps_its_success_time_and_gets_the_mark() -> None:
    made = entry(run("web-2", "2.0", before="1.0", finished=7, result=RunResult.ROLLED_BACK, rolled_back_after=30))
    assert made is not None and made.deployed_at == at(7)
    assert made.rolled_back is not None
    assert (made.rolled_back.at, made.rolled_back.result, made.rolled_back.restored) == (
        at(30),
        RunResult.ROLLED_BACK,
        image("1.0"),
    )
    assert made.rolled_back.requested_by == "oncall"


def test_merge_adds_deployments_in_the_order_they_succeeded() -> None:
    runs = [run("web-3", "3.0", finished=9), run("web-1", "1.0", finished=1), run("web-x", result=RunResult.FAILED)]
    assert revisions(merge([], runs, 10)) == [("web-1", image("1.0"), False), ("web-3", image("3.0"), False)]


def test_merge_is_idempotent_and_keeps_entries_whose_runs_were_deleted() -> None:
    first = merge([], [run("web-1", "1.0", finished=1), run("web-2", "2.0", finished=2)], 10)
    assert merge(first, [run("web-1", "1.0", finished=1), run("web-2", "2.0", finished=2)], 10) == first
    assert merge(first, [], 10) == first


def test_merge_marks_a_deployment_once_it_was_rolled_back() -> None:
    history = merge([], [run("web-1", "1.0", finished=1), run("web-2", "2.0", before="1.0", finished=2)], 10)
    undone = run("web-2", "2.0", before="1.0", finished=2, result=RunResult.ROLLED_BACK, rolled_back_after=8)

    merged = merge(history, [run("web-1", "1.0", finished=1), undone], 10)

    assert revisions(merged) == [("web-1", image("1.0"), False), ("web-2", image("2.0"), True)]
    mark = merged[1].rolled_back
    assert mark is not None and mark.restored == image("1.0")


def test_merge_keeps_the_newest_up_to_the_limit_and_does_not_bring_trimmed_ones_back() -> None:
    runs = [run(f"web-{n}", f"{n}.0", finished=n) for n in range(1, 6)]
    kept = merge([], runs, 3)
    assert [e.run for e in kept] == ["web-3", "web-4", "web-5"]
    assert [e.run for e in merge(kept, runs, 3)] == ["web-3", "web-4", "web-5"]
    assert [e.run for e in merge(kept, [*runs, run("web-6", "6.0", finished=6)], 3)] == ["web-4", "web-5", "web-6"]


def test_a_run_recreated_under_the_same_name_is_another_deployment() -> None:
    history = merge([], [run("web", "1.0", finished=1)], 10)
    assert [e.deployed_at for e in merge(history, [run("web", "2.0", finished=5)], 10)] == [at(1), at(5)]


@pytest.mark.parametrize(
    ("extra", "total", "sizes"),
    [
        pytest.param({}, 10, [(10, 1), (30, 2), (60, 3), (100, 4)], id="replica-split-10"),
        pytest.param({}, 8, [(10, 1), (30, 2), (60, 2), (100, 3)], id="replica-split-8"),
        pytest.param(
            {
                "canary": {
                    "split": "TrafficRoute",
                    "trafficRoute": {"httpRoute": "web", "stableService": "web", "canaryService": "web-canary"},
                }
            },
            10,
            [(10, 1), (30, 2), (60, 3), (100, 4)],
            id="traffic-route-10",
        ),
    ],
)
def test_canary_phases_record_their_weight_and_the_pods_they_added(
    extra: dict[str, Any], total: int, sizes: list[tuple[int, int]]
) -> None:
    wf = workflow(canary_wire(10, 30, 60, 100, **extra))
    made = entry(run("web-2", canary_total=total, wf=wf))
    assert made is not None
    assert [(p.weight, p.pods) for p in made.phases] == sizes
    assert sum(p.pods or 0 for p in made.phases) == total
