"""Fixtures for the e2e tests: a cluster (any cluster via $KUBECONFIG, else the local dev cluster) and a fresh
namespace per test."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import E2E_LABEL, new_api_client
from kubernetes import client
from waiting import wait_for


def _dev_cluster_kubeconfig() -> Path:
    state = os.environ.get("CONVOY_CLUSTER_DIR") or str(Path.home() / ".cache" / "convoy" / "cluster")
    return Path(state) / "kubeconfig"


def _cluster_answers(kubeconfig: str) -> str | None:
    """None if the cluster behind ``kubeconfig`` answers, else why not."""
    try:
        api = new_api_client(kubeconfig)
    except Exception as e:
        return f"cannot load it: {e}"
    with api:
        try:
            client.VersionApi(api).get_code(_request_timeout=5)
        except Exception as e:
            return f"the API server does not answer: {e}"
    return None


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """Path of the kubeconfig to test against: $KUBECONFIG if set (kind or any cluster), else the local dev
    cluster's ($CONVOY_CLUSTER_DIR/kubeconfig, default ~/.cache/convoy/cluster/kubeconfig)."""
    from_env = os.environ.get("KUBECONFIG")
    if from_env:
        problem = _cluster_answers(from_env)
        if problem:
            pytest.fail(f"KUBECONFIG={from_env}: {problem}", pytrace=False)
        return from_env
    path = _dev_cluster_kubeconfig()
    if not path.is_file():
        pytest.fail(
            f"no cluster for the e2e tests: KUBECONFIG is not set and {path} does not exist. "
            "Run `make cluster-up` (hack/devcluster up) first, or set KUBECONFIG.",
            pytrace=False,
        )
    problem = _cluster_answers(str(path))
    if problem:
        pytest.fail(
            f"no cluster for the e2e tests: {path}: {problem}. "
            "Run `make cluster-up` (hack/devcluster up) first, or set KUBECONFIG.",
            pytrace=False,
        )
    return str(path)


@pytest.fixture(scope="session")
def api_client(kubeconfig: str) -> Iterator[client.ApiClient]:
    with new_api_client(kubeconfig) as api:
        yield api


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"e2e-{slug}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(api_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (labelled convoy.dev/e2e=true) whose default ServiceAccount exists; deleted after the
    test without waiting for it to vanish."""
    core = client.CoreV1Api(api_client)
    name = _namespace_name(request.node.name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={E2E_LABEL: "true"})))
    try:
        # Pods created directly (not via a controller) are rejected until the ServiceAccount controller has
        # created the namespace's default ServiceAccount.
        wait_for(
            lambda: _exists(lambda: core.read_namespaced_service_account("default", name)),
            timeout=30,
            message=f"the default ServiceAccount of namespace {name} was not created",
        )
        onboard_tenant(api_client, name)
        yield name
    finally:
        try:
            core.delete_namespace(name, propagation_policy="Background")
        except client.ApiException as e:
            if e.status != 404:
                raise


def _exists(read: Callable[[], object]) -> bool:
    try:
        read()
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


from harness import convoy, crds, onboard_tenant, operator_kubeconfig, pytest_runtest_makereport, runs  # noqa: E402,F401  (fixtures and report hook)
