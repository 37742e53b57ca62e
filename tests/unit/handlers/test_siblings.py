"""The index of stage runs by PipelineRun: who is woken when a sibling changes."""

from __future__ import annotations

from typing import Any

from convoy.handlers.siblings import SiblingIndex, parent_of


def run(name: str, namespace: str, phase: str, parent: dict[str, str] | None = None) -> dict[str, Any]:
    spec = {"pipelineRunRef": {"stage": name, **parent}} if parent else {}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec, "status": {"phase": phase}}


PARENT = {"name": "rel-1", "namespace": "shop"}


def test_parent_of() -> None:
    assert parent_of(run("a", "region1", "Running", PARENT)) == ("shop", "rel-1")
    assert parent_of(run("a", "shop", "Running", {"name": "rel-1"})) == ("shop", "rel-1")
    assert parent_of(run("a", "shop", "Running")) is None


def test_runs_waiting_at_a_barrier_are_found_by_their_pipeline_run() -> None:
    index = SiblingIndex()
    assert index.observe(run("a", "region1", "WaitingAtBarrier", PARENT)) == ("shop", "rel-1")
    index.observe(run("b", "region2", "Running", PARENT))
    index.observe(run("c", "shop", "WaitingAtBarrier", {"name": "rel-2", "namespace": "shop"}))
    assert index.observe(run("d", "shop", "WaitingAtBarrier")) is None
    assert index.at_barrier(("shop", "rel-1")) == [("region1", "a")]
    assert index.at_barrier(("shop", "rel-1"), besides=("region1", "a")) == []
    index.observe(run("b", "region2", "WaitingAtBarrier", PARENT))
    assert sorted(index.at_barrier(("shop", "rel-1"))) == [("region1", "a"), ("region2", "b")]


def test_a_deleted_run_is_forgotten_and_so_is_an_empty_family() -> None:
    index = SiblingIndex()
    index.observe(run("a", "region1", "WaitingAtBarrier", PARENT))
    assert index.observe(run("a", "region1", "WaitingAtBarrier", PARENT), deleted=True) == ("shop", "rel-1")
    assert index.at_barrier(("shop", "rel-1")) == []
    assert index.phases == {}
