"""Proportional rollback on the real cluster (issue 12, item 3), with the reference's own numbers: an 8-instance
10/20/30/40 canary, the service scaled to 15 after it succeeded, then rolled back with a Rollback. Phase 4 is undone
with 6 instances, phase 3 with 4, phase 2 with 4 and phase 1 with the rest (1), in that order, as the Rollback's and
the run's status say per phase, and as the Deployments and the pods show at each step. Each rollback phase ends
with a short pause, so that the test sees every step. Written given / when / then."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest
from test_workflowruns import available, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
FINAL = ("Succeeded", "Failed", "Refused")
RUN_FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
# the reference's phases: splits of 10, 20, 30 and 40% are cumulative weights 10, 30, 60 and 100
WEIGHTS = (10, 30, 60, 100)


def image(version: str) -> str:
    return f"registry.example/web:{version}"


def proportional_canary() -> dict[str, Any]:
    """A 10/20/30/40 canary that goes straight through, each phase's rollback followed by a 2-second hold."""
    phases = [
        {
            "name": f"canary-{weight}",
            "weight": weight,
            "steps": [{"name": "set-weight", "deploy": {}}],
            "rollbackSteps": [{"name": "rollback", "rollback": {}}, {"name": "hold", "pause": {"duration": "2s"}}],
        }
        for weight in WEIGHTS
    ]
    return {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": phases,
    }


def deployed(runs: Runs, name: str, version: str) -> None:
    runs.apply(run(name, "web", {"version": version}))
    status = runs.wait_phase(name, *RUN_FINAL, timeout=120)
    assert status["phase"] == "Succeeded", status.get("message")
    wait_for(lambda: available(runs, "web", image(version)), 60, message=f"web {version} not available")


def replicas(runs: Runs, name: str) -> tuple[int, str] | None:
    """A Deployment's spec.replicas and image, None when it does not exist."""
    found = runs.apps.list_namespaced_deployment(runs.namespace, field_selector=f"metadata.name={name}")
    items: list[dict[str, Any]] = runs.apps.api_client.sanitize_for_serialization(found)["items"]
    if not items:
        return None
    spec = items[0]["spec"]
    return int(spec["replicas"]), str(spec["template"]["spec"]["containers"][0]["image"])


def running_pods(runs: Runs) -> Counter[str]:
    """The service's pods that run (not terminating), by image."""
    found = runs.core.list_namespaced_pod(runs.namespace, label_selector="app=web")
    pods: list[dict[str, Any]] = runs.core.api_client.sanitize_for_serialization(found)["items"]
    return Counter(
        str(p["spec"]["containers"][0]["image"])
        for p in pods
        if not p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get("phase") == "Running"
    )


@pytest.fixture
def web8(runs: Runs) -> None:
    """Given a Deployment 'web' of 8 instances running 1.0 behind Service 'web'."""
    runs.apply(deployment_manifest("web", image("1.0"), replicas=8))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}  # fmt: skip
    runs.apply(yaml.safe_dump(service))
    wait_for(lambda: available(runs, "web", image("1.0")), 60, message="web 1.0 not available")


def test_a_rollback_after_the_service_was_scaled_undoes_each_phase_by_its_share(
    convoy: Operator, runs: Runs, web8: None
) -> None:
    # given two successful 8-instance deployments of the 10/20/30/40 canary: 2.0, then 3.0 (1, 2, 2, 3 instances)
    runs.apply(workflow("web", proportional_canary()))
    deployed(runs, "web-2", "2.0")
    deployed(runs, "web-3", "3.0")
    assert runs.status("web-3")["canary"] == {"total": 8, "stable": 8, "canary": 0}
    # and the service scaled to 15 since
    runs.apps.patch_namespaced_deployment_scale("web", runs.namespace, {"spec": {"replicas": 15}})
    wait_for(lambda: available(runs, "web", image("3.0")), 60, message="web was not scaled to 15")
    # when the workflow is rolled back, watching the Deployments and the pods as it goes
    rollback = {"apiVersion": "convoy.dev/v1alpha1", "kind": "Rollback", "metadata": {"name": "web-back"}, "spec": {"workflowRef": {"name": "web"}}}  # fmt: skip
    runs.apply(yaml.safe_dump(rollback))
    seen: list[tuple[Any, Any]] = []
    pods_at_hold: dict[str, Counter[str]] = {}

    def watch() -> dict[str, Any] | None:
        state = (replicas(runs, "web"), replicas(runs, "web-canary"))
        if not seen or seen[-1] != state:
            seen.append(state)
        status = runs.status("web-3")
        phase = str(status.get("currentPhase"))
        if status.get("phase") == "RollingBack" and status.get("currentStep") == "hold" and phase not in pods_at_hold:
            pods_at_hold[phase] = running_pods(runs)
        done = runs.status("web-back", "rollbacks")
        return done if done.get("phase") in FINAL else None

    status = wait_for(watch, 240, 0.2, "the Rollback did not end")
    # then it succeeded, and its status says how many instances each phase rolled back, in reverse order
    assert status["phase"] == "Succeeded", status.get("message")
    expected = [("canary-100", 6, 6, 9), ("canary-60", 4, 10, 5), ("canary-30", 4, 14, 1), ("canary-10", 1, 15, 0)]
    by_phase = [(p["name"], p["instances"], p["pods"]["stable"], p["pods"]["canary"]) for p in status["phases"]]
    assert by_phase == expected
    # and so does the run's own status.rollback
    run_status = runs.status("web-3")
    assert run_status["phase"] == "RolledBack"
    assert [
        (p["name"], p["instances"], p["pods"]["stable"], p["pods"]["canary"]) for p in run_status["rollback"]
    ] == expected
    # and the Deployments went through the same steps, in that order: 15 new -> 6 old + 9 new -> 10 + 5 -> 14 + 1
    # -> 15 old and no canary
    steps = [
        ((6, image("2.0")), (9, image("3.0"))),
        ((10, image("2.0")), (5, image("3.0"))),
        ((14, image("2.0")), (1, image("3.0"))),
        ((15, image("2.0")), None),
    ]
    positions = [seen.index(step) for step in steps if step in seen]
    assert len(positions) == len(steps) and positions == sorted(positions), f"Deployments seen: {seen}"
    # and the pods, at each phase's hold, ran the previous and the new version in those numbers
    assert pods_at_hold == {
        "canary-100": Counter({image("2.0"): 6, image("3.0"): 9}),
        "canary-60": Counter({image("2.0"): 10, image("3.0"): 5}),
        "canary-30": Counter({image("2.0"): 14, image("3.0"): 1}),
        "canary-10": Counter({image("2.0"): 15}),
    }
    wait_for(lambda: available(runs, "web", image("2.0")), 60, message="web 2.0 not available at 15")
    assert replicas(runs, "web") == (15, image("2.0"))
