"""Finished runs are garbage: which runs of a Workflow go beyond its runHistoryLimit, and when a run's
ttlSecondsAfterFinished is up. The history keeps what a Rollback needs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from convoy.api.common import ObjectRef
from convoy.api.history import Revision
from convoy.api.workflowrun import PipelineRunRef, RunResult, WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.cycle import label_value
from convoy.planner.history import RunView, entry, expires_at, surplus
from convoy.planner.timeutil import parse

from .builders import rolling


def finished(
    name: str, minute: int, result: RunResult | None = RunResult.SUCCEEDED, stage: PipelineRunRef | None = None
) -> RunView:
    at = f"2026-01-01T10:{minute:02d}:00Z"
    status = WorkflowRunStatus(result=result, finished_at=at if result else None, targets=["shop/web"])
    return RunView(name, "shop", WorkflowRunSpec(workflow_ref=ObjectRef(name="web"), pipeline_run_ref=stage), status)


def recorded(*runs: RunView) -> list[Revision]:
    return [e for e in (entry(r) for r in runs) if e is not None]


A, B, C = finished("a", 1), finished("b", 2, RunResult.FAILED), finished("c", 3)
D = finished("d", 4, RunResult.ABORTED)
RUNNING = finished("e", 5, None)


@pytest.mark.parametrize(
    ("runs", "keep", "history", "followed", "deleted"),
    [
        pytest.param([A, B, C, D], 10, recorded(A, C), frozenset(), [], id="under-the-limit"),
        pytest.param([A, B, C, D], 2, recorded(A, C), frozenset(), ["a", "b"], id="oldest-beyond-the-limit"),
        pytest.param([A, B, C, D, RUNNING], 1, recorded(A, C), frozenset(), ["a", "b"], id="keeps-the-newest-success"),
        pytest.param([A, B, C, D], 1, recorded(C), frozenset(), ["b"], id="not-before-history-holds-its-deployment"),
        pytest.param([A, B, C, D], 1, recorded(A, C), frozenset({"b"}), ["a"], id="not-a-run-a-rollback-follows"),
        pytest.param(
            [finished("s", 0, stage=PipelineRunRef(name="p", stage="web")), C, D],
            1,
            recorded(C),
            frozenset(),
            [],
            id="not-a-stage-run",
        ),
    ],
)
def test_runs_beyond_the_history_limit(
    runs: list[RunView], keep: int, history: list[Revision], followed: frozenset[str], deleted: list[str]
) -> None:
    assert [r.name for r in surplus(runs, keep=keep, history=history, followed=followed)] == deleted


@pytest.mark.parametrize(
    ("run_ttl", "workflow_ttl", "result", "after"),
    [
        pytest.param(None, None, RunResult.SUCCEEDED, None, id="kept-by-default"),
        pytest.param(60, None, RunResult.SUCCEEDED, 60, id="the-runs-own"),
        pytest.param(None, 300, RunResult.FAILED, 300, id="the-workflows-default"),
        pytest.param(0, 300, RunResult.SUCCEEDED, 0, id="the-run-wins"),
        pytest.param(60, None, None, None, id="not-while-it-runs"),
    ],
)
def test_when_a_finished_run_expires(
    run_ttl: int | None, workflow_ttl: int | None, result: RunResult | None, after: int | None
) -> None:
    workflow = rolling(ttlSecondsAfterFinished=workflow_ttl) if workflow_ttl is not None else rolling()
    at = "2026-01-01T10:00:00Z"
    status = WorkflowRunStatus(result=result, finished_at=at if result else None, workflow_spec=workflow.to_wire())
    spec = WorkflowRunSpec(workflow_ref=ObjectRef(name="web"), ttl_seconds_after_finished=run_ttl)
    due = expires_at(spec, status)
    assert due == (None if after is None else parse(at) + timedelta(seconds=after))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("web-1", "web-1", id="short-names-as-they-are"),
        pytest.param("r" * 63, "r" * 63, id="63-fits"),
        pytest.param("release-" + "x" * 200, None, id="long-names-hash-shortened"),
    ],
)
def test_run_names_as_label_values(name: str, expected: str | None) -> None:
    value = label_value(name)
    assert len(value) <= 63
    assert value == (expected or value)
    assert value == label_value(name)  # written and selected with the same function
    if expected is None:
        assert value != label_value(name + "y")
