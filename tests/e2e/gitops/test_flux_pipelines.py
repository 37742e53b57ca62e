"""Pipelines from git: a Pipeline and a PipelineRun committed together run to success, and a later commit that adds
a new PipelineRun runs the pipeline again. Written given / when / then."""

from __future__ import annotations

import pytest
from flux import Sync
from harness import Operator, Runs
from manifests import build_workflow, pipeline, pipeline_run

pytestmark = pytest.mark.e2e
FINISHED = ("Succeeded", "Failed", "Aborted")


def test_each_committed_pipeline_run_runs(convoy: Operator, runs: Runs, gitops: Sync) -> None:
    # given Flux syncing a repository
    gitops.start()
    # when a commit adds a Workflow, a Pipeline of it and a PipelineRun
    files = {"work.yaml": build_workflow(), "release.yaml": pipeline()}
    first = gitops.repo.commit("release 1", {**files, "runs/release-1.yaml": pipeline_run("release-1")})
    # then the run succeeds, both stages done
    gitops.applied(first)
    status = runs.wait_phase("release-1", *FINISHED, timeout=120, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    assert status["stagesDone"] == "2/2"
    # when a later commit adds another PipelineRun
    second = gitops.repo.commit("release 2", {"runs/release-2.yaml": pipeline_run("release-2")})
    # then the pipeline runs again, and the first run is left as it was
    gitops.applied(second)
    status = runs.wait_phase("release-2", *FINISHED, timeout=120, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    assert runs.status("release-1", "pipelineruns")["phase"] == "Succeeded"
