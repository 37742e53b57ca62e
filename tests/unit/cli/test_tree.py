"""Golden files of `kubectl convoy get` and `list` for representative states, without colors.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/cli` and review the diff.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from convoy.cli.listing import runs_table
from convoy.cli.output import print_wide
from convoy.cli.pipeline_tree import pipeline_run_tree
from convoy.cli.tree import workflow_run_tree

from . import states
from .states import NOW

GOLDEN = Path(__file__).parent / "golden"


def rendered(renderable: RenderableType, *, wide: bool = False) -> str:
    console = Console(file=io.StringIO(), color_system=None, width=100)
    if wide:
        print_wide(console, renderable)
    else:
        console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{path.name} differs: run with UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.parametrize(
    ("name", "state"),
    [
        pytest.param("canary-30-verifying", states.canary_at_30_verifying, id="canary-30-verifying"),
        pytest.param("approval-waiting", states.approval_waiting, id="approval-waiting"),
        pytest.param("failed-rolled-back", states.failed_and_rolled_back, id="failed-rolled-back"),
        pytest.param("queued", states.queued, id="queued"),
        pytest.param("waiting-for-a-slot", states.waiting_for_a_slot, id="waiting-for-a-slot"),
        pytest.param("intervention", states.waiting_for_intervention, id="intervention"),
    ],
)
def test_workflow_run_tree(name: str, state: Callable[[], states.Body]) -> None:
    assert_golden(name, rendered(workflow_run_tree(state(), NOW)))


def test_pipeline_waiting_at_a_barrier_for_one_region() -> None:
    pipeline_run, runs = states.pipeline_at_barrier()
    assert_golden("pipeline-barrier", rendered(pipeline_run_tree(pipeline_run, {**runs}, NOW)))


def test_pipeline_stage_whose_run_cannot_be_read() -> None:
    pipeline_run, runs = states.pipeline_at_barrier()
    text = rendered(pipeline_run_tree(pipeline_run, {"region1": runs["region1"], "region2": "forbidden"}, NOW))
    assert "workflowrun web-regions-7-region2: forbidden" in text


def test_list_table() -> None:
    runs = [states.canary_at_30_verifying(), states.failed_and_rolled_back(), states.queued()]
    assert_golden("list", rendered(runs_table(runs, NOW, all_namespaces=False), wide=True))
    assert_golden("list-all-namespaces", rendered(runs_table(runs, NOW, all_namespaces=True), wide=True))
