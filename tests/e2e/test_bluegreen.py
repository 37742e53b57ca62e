"""Blue/green on the real cluster: preview before the swap, active after it, the old color kept for
scaleDownDelay, and a failed post-swap verification that swaps back."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest, free_port
from test_workflowruns import available, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def selector(runs: Runs, name: str) -> dict[str, str]:
    body = runs.core.api_client.sanitize_for_serialization(runs.core.read_namespaced_service(name, runs.namespace))
    return dict(body["spec"]["selector"])


def blue_green(*after_swap: dict[str, Any], delay: str) -> dict[str, Any]:
    return {
        "type": "BlueGreen",
        "target": {"deployment": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "blueGreen": {"activeService": "web", "previewService": "web-preview", "scaleDownDelay": delay},
        "phases": [
            {"name": "preview", "steps": [{"name": "stage", "deploy": {}}, {"name": "check", "pause": {}}]},
            {"name": "live", "steps": [{"name": "swap", "swap": {}}, *after_swap]},
        ],
        "failureStrategies": [{"errors": ["Any"], "action": "Rollback"}],
    }


@pytest.fixture
def web_services(runs: Runs) -> None:
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", replicas=3))
    runs.apply(yaml.safe_dump_all([service("web"), service("web-preview")]))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")


BLUE = {"app": "web-blue", "convoy.dev/color": "blue"}


def test_preview_before_the_swap_active_after_and_old_color_kept_for_the_delay(
    convoy: Operator, runs: Runs, web_services: None
) -> None:
    runs.apply(workflow("web", blue_green(delay="8s")))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    runs.wait_phase("web-2", "Paused", timeout=60)
    # before the swap: preview reaches the new color at full size, active still the old pods
    assert selector(runs, "web-preview") == BLUE
    assert selector(runs, "web") == {"app": "web"}
    assert available(runs, "web-blue", "registry.example/web:2.0")
    runs.decide("web-2", {"action": "Resume"})
    wait_for(lambda: selector(runs, "web") == BLUE, 30, message="active was not swapped")
    swapped = time.monotonic()
    # the old pods stay for scaleDownDelay, so a rollback is an instant swap back
    assert runs.deployment("web").spec.replicas == 3
    status = runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=60)
    assert status["phase"] == "Succeeded"
    assert time.monotonic() - swapped >= 6, "the old color went before scaleDownDelay"
    assert runs.deployment("web").spec.replicas == 0
    assert "ScaledDown" in runs.reasons("web-2")


def test_failed_verification_after_the_swap_swaps_back(convoy: Operator, runs: Runs, web_services: None) -> None:
    broken = {"name": "smoke", "verify": {"http": {"url": f"http://127.0.0.1:{free_port()}/health"}}}
    runs.apply(workflow("web", blue_green(broken, delay="1m")))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    runs.wait_phase("web-2", "Paused", timeout=60)
    runs.decide("web-2", {"action": "Resume"})
    status = runs.wait_phase("web-2", "RolledBack", "Succeeded", "Failed", "Aborted", timeout=60)
    assert status["phase"] == "RolledBack"
    assert status["failure"]["step"] == "smoke"
    assert selector(runs, "web") == {"app": "web"}
    assert runs.deployment("web").spec.replicas == 3
    wait_for(lambda: runs.deployment("web-blue").spec.replicas == 0, 30, message="the new color was not scaled down")
