"""Canary workflows on the real cluster: pod counts (replica split) and HTTPRoute weights (traffic-route split)
at each phase, promotion at the end."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest
from test_workflowruns import available, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e


def canary_spec(*weights: int, **extra: Any) -> dict[str, Any]:
    phases = []
    for weight in weights:
        steps: list[dict[str, Any]] = [{"name": "set-weight", "deploy": {}}]
        if weight < 100:
            steps.append({"name": "hold", "pause": {}})
        phases.append({"name": f"canary-{weight}", "weight": weight, "steps": steps})
    return {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": phases,
        **extra,
    }


def paused_in(runs: Runs, name: str, phase: str) -> dict[str, Any]:
    def paused() -> dict[str, Any] | None:
        status = runs.status(name)
        return status if status.get("phase") == "Paused" and status.get("currentPhase") == phase else None

    return wait_for(paused, 60, 0.2, f"{name} did not pause in {phase}")


def ready_pods(runs: Runs, name: str) -> int | None:
    found = runs.apps.list_namespaced_deployment(runs.namespace, field_selector=f"metadata.name={name}").items
    if not found:
        return None
    d = runs.apps.api_client.sanitize_for_serialization(found[0])
    ready = int(d.get("status", {}).get("availableReplicas") or 0)
    return ready if d["spec"]["replicas"] == ready else -1


@pytest.fixture
def web10(runs: Runs) -> None:
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", replicas=10))
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    runs.apply(yaml.safe_dump(service))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")


def test_replica_canary_moves_pods_at_each_phase_and_promotes(convoy: Operator, runs: Runs, web10: None) -> None:
    runs.apply(workflow("web", canary_spec(10, 30, 60, 100)))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    # documented rounding: canary = ceil(10 * weight / 100), stable = 10 - canary
    for weight, stable, canary in [(10, 9, 1), (30, 7, 3), (60, 4, 6)]:
        status = paused_in(runs, "web-2", f"canary-{weight}")
        assert status["weight"] == weight
        assert status["canary"] == {"total": 10, "stable": stable, "canary": canary}
        assert ready_pods(runs, "web") == stable
        assert ready_pods(runs, "web-canary") == canary
        assert runs.deployment("web-canary").spec.template.spec.containers[0].image == "registry.example/web:2.0"
        new_pods = pods_of(runs, "registry.example/web:2.0")
        runs.decide("web-2", {"action": "Resume"})
    status = runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)
    assert status["phase"] == "Succeeded" and status["weight"] == 100
    wait_for(lambda: available(runs, "web", "registry.example/web:2.0"), 60, message="stable not promoted")
    wait_for(lambda: ready_pods(runs, "web-canary") is None, 30, message="the canary was not removed")
    assert runs.deployment("web").spec.replicas == 10
    assert not runs.deployment("web").spec.paused
    # promotion started no pod again: the 6 canary pods of 60% still run, now the stable Deployment's
    promoted = pods_of(runs, "registry.example/web:2.0")
    assert len(promoted) == 10 and set(new_pods) <= set(promoted)
    owners = {rs for rs, _ in promoted.values()}
    assert len(owners) == 1 and next(iter(owners)).startswith("web-canary-")
    (adopted,) = owners
    replica_set = serialized(runs, runs.apps.read_namespaced_replica_set(adopted, runs.namespace))
    assert [o["name"] for o in replica_set["metadata"]["ownerReferences"]] == ["web"]


def serialized(runs: Runs, obj: Any) -> dict[str, Any]:
    found: dict[str, Any] = runs.apps.api_client.sanitize_for_serialization(obj)
    return found


def pods_of(runs: Runs, image: str) -> dict[str, tuple[str, str]]:
    """The running pods of `image`, by uid: their ReplicaSet and phase."""
    found = {}
    for item in runs.core.list_namespaced_pod(runs.namespace, label_selector="app=web").items:
        pod = serialized(runs, item)
        meta = pod["metadata"]
        if "deletionTimestamp" not in meta and pod["spec"]["containers"][0]["image"] == image:
            found[meta["uid"]] = (meta["ownerReferences"][0]["name"], pod["status"]["phase"])
    return found


def route_weights(runs: Runs) -> dict[str, int]:
    route: dict[str, Any] = runs.custom.api_client.sanitize_for_serialization(
        runs.custom.get_namespaced_custom_object("gateway.networking.k8s.io", "v1", runs.namespace, "httproutes", "web")
    )
    main = next(r for r in route["spec"]["rules"] if r.get("name") != "convoy-canary-header")
    return {ref["name"]: ref.get("weight", 1) for ref in main["backendRefs"]}


def test_gateway_canary_sets_httproute_weights_at_each_phase(convoy: Operator, runs: Runs, web10: None) -> None:
    canary_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web-canary"},
        "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]},
    }
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "hostnames": ["web.example"],
            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
        },
    }
    runs.apply(yaml.safe_dump_all([canary_service, route]))
    traffic = {
        "split": "TrafficRoute",
        "trafficRoute": {
            "httpRoute": "web",
            "stableService": "web",
            "canaryService": "web-canary",
            "headerMatch": [{"name": "x-canary", "value": "always"}],
        },
    }
    runs.apply(workflow("web", canary_spec(20, 50, 100, canary=traffic)))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    for weight in (20, 50):
        paused_in(runs, "web-2", f"canary-{weight}")
        assert route_weights(runs) == {"web": 100 - weight, "web-canary": weight}
        assert ready_pods(runs, "web") == 10
        assert ready_pods(runs, "web-canary") == {20: 2, 50: 5}[weight]
        service = runs.core.api_client.sanitize_for_serialization(
            runs.core.read_namespaced_service("web-canary", runs.namespace)
        )
        selector = service["spec"]["selector"]
        assert selector == {"app": "web-canary", "convoy.dev/track": "canary"}
        runs.decide("web-2", {"action": "Resume"})
    assert runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)["phase"] == "Succeeded"
    assert route_weights(runs) == {"web": 100, "web-canary": 0}
    wait_for(lambda: available(runs, "web", "registry.example/web:2.0"), 60, message="stable not promoted")
