"""Every write the operator makes carries the field manager `convoy`, so the managedFields that GitOps tools read
(and docs/gitops.md describes) say which fields Convoy owns and which are git's."""

from __future__ import annotations

from typing import Any

import pytest
from harness import Operator, Runs
from test_build_outputs import build
from test_canary import canary_spec, web10
from test_workflowruns import run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e

__all__ = ["web10"]  # the fixture, imported for pytest

# Whoever else writes in a test namespace: the test itself (kubectl apply, the Python client's decisions) and the
# cluster's own controllers. A write of the operator's without a field manager would show up as the asyncio
# client's default, "OpenAPI-Generator", which the tests' Python client never uses on these objects.
CLUSTER = {"kube-controller-manager", "kube-scheduler", "kwok"}
TEST = {"kubectl-client-side-apply", "kubectl"}


def managers(obj: dict[str, Any]) -> dict[str, set[str]]:
    """Manager -> the top-level fields (and subresource) it owns."""
    found: dict[str, set[str]] = {}
    for entry in obj["metadata"].get("managedFields") or []:
        fields = {key for key in (entry.get("fieldsV1") or {}) if key.startswith("f:")}
        owned = found.setdefault(entry["manager"], set())
        owned |= {f"{entry.get('subresource', '')}/{key}" for key in fields}
    return found


def deployment(runs: Runs, name: str) -> dict[str, Any]:
    found: dict[str, Any] = runs.apps.api_client.sanitize_for_serialization(runs.deployment(name))
    return found


def test_a_canary_writes_as_convoy_and_nobody_else(convoy: Operator, runs: Runs, web10: None) -> None:
    # given a replica canary and a build job, run to their ends
    runs.apply(workflow("web", canary_spec(50, 100)))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    wait_for(lambda: runs.status("web-2").get("phase") == "Paused", 60, 0.3, "web-2 did not pause at 50%")
    canary = deployment(runs, "web-canary")
    runs.decide("web-2", {"action": "Resume"})
    runs.apply(workflow("build", build("image=registry.example/web:2.0", "image")))
    runs.apply(run("build-1", "build"))
    assert runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)["phase"] == "Succeeded"
    assert runs.wait_phase("build-1", "Succeeded", "Failed", "RolledBack", "Aborted")["phase"] == "Succeeded"

    # then the promoted Deployment's template and replicas are Convoy's, git's apply keeps the rest
    stable = managers(deployment(runs, "web"))
    assert set(stable) <= CLUSTER | TEST | {"convoy"}, stable
    assert {"/f:spec"} <= stable["convoy"]
    # the canary copy was created and scaled by Convoy alone
    assert set(managers(canary)) <= CLUSTER | {"convoy"}, managers(canary)
    # the runs' status is written by Convoy
    for name in ("web-2", "build-1"):
        written = managers(runs.get("workflowruns", name))
        assert "status/f:status" in written["convoy"], written
        assert set(written) <= TEST | {"convoy", "OpenAPI-Generator"}, written
        assert not any(f.startswith("status/") for f in written.get("OpenAPI-Generator", set())), written
    # the build's Job and the runs' Events were created by Convoy
    jobs = runs.batch.list_namespaced_job(runs.namespace, label_selector="convoy.dev/run=build-1")
    job_managers = [managers(runs.batch.api_client.sanitize_for_serialization(j)) for j in jobs.items]
    assert job_managers and all(set(m) <= CLUSTER | {"convoy"} and "convoy" in m for m in job_managers), job_managers
    events = [runs.core.api_client.sanitize_for_serialization(e) for e in runs.events("web-2")]
    assert events and all(set(managers(e)) == {"convoy"} for e in events), [managers(e) for e in events]
