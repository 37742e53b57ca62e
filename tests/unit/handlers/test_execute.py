"""A permanent refusal fails a step only once it has lasted: an API server that has just started answers 403 to
everyone until its RBAC caches are loaded (the chaos test met it), and that must not roll a run back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from convoy.adapters import kube
from convoy.api.steps import ErrorKind
from convoy.handlers import execute

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def forbidden(resource: str = "deployments") -> kube.ApiError:
    return kube.ApiError(403, "Forbidden", '{"message": "RBAC: not found"}', "patch", resource, None)


@pytest.mark.parametrize(
    ("seconds", "counts"),
    [
        pytest.param([0], [False], id="first-refusal-is-tried-again"),
        pytest.param([0, 1, 3], [False, False, False], id="within-five-seconds"),
        pytest.param([0, 1, 3, 8], [False, False, False, True], id="lasted-fails-the-step"),
        pytest.param([0, 8, 9], [False, True, False], id="counted-once-then-anew"),
        pytest.param([0, 200], [False, False], id="forgotten-when-old"),
    ],
)
def test_a_refusal_counts_once_it_has_lasted(
    monkeypatch: pytest.MonkeyPatch, seconds: list[int], counts: list[bool]
) -> None:
    monkeypatch.setattr(execute, "_first_refused", {})
    found = []
    for s in seconds:
        monkeypatch.setattr(execute, "_now", lambda s=s: T0 + timedelta(seconds=s))
        refusal = execute.lasting_refusal("uid-1", forbidden())
        found.append(refusal is not None)
        assert refusal is None or refusal.error is ErrorKind.FORBIDDEN
    assert found == counts


def test_refusals_of_other_calls_and_runs_are_timed_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute, "_first_refused", {})
    monkeypatch.setattr(execute, "_now", lambda: T0)
    assert execute.lasting_refusal("uid-1", forbidden()) is None
    monkeypatch.setattr(execute, "_now", lambda: T0 + timedelta(seconds=6))
    assert execute.lasting_refusal("uid-2", forbidden()) is None
    assert execute.lasting_refusal("uid-1", forbidden("services")) is None
    assert execute.lasting_refusal("uid-1", forbidden()) is not None


def test_a_conflict_is_never_permanent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute, "_first_refused", {})
    for s in (0, 10):
        monkeypatch.setattr(execute, "_now", lambda s=s: T0 + timedelta(seconds=s))
        assert execute.lasting_refusal("uid-1", kube.ApiError(409, "Conflict", "", "patch", "x", None)) is None
