"""docs/argocd-health.lua, run as Argo CD runs it (tests/unit/argocd_health.py), against the live objects of real
runs in each state Argo CD shows: Progressing (running), Suspended (paused, waiting for an approval), Healthy
(succeeded; an accepted Workflow or Pipeline) and Degraded (failed). Argo CD itself cannot be built here; its
health script can. Written given / when / then."""

from __future__ import annotations

import sys
from typing import Any, cast

import manifests
import pytest
import yaml
from harness import GROUP, ROOT, VERSION, Operator, Runs
from manifests import build_workflow, pipeline, pipeline_run, workflow_run
from waiting import wait_for

sys.path.insert(0, str(ROOT / "tests" / "unit"))
from argocd_health import health

pytestmark = pytest.mark.e2e


def live(runs: Runs, plural: str, name: str) -> dict[str, Any]:
    return cast(dict[str, Any], runs.custom.get_namespaced_custom_object(GROUP, VERSION, runs.namespace, plural, name))


def in_phase(runs: Runs, name: str, phase: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = live(runs, "workflowruns", name)
        return obj if (obj.get("status") or {}).get("phase") == phase else None

    return wait_for(reached, 60, 0.2, f"{name} did not reach {phase}")


def test_argo_cd_health_of_live_runs(convoy: Operator, runs: Runs) -> None:
    # given a Build workflow, one that pauses and one that asks for an approval
    work = manifests.job("work", fails=False)
    held = {"type": "Build", "phases": [{"name": "hold", "steps": [{"name": "hold", "pause": {}}, work]}]}
    gated = {"type": "Build", "phases": [{"name": "gate", "steps": [{"name": "ok", "approval": {}}, work]}]}
    workflows = [
        build_workflow(),
        manifests.convoy("Workflow", "held", held),
        manifests.convoy("Workflow", "gated", gated),
    ]
    runs.apply(yaml.safe_dump_all(workflows))
    # when runs of them start, succeed, fail, pause and wait for an approval
    runs.apply(yaml.safe_dump_all([
        workflow_run("slow", seconds="60s"), workflow_run("ok", seconds="1s"), workflow_run("bad", fail="true"),
        workflow_run("paused", "held"), workflow_run("approval", "gated"),
    ]))  # fmt: skip
    # then Argo CD would show each as its state says
    expected = [
        ("slow", "Running", "Progressing"),
        ("paused", "Paused", "Suspended"),
        ("approval", "WaitingForApproval", "Suspended"),
        ("ok", "Succeeded", "Healthy"),
        ("bad", "Aborted", "Degraded"),
    ]
    for name, phase, shown in expected:
        assert health(in_phase(runs, name, phase))["status"] == shown, name
    wait_for(lambda: (live(runs, "workflows", "work").get("status") or {}).get("conditions"), 30)
    assert health(live(runs, "workflows", "work")) == {"status": "Healthy", "message": "Workflow accepted"}


def test_argo_cd_health_of_a_live_pipeline_run(convoy: Operator, runs: Runs) -> None:
    # given a Pipeline of two stages
    runs.apply(yaml.safe_dump_all([build_workflow(), pipeline()]))
    # when a run of it starts
    runs.apply(yaml.safe_dump(pipeline_run("release-1")))

    # then Argo CD would show it progressing, then healthy once it succeeded, and the Pipeline healthy
    def phase() -> str | None:
        return (live(runs, "pipelineruns", "release-1").get("status") or {}).get("phase")

    wait_for(lambda: phase() == "Running", 30, 0.2, "release-1 did not start")
    assert health(live(runs, "pipelineruns", "release-1"))["status"] == "Progressing"
    wait_for(lambda: phase() == "Succeeded", 90, 0.3, "release-1 did not succeed")
    assert health(live(runs, "pipelineruns", "release-1"))["status"] == "Healthy"
    assert health(live(runs, "pipelines", "release")) == {"status": "Healthy", "message": "Pipeline accepted"}
