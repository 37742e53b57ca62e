"""Per-phase rollback sizing: each phase's share of what was deployed, applied to what runs now, rounded; the last
rollback phase takes the rest. The first row is the reference's own example."""

from __future__ import annotations

from itertools import pairwise

import pytest

from convoy.planner.canary import split
from convoy.planner.rollback_sizing import rollback_sizes


@pytest.mark.parametrize(
    ("deployed", "running", "sizes"),
    [
        # 8 instances by a 10/20/30/40 canary (1, 2, 2, 3), 15 running: 5.625 -> 6, 3.75 -> 4, 3.75 -> 4, rest 1
        pytest.param([1, 2, 2, 3], 15, [6, 4, 4, 1], id="reference-8-deployed-15-running"),
        pytest.param([1, 2, 2, 3], 8, [3, 2, 2, 1], id="nothing-changed-since"),
        pytest.param([1, 2, 2, 3], 4, [2, 1, 1, 0], id="scaled-in-since"),
        pytest.param([1, 2, 2, 3], 0, [0, 0, 0, 0], id="nothing-running"),
        pytest.param([5], 9, [9], id="one-phase-takes-everything"),
        pytest.param([1, 1], 3, [2, 1], id="half-rounds-up"),
        pytest.param([0, 4], 6, [6, 0], id="a-phase-that-deployed-nothing"),
        pytest.param([0, 0], 5, [0, 5], id="nothing-deployed-the-last-takes-the-rest"),
        pytest.param([1, 1, 1, 1], 2, [1, 1, 0, 0], id="never-more-than-is-left"),
        pytest.param([1, 1, 1], 1, [0, 0, 1], id="small-shares-round-down"),
        pytest.param([], 7, [], id="no-phases"),
    ],
)
def test_rollback_sizes(deployed: list[int], running: int, sizes: list[int]) -> None:
    assert rollback_sizes(deployed, running) == sizes
    if deployed:
        assert sum(sizes) == running, "every running instance is rolled back by some phase"


@pytest.mark.parametrize("total", [pytest.param(n, id=f"total-{n}") for n in (1, 3, 4, 7, 10, 15)])
@pytest.mark.parametrize(
    "weights",
    [
        pytest.param((10, 30, 60), id="10-30-60"),
        pytest.param((10, 20, 30, 40), id="10-20-30-40"),
        pytest.param((25, 50, 75), id="25-50-75"),
        pytest.param((5,), id="5"),
    ],
)
def test_stepping_a_canary_back_gives_back_what_the_sizing_says(total: int, weights: tuple[int, ...]) -> None:
    """A canary in flight runs exactly what it deployed, so the reference's arithmetic gives back, per rollback
    phase, the pods that phase added, which is what stepping back to the previous weight removes."""
    canary = [split(total, w)[1] for w in (0, *weights)]
    added = [after - before for before, after in pairwise(canary)]
    stepped_back = [canary[i + 1] - canary[i] for i in reversed(range(len(weights)))]
    assert rollback_sizes(added, canary[-1]) == stepped_back
