"""Intent before action: a canary's first cycle records the service size and its plan in the status before any pod
moves, so a conflict on the status write or a SIGKILL between the write and the scale never shrinks the stable
Deployment twice (issue 12, item 1), and a run after an aborted canary sizes the service as the instances already
running (item 2)."""

from __future__ import annotations

import json
import time

import pytest
from harness import GROUP, VERSION, Operator, Runs, deployment_manifest
from test_canary import canary_spec, paused_in
from test_workflowruns import available, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e


def pods(runs: Runs, name: str) -> tuple[int, int | None]:
    """(stable, canary) replicas as the Deployments' specs say."""
    stable = runs.deployment(name).spec.replicas
    found = runs.apps.list_namespaced_deployment(runs.namespace, field_selector=f"metadata.name={name}-canary").items
    return stable, (found[0].spec.replicas if found else None)


def two_replicas(runs: Runs, *names: str) -> None:
    for name in names:
        runs.apply(deployment_manifest(name, "registry.example/web:1.0", replicas=2))
    for name in names:
        wait_for(lambda: available(runs, name, "registry.example/web:1.0"), 60, message=f"{name} v1 not available")  # noqa: B023


def canary_of(target: str) -> str:
    spec = canary_spec(50, 100)
    spec["target"] = {"deployment": target, "service": target}
    return workflow(target, spec)


def test_a_run_touched_while_its_first_cycle_writes_keeps_every_pod(convoy: Operator, runs: Runs) -> None:
    # given a 2-replica Deployment and a canary at 50%
    two_replicas(runs, "web")
    runs.apply(canary_of("web"))
    # when the run is created and labelled over and over at once, so its first status writes conflict (409)
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    until = time.monotonic() + 3
    count = 0
    while time.monotonic() < until:
        count += 1
        patch = {"metadata": {"labels": {"touched": str(count)}}}
        runs.custom.patch_namespaced_custom_object(GROUP, VERSION, runs.namespace, "workflowruns", "web-2", patch)
    # then the canary holds 1 stable and 1 canary pod of the 2, never fewer stable pods
    status = paused_in(runs, "web-2", "canary-50")
    assert status["canary"] == {"total": 2, "stable": 1, "canary": 1}
    assert pods(runs, "web") == (1, 1)
    assert status["weight"] == 50


def test_canaries_killed_the_instant_a_target_changes_keep_every_pod(convoy: Operator, runs: Runs) -> None:
    # given three 2-replica Deployments, each with a canary at 50%
    names = ("alpha", "beta", "gamma")
    two_replicas(runs, *names)
    for name in names:
        runs.apply(canary_of(name))
    generations = {name: runs.deployment(name).metadata.generation for name in names}
    # when the operator is SIGKILLed the instant any of them changes, and started again, up to six times
    kills = 0

    def all_paused() -> bool:
        return all(runs.status(f"{n}-2").get("phase") == "Paused" for n in names)

    for name in names:
        runs.apply(run(f"{name}-2", name, {"version": "2.0"}))
    deadline = time.monotonic() + 120
    while kills < 6 and time.monotonic() < deadline:
        changed = [n for n in names if runs.deployment(n).metadata.generation > generations[n]]
        if changed:
            convoy.kill()
            kills += 1
            generations.update({n: runs.deployment(n).metadata.generation for n in names})
            convoy.start()
        elif all_paused():
            break
        time.sleep(0.02)
    # then every run holds 1 stable and 1 canary pod of its 2
    assert kills >= 1, "the operator was never killed: the test proved nothing"
    for name in names:
        status = paused_in(runs, f"{name}-2", "canary-50")
        assert status["canary"] == {"total": 2, "stable": 1, "canary": 1}, json.dumps(status)[:2000]
        assert pods(runs, name) == (1, 1)


def test_a_run_after_an_aborted_canary_sizes_the_service_as_the_instances_running(convoy: Operator, runs: Runs) -> None:
    # given a 4-replica Deployment whose canary at 25% was aborted, its partial state kept: 3 stable + 1 canary
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", replicas=4))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")
    spec = canary_spec(25, 100)
    runs.apply(workflow("web", spec))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    paused_in(runs, "web-2", "canary-25")
    runs.decide("web-2", {"action": "Abort"})
    runs.wait_phase("web-2", "Aborted")
    assert pods(runs, "web") == (3, 1)
    # when the workflow runs again
    runs.apply(run("web-3", "web", {"version": "3.0"}))
    status = paused_in(runs, "web-3", "canary-25")
    # then it sizes the service as the 4 instances running, and promotes to 4
    assert status["canary"]["total"] == 4
    assert pods(runs, "web") == (3, 1)
    runs.decide("web-3", {"action": "Resume"})
    runs.wait_phase("web-3", "Succeeded", timeout=90)
    assert pods(runs, "web") == (4, None)
    wait_for(lambda: available(runs, "web", "registry.example/web:3.0"), 60, message="web v3 not available")
