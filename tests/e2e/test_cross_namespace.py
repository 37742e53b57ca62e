"""A Workflow that deploys into another namespace, with the consent that namespace gives (a Grant and a RoleBinding
of convoy-runner for the Workflow's ServiceAccount): a blue/green swap whose Services, Deployments and colors all
live in the target's namespace is observed there and finishes (issue 12, item 7), and without the Grant the run
fails naming it, with nothing changed (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest, kubectl, onboard_tenant
from kubernetes import client
from test_bluegreen import BLUE, blue_green, service
from test_workflowruns import run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def prod(api_client: client.ApiClient, runs: Runs) -> Iterator[str]:
    """Given namespace `<test>-prod`, onboarded, with web v1 (3 pods) behind Services web and web-preview."""
    core = client.CoreV1Api(api_client)
    name = f"{runs.namespace[:50]}-prod"
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"convoy.dev/e2e": "true"}))
    )
    try:
        wait_for(lambda: bool(core.list_namespaced_service_account(name).items), 30, message=f"{name} has no account")
        onboard_tenant(api_client, name)
        objects = [yaml.safe_load(deployment_manifest("web", "registry.example/web:1.0", replicas=3))]
        objects += [service("web"), service("web-preview")]
        kubectl(runs.kubeconfig, "apply", "-n", name, "-f", "-", stdin=yaml.safe_dump_all(objects))
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


def consent(runs: Runs, prod: str) -> None:
    """What prod's owners do: a Grant for the Workflows of the test's namespace, and the runner role for its
    ServiceAccount, which every change is made as."""
    grant = {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "Grant",
        "metadata": {"name": "team-deploys-web", "namespace": prod},
        "spec": {
            "from": [{"kind": "Workflow", "namespace": runs.namespace}],
            "to": [{"kind": "Deployment", "name": "web"}],
        },
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "convoy-runner-team", "namespace": prod},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "convoy-runner"},
        "subjects": [{"kind": "ServiceAccount", "name": "convoy-runner", "namespace": runs.namespace}],
    }
    kubectl(runs.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all([grant, binding]))


def read(api_client: client.ApiClient, obj: object) -> dict[str, Any]:
    raw: dict[str, Any] = client.CoreV1Api(api_client).api_client.sanitize_for_serialization(obj)
    return raw


def in_prod(prod: str) -> dict[str, object]:
    spec = blue_green(delay="1s")
    spec["target"] = {"deployment": "web", "namespace": prod}
    return spec


def test_a_granted_blue_green_in_another_namespace_swaps_there(
    api_client: client.ApiClient, convoy: Operator, runs: Runs, prod: str
) -> None:
    # given a blue/green Workflow of the test's namespace that deploys web in prod, with prod's consent
    consent(runs, prod)
    runs.apply(workflow("web", in_prod(prod)))
    # when a run goes through the preview and the swap
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    runs.wait_phase("web-2", "Paused", timeout=60)
    core = client.CoreV1Api(api_client)
    assert read(api_client, core.read_namespaced_service("web-preview", prod))["spec"]["selector"] == BLUE
    runs.decide("web-2", {"action": "Resume"})
    status = runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)
    # then the swap happened in prod, and every change was made as the Workflow's ServiceAccount
    assert status["phase"] == "Succeeded", status.get("message")
    assert read(api_client, core.read_namespaced_service("web", prod))["spec"]["selector"] == BLUE
    assert status["actingAs"] == f"system:serviceaccount:{runs.namespace}:convoy-runner"


def test_without_a_grant_the_run_names_it_and_changes_nothing(
    api_client: client.ApiClient, convoy: Operator, runs: Runs, prod: str
) -> None:
    # given the same Workflow, but prod gave no consent
    runs.apply(workflow("web", in_prod(prod)))
    # when it runs
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-2", "Failed", "Succeeded", timeout=60)
    # then it fails naming the missing Grant, and prod is as it was
    assert status["phase"] == "Failed"
    assert "no Grant in namespace" in status["message"] and prod in status["message"]
    apps = client.AppsV1Api(api_client)
    deployments = read(api_client, apps.list_namespaced_deployment(prod))["items"]
    assert [(d["metadata"]["name"], d["metadata"]["generation"]) for d in deployments] == [("web", 1)]
