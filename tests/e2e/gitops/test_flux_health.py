"""Flux's health assessment of Convoy's runs: a Kustomization with `wait: true` waits for a WorkflowRun committed
to git, and reports it healthy once it succeeded and failed once it failed. Flux reads Convoy's conditions
(`Ready`, `Reconciling`, `Stalled`) and `status.observedGeneration`, with the `healthCheckExprs` docs/gitops.md
gives. Written given / when / then."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from flux import Sync, ready
from harness import GROUP, VERSION, Operator, Runs
from manifests import build_workflow, workflow_run
from waiting import wait_for

pytestmark = pytest.mark.e2e


# What docs/gitops.md tells Flux users to set: kstatus alone counts a run that Convoy has not yet given a status
# as healthy (no conditions, no observedGeneration), so Flux passed a new run's health check before it had started.
# These expressions need Convoy's own conditions; while the status is missing they fail to evaluate, and Flux
# keeps waiting.
HEALTH_EXPRS = [
    {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": kind,
        "current": "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
        "failed": "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')",
    }
    for kind in ("WorkflowRun", "PipelineRun", "Rollback")
]


def health_checked(gitops: Sync, revision: str) -> dict[str, Any] | None:
    """The Kustomization's Ready condition once Flux finished checking `revision`'s health (True or False)."""
    status = gitops.status()
    condition = ready(status) or {}
    checked = status.get("lastAttemptedRevision") == revision and condition.get("status") in ("True", "False")
    return condition if checked else None


def phase(runs: Runs, name: str) -> str | None:
    listed = runs.custom.list_namespaced_custom_object(GROUP, VERSION, runs.namespace, "workflowruns")
    found = cast(dict[str, Any], listed)["items"]
    return next(((r.get("status") or {}).get("phase") for r in found if r["metadata"]["name"] == name), None)


def running_while_flux_waits(gitops: Sync, runs: Runs, revision: str) -> None:
    """While the run is in progress, Flux shows its health check of the revision running, not finished."""
    wait_for(lambda: phase(runs, "build-1") == "Running", 60, message="build-1 did not start")
    assert health_checked(gitops, revision) is None, f"Flux did not wait for the running run: {gitops.status()}"

    def checking() -> bool:
        conditions = {c["type"]: c for c in gitops.status().get("conditions", [])}
        reconciling = conditions.get("Reconciling", {})
        return bool(
            conditions.get("Ready", {}).get("status") == "Unknown"
            and reconciling.get("status") == "True"
            and reconciling.get("message", "").startswith(f"Running health checks for revision {revision}")
        )

    wait_for(checking, 5, 0.2, f"Flux does not show its health check running: {gitops.status()}")
    assert phase(runs, "build-1") == "Running"


def test_flux_waits_for_a_run_and_reports_it_healthy(convoy: Operator, runs: Runs, gitops: Sync) -> None:
    # given a Kustomization that waits for the health of what it applies
    gitops.start(wait=True, healthCheckExprs=HEALTH_EXPRS)
    # when a commit adds a Workflow and a run of it
    revision = gitops.repo.commit("build", {"work.yaml": [build_workflow(), workflow_run("build-1")]})
    # then Flux waits while the run runs, and reports the revision healthy once it succeeded
    running_while_flux_waits(gitops, runs, revision)
    condition = wait_for(lambda: health_checked(gitops, revision), 90, 0.5, "Flux did not finish its health check")
    assert runs.status("build-1")["phase"] == "Succeeded"
    assert condition["status"] == "True", condition
    assert gitops.status()["lastAppliedRevision"] == revision


def test_flux_reports_a_failed_run_as_failed(convoy: Operator, runs: Runs, gitops: Sync) -> None:
    # given a Kustomization that waits for the health of what it applies
    gitops.start(wait=True, healthCheckExprs=HEALTH_EXPRS)
    # when a commit adds a run that fails (after its first Job)
    revision = gitops.repo.commit("build", {"work.yaml": [build_workflow(), workflow_run("build-1", fail="true")]})
    # then Flux reports the health check failed, naming the run, well before its 60 s timeout
    started = time.monotonic()
    condition = wait_for(lambda: health_checked(gitops, revision), 90, 0.5, "Flux did not finish its health check")
    assert time.monotonic() - started < 45, "Flux waited for its timeout instead of seeing the run fail"
    assert condition["status"] == "False", condition
    assert phase(runs, "build-1") in ("Failed", "RolledBack", "Aborted"), condition
    assert condition["reason"] == "HealthCheckFailed", condition
    assert "WorkflowRun/" in condition["message"] and "build-1" in condition["message"], condition
    assert "Failed" in condition["message"], condition
