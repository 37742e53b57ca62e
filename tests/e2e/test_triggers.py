"""GitOps trigger: changing the target Deployment's pod template, as an Argo CD or Flux sync would, starts a
run by itself; Convoy's own changes do not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import Operator, Runs, deployment_manifest, kubectl
from test_workflowruns import available, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e


def triggered_canary() -> dict[str, Any]:
    return {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": "${workflow.variables.image}"},
        "variables": [{"name": "image", "required": True}],
        "triggers": [{"source": "PodTemplate", "imageVariable": "image"}],
        "phases": [
            {"name": "half", "weight": 50, "steps": [{"name": "shift", "deploy": {}}]},
            {"name": "full", "weight": 100, "steps": [{"name": "promote", "deploy": {}}]},
        ],
    }


def triggered_runs(runs: Runs) -> list[dict[str, Any]]:
    found: dict[str, Any] = runs.custom.api_client.sanitize_for_serialization(
        runs.custom.list_namespaced_custom_object(
            "convoy.dev", "v1alpha1", runs.namespace, "workflowruns", label_selector="convoy.dev/trigger=PodTemplate"
        )
    )
    return list(found["items"])


def test_a_pod_template_change_from_git_starts_a_canary(convoy: Operator, runs: Runs) -> None:
    # given a Deployment at v1 and a Canary workflow that watches it
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", replicas=4))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")
    runs.apply(workflow("web", triggered_canary()))
    # the target now waits paused for changes, and nothing has started
    wait_for(lambda: runs.deployment("web").spec.paused is True, 30, message="the target was not paused")
    wait_for(lambda: "convoy.dev/template-hash" in (runs.deployment("web").metadata.annotations or {}), 30)
    assert triggered_runs(runs) == []
    # when a GitOps sync changes the image
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "registry.example/web:2.0"}]}}}}
    kubectl(runs.kubeconfig, "-n", runs.namespace, "patch", "deployment", "web", "-p", json.dumps(patch))
    # then a run starts by itself with the new image, and the change did not roll out on its own
    started = wait_for(lambda: triggered_runs(runs), 30, message="no run was started")
    assert len(started) == 1
    name = started[0]["metadata"]["name"]
    assert started[0]["spec"]["variables"] == {"image": "registry.example/web:2.0"}
    status = runs.wait_phase(name, "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)
    assert status["phase"] == "Succeeded"
    wait_for(lambda: available(runs, "web", "registry.example/web:2.0"), 60, message="stable not promoted")
    wait_for(lambda: runs.deployment("web").spec.paused is True, 30, message="not paused again after the run")
    # and Convoy's own promotion did not start another run
    assert len(triggered_runs(runs)) == 1
