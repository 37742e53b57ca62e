"""A Prometheus check's result: a scalar, or every series of a vector, each judged; a failing series is named."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters.measure import judge_result
from convoy.planner.observed import Outcome


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"resultType": "vector", "result": [{"metric": m, "value": [1700000000, v]} for m, v in series]}


@pytest.mark.parametrize(
    ("data", "outcome", "message"),
    [
        pytest.param({"resultType": "scalar", "result": [1, "0.01"]}, Outcome.SUCCESS, "result 0.01, result < 0.05", id="scalar"),
        pytest.param(vector(({}, "0.01")), Outcome.SUCCESS, "result 0.01, result < 0.05", id="one-series-no-labels"),
        pytest.param(
            vector(({"pod": "a"}, "0.09")), Outcome.FAILURE, '{pod="a"} result 0.09, result < 0.05', id="one-series-labels"
        ),
        pytest.param(
            vector(({"pod": "a"}, "0.01"), ({"pod": "b"}, "0.02")),
            Outcome.SUCCESS, 'all 2 series pass result < 0.05 (highest {pod="b"} 0.02)', id="every-series-passes",
        ),
        pytest.param(
            vector(({"pod": "a"}, "0.01"), ({"pod": "b"}, "0.09")),
            Outcome.FAILURE, '1 of 2 series fail result < 0.05: {pod="b"} 0.09', id="second-series-fails",
        ),
        pytest.param(
            vector(*[({"__name__": "errors", "pod": p}, "0.5") for p in "abcde"]),
            Outcome.FAILURE,
            '5 of 5 series fail result < 0.05: errors{pod="a"} 0.5, errors{pod="b"} 0.5, errors{pod="c"} 0.5 and 2 more',
            id="many-failing-series-counted",
        ),
        pytest.param(
            vector(({"pod": "a"}, "0.01"), ({"pod": "b"}, "NaN")),
            Outcome.INCONCLUSIVE, '1 of 2 series are NaN for result < 0.05: {pod="b"} nan', id="a-nan-series",
        ),
        pytest.param(
            vector(({"pod": "a"}, "NaN"), ({"pod": "b"}, "0.5")),
            Outcome.FAILURE, '1 of 2 series fail result < 0.05: {pod="b"} 0.5', id="a-failure-wins-over-nan",
        ),
        pytest.param(vector(), Outcome.INCONCLUSIVE, "the query returned no sample", id="empty"),
        pytest.param(
            {"resultType": "matrix", "result": []},
            Outcome.FAILURE, "the query returned a matrix: write one that returns an instant vector", id="matrix",
        ),
    ],
)  # fmt: skip
def test_every_series_is_judged(data: dict[str, Any], outcome: Outcome, message: str) -> None:
    measured = judge_result(data, "result < 0.05")

    assert (measured.outcome, measured.message) == (outcome, message)
