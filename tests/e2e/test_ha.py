"""High availability: two operator replicas with kopf peering, the one of higher priority active and the other on
standby. The active one is killed (SIGKILL) during a canary; the standby takes over and the run finishes.

Both replicas serve the admission webhook, as in the chart (where they share one certificate and the webhook
Service reaches whichever pod is alive). Here each has its own port and certificate and the webhook configuration
holds the URL of the last one that registered: the standby, started second. So admission keeps working when the
active replica dies, and the test can resume the run right after the kill.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest, kubectl
from test_canary import canary_spec, paused_in, ready_pods
from test_chart_install import render
from test_workflowruns import available, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
# kopf's default is 60 s: a standby takes over at most one lifetime after the active replica's last keep-alive.
LIFETIME = 10


@pytest.fixture
def peering(kubeconfig: str, namespace: str) -> Iterator[str]:
    """The chart's kopf peering CRD and ClusterKopfPeering object (as `replicaCount: 2` renders them), one object
    per test; its name, which the replicas get as `--peering`."""
    docs = render(namespace, "replicaCount=2", only=("peering.yaml",))
    crd = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    peering = next(d for d in docs if d["kind"] == "ClusterKopfPeering")
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(crd))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(peering))
    yield str(peering["metadata"]["name"])
    kubectl(kubeconfig, "delete", "clusterkopfpeering", peering["metadata"]["name"], "--wait=false", check=False)


@pytest.fixture
def sole_operators(convoy: Operator) -> Iterator[None]:
    """The session's standalone operator steps aside (it would work beside the pair), and comes back after."""
    convoy.stop()
    yield
    convoy.start()


def peers(kubeconfig: str, peering: str) -> dict[str, Any]:
    """The replicas' keep-alives in the peering object, by kopf identity."""
    found = kubectl(kubeconfig, "get", "clusterkopfpeering", peering, "-o", "json")
    status: dict[str, Any] = json.loads(found.stdout).get("status") or {}
    return status


def replica(kubeconfig: str, workdir: pytest.TempPathFactory, peering: str, name: str, priority: int) -> Operator:
    flags = ["--peering", peering, "--priority", str(priority), "--peering-lifetime", str(LIFETIME)]
    return Operator(kubeconfig, workdir.mktemp(name), flags)


@pytest.fixture
def active(
    kubeconfig: str, tmp_path_factory: pytest.TempPathFactory, sole_operators: None, peering: str
) -> Iterator[Operator]:
    operator = replica(kubeconfig, tmp_path_factory, peering, "active", priority=200)
    operator.start()
    yield operator
    operator.stop()


@pytest.fixture
def standby(
    kubeconfig: str, tmp_path_factory: pytest.TempPathFactory, active: Operator, peering: str
) -> Iterator[Operator]:
    operator = replica(kubeconfig, tmp_path_factory, peering, "standby", priority=100)
    operator.start()
    # kopf starts a peered replica paused and logs only when it resumes: wait until it keeps alive beside the active
    wait_for(lambda: len(peers(kubeconfig, peering)) == 2, 30, 0.2, "the standby did not join the peering")
    yield operator
    operator.stop()


@pytest.fixture
def web4(runs: Runs) -> None:
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", replicas=4))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}  # fmt: skip
    runs.apply(yaml.safe_dump(service))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")


def test_the_standby_takes_over_a_canary_when_the_active_replica_is_killed(
    active: Operator, standby: Operator, runs: Runs, web4: None
) -> None:
    # given a canary run, driven by the active replica, held at 50%
    runs.apply(workflow("web", canary_spec(25, 50, 100)))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    paused_in(runs, "web-2", "canary-25")
    runs.decide("web-2", {"action": "Resume"})
    status = paused_in(runs, "web-2", "canary-50")
    assert status["canary"] == {"total": 4, "stable": 2, "canary": 2}
    assert "Resuming operations" not in standby.tail(500)
    # when the active replica dies, and the run is resumed
    killed = time.monotonic()
    active.kill()
    runs.decide("web-2", {"action": "Resume"})
    # then the standby resumes operations within one peering lifetime, and applies the decision
    wait_for(lambda: "Resuming operations" in standby.tail(500), LIFETIME + 20, 0.2, "the standby did not take over")
    resumed = time.monotonic() - killed
    wait_for(lambda: runs.status("web-2").get("decisionsSeen") == 2, 30, 0.2, "the resume was not applied")
    applied = time.monotonic() - killed
    print(f"takeover after SIGKILL: standby resumed in {resumed:.1f}s, the run moved on after {applied:.1f}s")
    assert resumed < LIFETIME + 5
    # and the run finishes as if nothing had happened: promoted once, canary removed
    status = runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)
    assert status["phase"] == "Succeeded"
    wait_for(lambda: available(runs, "web", "registry.example/web:2.0"), 60, message="stable not promoted")
    wait_for(lambda: ready_pods(runs, "web-canary") is None, 30, message="the canary was not removed")
    reasons = Counter(runs.reasons("web-2"))
    assert (reasons["Started"], reasons["Succeeded"]) == (1, 1)


def writes(operator: Operator) -> tuple[float, float]:
    """The replica's own writes (API calls that change something) and reconciles so far, from its metrics."""
    changed = done = 0.0
    for line in operator.metrics().splitlines():
        if line.startswith("convoy_api_calls_total{") and any(
            f'verb="{v}"' in line for v in ("patch", "create", "delete")
        ):
            changed += float(line.rsplit(" ", 1)[1])
        elif line.startswith("convoy_reconcile_seconds_count{"):
            done += float(line.rsplit(" ", 1)[1])
    return changed, done


def test_a_replica_that_peering_pauses_mid_canary_acts_no_more(
    active: Operator,
    runs: Runs,
    web4: None,
    kubeconfig: str,
    tmp_path_factory: pytest.TempPathFactory,
    peering: str,
) -> None:
    # given a canary driven by the active replica, in a timed pause (its scheduler holds a timer for the end)
    spec = canary_spec(25, 50, 100)
    for phase in spec["phases"]:
        for step in phase["steps"]:
            if "pause" in step:
                step["pause"] = {"duration": "6s"}
    runs.apply(workflow("web", spec))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    wait_for(lambda: runs.status("web-2").get("currentStep") == "hold", 60, 0.2, "the canary did not reach its pause")
    # when a peer of higher priority comes up, and kopf's peering pauses the active replica
    higher = replica(kubeconfig, tmp_path_factory, peering, "higher", priority=300)
    higher.start()
    try:
        wait_for(lambda: "Pausing operations" in active.tail(500), LIFETIME + 20, 0.2, "the active was not paused")
        assert "its scheduler holds" in active.tail(500)
        time.sleep(1)  # a reconcile in flight when the pause came finishes its cycle
        before = writes(active)
        # then the new peer finishes the canary, and the paused replica performed no write meanwhile, nor reconciled
        status = runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=120)
        assert status["phase"] == "Succeeded", status.get("message")
        assert writes(active) == before
        reasons = Counter(runs.reasons("web-2"))
        assert (reasons["Started"], reasons["Succeeded"]) == (1, 1)
    finally:
        higher.stop()
