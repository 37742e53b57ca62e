"""A canary whose target a HorizontalPodAutoscaler scales, on the real cluster (issue 12, item 8). The local cluster
runs the HPA controller but no metrics-server: an HPA without metrics still enforces its minReplicas and maxReplicas,
so the tests use the bounds: minReplicas 4 sizes the service (the Deployment asks for 2), and the same minimum
would scale a 50% stable of 2 back to 4 while the canary holds, unless the canary narrows the HPA to the stable's
share. Written given / when / then."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest
from kubernetes import client
from test_canary import paused_in
from test_workflowruns import available, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
RUN_FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
HPA_SYNC = 15  # seconds: kube-controller-manager's --horizontal-pod-autoscaler-sync-period default
ORIGINAL = "convoy.dev/autoscaler-bounds"


def image(version: str) -> str:
    return f"registry.example/web:{version}"


def hpa(runs: Runs) -> dict[str, Any]:
    autoscaling = client.AutoscalingV2Api(runs.apps.api_client)
    found = autoscaling.read_namespaced_horizontal_pod_autoscaler("web", runs.namespace)
    body: dict[str, Any] = runs.apps.api_client.sanitize_for_serialization(found)
    return body


def bounds(runs: Runs) -> tuple[int, int, Any]:
    """The HPA's minReplicas, maxReplicas and the original bounds Convoy keeps on it (None: none)."""
    body = hpa(runs)
    kept = (body["metadata"].get("annotations") or {}).get(ORIGINAL)
    return body["spec"]["minReplicas"], body["spec"]["maxReplicas"], json.loads(kept) if kept else None


def replicas(runs: Runs, name: str) -> int | None:
    found = runs.apps.list_namespaced_deployment(runs.namespace, field_selector=f"metadata.name={name}")
    items: list[dict[str, Any]] = runs.apps.api_client.sanitize_for_serialization(found)["items"]
    return int(items[0]["spec"]["replicas"]) if items else None


@pytest.fixture
def web_hpa(runs: Runs) -> None:
    """Given a Deployment 'web' at 1.0 that asks for 2 pods, and an HPA on it with bounds 4..8, which (without
    metrics) scales it to its minimum, 4."""
    runs.apply(deployment_manifest("web", image("1.0"), replicas=2))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}  # fmt: skip
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 4,
            "maxReplicas": 8,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        },
    }
    runs.apply(yaml.safe_dump_all([service, autoscaler]))
    wait_for(
        lambda: replicas(runs, "web") == 4 and available(runs, "web", image("1.0")),
        90,
        0.5,
        "the HPA did not scale web to its minimum of 4",
    )


def canary_50() -> dict[str, Any]:
    return {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": [
            {
                "name": "canary-50",
                "weight": 50,
                "steps": [{"name": "set-weight", "deploy": {}}, {"name": "hold", "pause": {}}],
            },
            {"name": "canary-100", "weight": 100, "steps": [{"name": "set-weight", "deploy": {}}]},
        ],
    }


def held_at_half(runs: Runs) -> None:
    """The run holds at 50%: 2 stable and 2 canary pods of the HPA's 4, the HPA narrowed to the stable's share,
    and the split holds across more than one HPA sync."""
    status = paused_in(runs, "web-2", "canary-50")
    assert status["canary"] == {"total": 4, "stable": 2, "canary": 2}
    recorded = status["autoscaler"]
    assert (recorded["name"], recorded["minReplicas"], recorded["maxReplicas"]) == ("web", 4, 8)
    assert bounds(runs) == (2, 4, {"minReplicas": 4, "maxReplicas": 8})
    deadline = time.monotonic() + HPA_SYNC + 10
    while time.monotonic() < deadline:
        assert (replicas(runs, "web"), replicas(runs, "web-canary")) == (2, 2), "the HPA fought the split"
        time.sleep(1)
    assert hpa(runs)["status"].get("currentReplicas") == 2, "the HPA has seen the stable at 2 and left it there"


def test_an_hpa_scaled_canary_that_rolls_back_gives_the_hpa_its_bounds_back(
    convoy: Operator, runs: Runs, web_hpa: None
) -> None:
    # given a canary held at 50% of the 4 pods the HPA keeps
    runs.apply(workflow("web", canary_50()))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    held_at_half(runs)
    # when it is rolled back
    rollback = {"apiVersion": "convoy.dev/v1alpha1", "kind": "Rollback", "metadata": {"name": "web-2-back"}, "spec": {"workflowRunRef": {"name": "web-2"}}}  # fmt: skip
    runs.apply(yaml.safe_dump(rollback))
    status = runs.wait_phase("web-2-back", "Succeeded", "Failed", "Refused", plural="rollbacks", timeout=90)
    # then phase 1 gave its 2 instances back, the stable runs all 4 again, and the HPA has its bounds back
    assert status["phase"] == "Succeeded", status.get("message")
    assert [(p["name"], p["instances"], p["pods"]) for p in status["phases"]] == [
        ("canary-50", 2, {"total": 4, "stable": 4, "canary": 0})
    ]
    wait_for(lambda: replicas(runs, "web-canary") is None, 30, message="the canary was not removed")
    wait_for(lambda: available(runs, "web", image("1.0")), 60, message="web 1.0 not available")
    assert replicas(runs, "web") == 4
    assert bounds(runs) == (4, 8, None)


def test_an_hpa_scaled_canary_that_promotes_gives_the_hpa_its_bounds_back(
    convoy: Operator, runs: Runs, web_hpa: None
) -> None:
    # given a canary held at 50% of the 4 pods the HPA keeps
    runs.apply(workflow("web", canary_50()))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    held_at_half(runs)
    # when it is resumed and promotes
    runs.decide("web-2", {"action": "Resume"})
    status = runs.wait_phase("web-2", *RUN_FINAL, timeout=90)
    # then the stable runs the new version on all 4 pods, and the HPA has its bounds back
    assert status["phase"] == "Succeeded", status.get("message")
    wait_for(lambda: available(runs, "web", image("2.0")), 60, message="web 2.0 not available")
    assert (replicas(runs, "web"), replicas(runs, "web-canary")) == (4, None)
    assert bounds(runs) == (4, 8, None)
