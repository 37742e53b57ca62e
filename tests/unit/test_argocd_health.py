"""docs/argocd-health.lua, run as Argo CD runs it: against statuses recorded from real runs (data/argocd_health/,
taken from the objects tests/e2e/gitops/test_argocd_health_live.py checks live), for every phase of every kind
the API defines, and as pasted into docs/gitops.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from argocd_health import SCRIPT, health

from convoy.api.pipeline import PipelinePhase
from convoy.api.resources import KINDS
from convoy.api.rollback import RollbackPhase
from convoy.api.workflowrun import RunPhase

RECORDED = sorted((Path(__file__).parent / "data" / "argocd_health").glob("*.json"))
DOC = Path(__file__).resolve().parents[2] / "docs" / "gitops.md"

SUSPENDED = {"Paused", "WaitingForApproval", "WaitingAtBarrier", "WaitingForIntervention"}
DEGRADED = {"Failed", "RollingBack", "RolledBack", "Aborted", "Refused"}


def obj(kind: str, status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "team", "generation": generation},
    }
    if status is not None:
        body["status"] = status
    return body


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_statuses_of_real_runs(path: Path) -> None:
    recorded = json.loads(path.read_text())
    assert health(recorded["object"]) == recorded["health"]


def test_the_recordings_cover_every_health_status() -> None:
    shown = {json.loads(p.read_text())["health"]["status"] for p in RECORDED}
    assert shown == {"Healthy", "Progressing", "Degraded", "Suspended"}


def expected(phase: str) -> str:
    if phase == "Succeeded":
        return "Healthy"
    if phase in SUSPENDED:
        return "Suspended"
    return "Degraded" if phase in DEGRADED else "Progressing"


PHASES = [(k, p) for k, e in (("WorkflowRun", RunPhase), ("PipelineRun", PipelinePhase), ("Rollback", RollbackPhase))
          for p in e]  # fmt: skip


@pytest.mark.parametrize(("kind", "phase"), PHASES, ids=[f"{k}-{p.value}" for k, p in PHASES])
def test_every_phase_of_every_run_kind(kind: str, phase: str) -> None:
    result = health(obj(kind, {"phase": str(phase), "observedGeneration": 1, "message": "why"}))
    assert result == {"status": expected(str(phase)), "message": f"{phase}: why"}


def test_every_kind_has_a_health() -> None:
    ready = {
        "phase": "Succeeded",
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "message": "accepted"}],
    }
    for kind in KINDS:
        assert health(obj(kind.kind, ready if kind.status is not None else None))["status"] == "Healthy", kind.kind


def test_a_refused_definition_is_degraded() -> None:
    refused = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False", "message": "bad spec"}]}
    assert health(obj("Workflow", refused)) == {"status": "Degraded", "message": "bad spec"}


@pytest.mark.parametrize("kind", ["Workflow", "Pipeline", "WorkflowRun", "PipelineRun", "Rollback"])
def test_no_status_yet_is_progressing(kind: str) -> None:
    assert health(obj(kind, None))["status"] == "Progressing"


def test_a_decision_not_yet_observed_is_progressing() -> None:
    paused = {"phase": "Paused", "observedGeneration": 2}
    assert health(obj("WorkflowRun", paused, generation=3)) == {
        "status": "Progressing",
        "message": "Waiting for the Convoy operator to observe generation 3",
    }


def test_the_snippet_in_the_docs_is_the_script() -> None:
    block = re.search(r"      health\.lua: \|\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "no health.lua block in docs/gitops.md"
    pasted = "".join(line[10:] if line.strip() else "\n" for line in block.group(1).splitlines(keepends=True))
    assert pasted == SCRIPT.read_text()
