"""The Queue policy on the real cluster: runs of one target wait in creation order, also when they were created in
the same second (creationTimestamp counts whole seconds; admission stamps each run with a sealed nanosecond time),
and nobody can jump the queue by writing that stamp. Written given / when / then."""

from __future__ import annotations

import time
from functools import partial
from typing import Any, cast

import pytest
import yaml
from harness import GROUP, VERSION, Operator, Runs, deployment_manifest, kubectl
from waiting import wait_for

pytestmark = pytest.mark.e2e
ADMITTED_AT = "convoy.dev/admitted-at"
IMAGE = "registry.example/web:{}"


@pytest.fixture
def web(runs: Runs) -> None:
    """Given Deployment web (2 pods of 1.0) and a Rolling Workflow that deploys, then pauses until resumed."""
    runs.apply(deployment_manifest("web", IMAGE.format("1.0"), replicas=2))
    spec = {
        "type": "Rolling",
        "target": {"deployment": "web"},
        "artifact": {"image": IMAGE.format("${workflow.variables.version}")},
        "variables": [{"name": "version", "required": True}],
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}, {"name": "hold", "pause": {}}]}],
    }
    workflow = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Workflow", "metadata": {"name": "web"}, "spec": spec}
    runs.apply(yaml.safe_dump(workflow))


def run_body(name: str, version: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **({"annotations": annotations} if annotations else {})}
    spec = {"workflowRef": {"name": "web"}, "variables": {"version": version}}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkflowRun", "metadata": metadata, "spec": spec}


def create(runs: Runs, body: dict[str, Any]) -> dict[str, Any]:
    created = runs.custom.create_namespaced_custom_object(GROUP, VERSION, runs.namespace, "workflowruns", body)
    return cast(dict[str, Any], created)


def create_in_one_second(runs: Runs, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    """Create `bodies` one after the other, early in a fresh second, so the API server gives them one
    creationTimestamp."""
    time.sleep(1.02 - time.time() % 1)
    created = [create(runs, body) for body in bodies]
    stamps = {c["metadata"]["creationTimestamp"] for c in created}
    assert len(stamps) == 1, f"not created in one second: {stamps}"
    return created


def serving(runs: Runs, version: str) -> bool:
    """Deployment web runs 2 pods, both of `version`."""
    d = runs.deployment("web")
    pods: list[Any] = runs.core.list_namespaced_pod(runs.namespace, label_selector="app=web").items
    images = [p.spec.containers[0].image for p in pods if p.metadata.deletion_timestamp is None]
    return bool(
        d.spec.template.spec.containers[0].image == IMAGE.format(version)
        and d.status.available_replicas == 2
        and images == [IMAGE.format(version)] * 2
    )


def positions(runs: Runs, *names: str) -> dict[str, int | None]:
    return {name: runs.status(name).get("queuePosition") for name in names}


def wait_positions(runs: Runs, expected: dict[str, int], why: str) -> None:
    """Wait until the runs in `expected` have those queue positions; fail with the positions they had."""
    seen: list[dict[str, int | None]] = []

    def reached() -> bool:
        seen.append(positions(runs, *expected))
        return seen[-1] == expected

    try:
        wait_for(reached, 30)
    except AssertionError:
        raise AssertionError(f"queue positions {why}: expected {expected}, last seen {seen[-1]}") from None


def test_runs_created_in_one_second_queue_in_creation_order_not_by_name(
    convoy: Operator, runs: Runs, web: None
) -> None:
    # given a run of web that holds the target
    create(runs, run_body("first", "2.0"))
    runs.wait_phase("first", "Paused")
    # when c, b and a are created, in that order, in one second
    create_in_one_second(runs, run_body("c", "3.0"), run_body("b", "4.0"), run_body("a", "5.0"))
    # then they queue c, b, a: positions 1, 2, 3, each behind the ones created before it
    for name in ("c", "b", "a"):
        runs.wait_phase(name, "Queued")
    wait_positions(runs, {"c": 1, "b": 2, "a": 3}, "of c, b, a created in that order in one second")
    assert (
        runs.status("a")["message"]
        == f"queued behind {runs.namespace}/first, {runs.namespace}/c, {runs.namespace}/b (same target)"
    )
    # and each runs in turn, in that order: the Deployment serves 2 pods of each version, c's, then b's, then a's
    for holder, (name, version), waiting in (
        ("first", ("c", "3.0"), {"b": 1, "a": 2}),
        ("c", ("b", "4.0"), {"a": 1}),
        ("b", ("a", "5.0"), {}),
    ):
        runs.decide(holder, {"action": "Resume"})
        assert runs.wait_phase(holder, "Succeeded", "Failed", "Aborted")["phase"] == "Succeeded"
        runs.wait_phase(name, "Paused", timeout=60)
        wait_for(partial(serving, runs, version), 60, message=f"{name} did not deploy {version}")
        wait_positions(runs, waiting, f"once {name} started")
    started = [runs.status(name)["startedAt"] for name in ("first", "c", "b", "a")]
    assert started == sorted(started)


def test_the_admission_stamp_cannot_be_forged_to_jump_the_queue(convoy: Operator, runs: Runs, web: None) -> None:
    create(runs, run_body("first", "2.0"))
    runs.wait_phase("first", "Paused")
    # given z created first, then y, which claims to have been admitted long before
    early = "2000-01-01T00:00:00.000000000Z"
    z, y = create_in_one_second(runs, run_body("z", "3.0"), run_body("y", "4.0", {ADMITTED_AT: early}))
    # then admission wrote its own stamp over the claim, and y queues behind z
    assert y["metadata"]["annotations"][ADMITTED_AT] != early
    assert z["metadata"]["annotations"][ADMITTED_AT] < y["metadata"]["annotations"][ADMITTED_AT]
    wait_positions(runs, {"z": 1, "y": 2}, "of z, then y with a forged stamp")
    # and the stamp cannot be changed afterwards
    refused = kubectl(
        runs.kubeconfig, "-n", runs.namespace, "annotate", "--overwrite", "workflowrun", "y", f"{ADMITTED_AT}={early}",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert f"{ADMITTED_AT} and {ADMITTED_AT}-seal record when Convoy admitted the run" in refused.stderr
