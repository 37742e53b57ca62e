"""The test cluster itself behaves like a real one where the operator's tests depend on it: workloads get
scheduled and run, RBAC is enforced, Jobs finish (or fail on request), and unschedulable pods stay Pending.

Runs against the local dev cluster (hack/devcluster, kwok nodes) or any cluster in $KUBECONFIG (e.g. kind):
the fake pods are told how to behave through annotations that kwok reads, while their commands do the same
thing for real on a real cluster.

Objects read back from the API are handled as Any: every status field is optional in the API schema.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client
from waiting import wait_for

pytestmark = pytest.mark.e2e

IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
FAKE_EXIT_CODE = "convoy.dev/fake-exit-code"


def _deployment(name: str, replicas: int, node_selector: dict[str, str] | None = None) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    node_selector=node_selector,
                    termination_grace_period_seconds=1,
                    containers=[client.V1Container(name="main", image=IMAGE, command=["sleep", "3600"])],
                ),
            ),
        ),
    )


def _new_job(name: str, command: list[str], annotations: dict[str, str] | None = None) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(annotations=annotations),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="main", image=IMAGE, command=command)],
                ),
            ),
        ),
    )


def _pods(core: client.CoreV1Api, namespace: str, label_selector: str) -> list[Any]:
    return list(core.list_namespaced_pod(namespace, label_selector=label_selector).items)


def _deployment_status(apps: client.AppsV1Api, name: str, namespace: str) -> Any:
    return apps.read_namespaced_deployment_status(name, namespace).status


def _job(batch: client.BatchV1Api, name: str, namespace: str) -> Any:
    return batch.read_namespaced_job_status(name, namespace)


def _condition(obj: Any, type_: str) -> Any:
    """The condition of that type, or None."""
    for condition in obj.status.conditions or []:
        if condition.type == type_:
            return condition
    return None


def _is_true(obj: Any, type_: str) -> bool:
    condition = _condition(obj, type_)
    return condition is not None and condition.status == "True"


def _pod_ready(pod: Any) -> bool:
    statuses = pod.status.container_statuses or []
    return (
        pod.status.phase == "Running"
        and _is_true(pod, "Ready")
        and bool(pod.status.pod_ip)
        and len(statuses) == len(pod.spec.containers)
        and all(s.ready for s in statuses)
    )


def test_deployment_pods_become_ready_on_the_nodes(api_client: client.ApiClient, namespace: str) -> None:
    # given
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    nodes: list[Any] = core.list_node().items
    kwok_nodes = {n.metadata.name for n in nodes if (n.metadata.annotations or {}).get(KWOK_NODE_ANNOTATION)}

    # when
    apps.create_namespaced_deployment(namespace, _deployment("web", replicas=3))

    # then
    wait_for(
        lambda: _deployment_status(apps, "web", namespace).available_replicas == 3,
        timeout=60,
        message="deployment web did not get 3 available replicas",
    )
    pods = _pods(core, namespace, "app=web")
    assert len(pods) == 3
    for pod in pods:
        assert _pod_ready(pod), f"pod {pod.metadata.name} is not ready: {pod.status}"
        assert pod.spec.node_name, f"pod {pod.metadata.name} is not bound to a node"
        if kwok_nodes:  # the local dev cluster: every node is a kwok node
            assert pod.spec.node_name in kwok_nodes


def test_rbac_is_enforced_for_a_service_account_without_bindings(api_client: client.ApiClient, namespace: str) -> None:
    # given a ServiceAccount with no RoleBindings, and a client authenticated with a token for it
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token_request = core.create_namespaced_service_account_token(
        "nobody",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)),
    ).status
    assert token_request is not None and token_request.token
    admin_config = api_client.configuration
    sa_config = client.Configuration()
    sa_config.host = admin_config.host
    sa_config.ssl_ca_cert = admin_config.ssl_ca_cert
    sa_config.verify_ssl = admin_config.verify_ssl
    sa_config.tls_server_name = admin_config.tls_server_name
    sa_config.api_key = {"authorization": token_request.token}
    sa_config.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(sa_config) as sa_client:
        review: Any = client.AuthenticationV1Api(sa_client).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:nobody"

        # when it lists the pods of its own namespace
        with pytest.raises(client.ApiException) as refused:
            client.CoreV1Api(sa_client).list_namespaced_pod(namespace)

    # then the API server refuses
    assert refused.value.status == 403, refused.value


def test_jobs_complete_or_fail_with_the_requested_exit_code(api_client: client.ApiClient, namespace: str) -> None:
    # given
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)

    # when
    batch.create_namespaced_job(namespace, _new_job("succeeds", ["true"]))
    batch.create_namespaced_job(
        namespace,
        _new_job("fails", ["sh", "-c", "exit 3"], annotations={FAKE_EXIT_CODE: "3"}),
    )

    # then
    wait_for(
        lambda: _is_true(_job(batch, "succeeds", namespace), "Complete"),
        timeout=60,
        message="job succeeds did not complete",
    )
    failed = wait_for(
        lambda: _condition(_job(batch, "fails", namespace), "Failed"),
        timeout=60,
        message="job fails did not fail",
    )
    assert failed.status == "True"
    assert not _is_true(_job(batch, "fails", namespace), "Complete")
    pods = _pods(core, namespace, "job-name=fails")
    assert len(pods) == 1
    assert pods[0].status.phase == "Failed"
    assert pods[0].status.container_statuses[0].state.terminated.exit_code == 3


def test_unschedulable_pods_stay_pending(api_client: client.ApiClient, namespace: str) -> None:
    # given
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)

    # when
    apps.create_namespaced_deployment(
        namespace, _deployment("nowhere", replicas=2, node_selector={"convoy.dev/no-such-node": "true"})
    )

    # then the scheduler finds no node for them
    def unschedulable_pods() -> list[Any]:
        pods = _pods(core, namespace, "app=nowhere")
        scheduled = [_condition(p, "PodScheduled") for p in pods]
        if len(pods) == 2 and all(c is not None and c.reason == "Unschedulable" for c in scheduled):
            return pods
        return []

    wait_for(unschedulable_pods, timeout=30, message="the pods were not reported Unschedulable")

    # and they stay Pending, so the Deployment never gets an available replica
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert not _deployment_status(apps, "nowhere", namespace).available_replicas
        for pod in _pods(core, namespace, "app=nowhere"):
            assert pod.status.phase == "Pending"
            assert not pod.spec.node_name
        time.sleep(0.5)
