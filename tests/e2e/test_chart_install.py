"""The Helm chart on a real API server: every rendered object is accepted, and its RBAC, installed for real, lets
the operator's ServiceAccount do what the code needs and nothing it must not — and keeps rolling back a right
of its own, apart from deploying (issue 7)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import ROOT, kubectl

pytestmark = pytest.mark.e2e
CHART = ROOT / "charts" / "convoy"
HOOK = "helm.sh/hook"


@functools.cache
def helm_binary() -> str:
    found = shutil.which("helm")
    if found:
        return found
    cache = Path(
        os.environ.get("CONVOY_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convoy"
    )
    built = sorted(cache.glob("*/bin/helm"))
    if not built:
        pytest.fail(f"helm is not on PATH nor in {cache}/*/bin: run `hack/build-tools.sh`", pytrace=False)
    return str(built[-1])


def render(namespace: str, *sets: str, only: tuple[str, ...] = (), crds: bool = False) -> list[dict[str, Any]]:
    """The chart as `helm template` renders it, released under the namespace's name so that the cluster-scoped
    names (ClusterRoles, bindings) are unique to the test."""
    command = [helm_binary(), "template", namespace, str(CHART), "--namespace", namespace]
    command += [flag for value in sets for flag in ("--set", value)]
    command += [flag for template in only for flag in ("--show-only", f"templates/{template}")]
    command += ["--include-crds"] if crds else []
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def as_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs)


@pytest.fixture
def release(kubeconfig: str, namespace: str) -> Iterator[str]:
    """A release named after the test's namespace; its cluster-scoped objects are deleted after the test."""
    yield namespace
    selector = f"app.kubernetes.io/instance={namespace}"
    kubectl(kubeconfig, "delete", "clusterrole,clusterrolebinding", "-l", selector, "--wait=false", check=False)


def can_i(kubeconfig: str, who: str, verb: str, resource: str, namespace: str, *extra: str) -> bool:
    """`kubectl auth can-i` as someone else (impersonation by the admin credentials)."""
    result = kubectl(kubeconfig, "auth", "can-i", verb, resource, "-n", namespace, f"--as={who}", *extra, check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), f"can-i {verb} {resource}: {result.stderr}"
    return answer == "yes"


@pytest.mark.parametrize(
    "sets",
    [
        pytest.param((), id="defaults"),
        pytest.param(("replicaCount=2",), id="ha"),
        pytest.param(("logFormat=json", "rbac.aggregateToDefaultRoles=false"), id="json-no-aggregation"),
    ],
)
def test_the_rendered_chart_is_accepted_by_the_api_server(
    kubeconfig: str, crds: None, namespace: str, sets: tuple[str, ...]
) -> None:
    # Given the chart rendered for the test's namespace, its CRDs included
    docs = render(namespace, *sets, crds=True)
    # The peering object is a post-install hook whose CRD the same install creates: a dry run cannot accept it
    # before its CRD exists, so it is left out (its CRD is dry-run with the rest).
    hooks = [d for d in docs if HOOK in (d["metadata"].get("annotations") or {})]
    assert {d["kind"] for d in hooks} <= {"ClusterKopfPeering"}
    # When it is applied with a server-side dry run
    objects = [d for d in docs if d not in hooks]
    result = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=as_yaml(objects), check=False)
    # Then the API server accepts every object
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(objects), result.stdout


def test_the_namespaced_chart_is_accepted_by_the_api_server(kubeconfig: str, namespace: str) -> None:
    # Given the chart rendered to watch the test's namespace only (a Role and RoleBinding there)
    docs = render(namespace, f"watchNamespaces={{{namespace}}}")
    assert {("Role", namespace), ("RoleBinding", namespace)} <= {
        (d["kind"], d["metadata"].get("namespace")) for d in docs
    }
    # When it is applied with a server-side dry run, then the API server accepts it
    result = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=as_yaml(docs), check=False)
    assert result.returncode == 0, result.stderr


# (allowed, verb, resource, extra kubectl auth can-i flags): what the operator's code needs, and what it must not get.
# It observes tenants' objects but changes none of them: those changes are made as the tenant (below).
OPERATOR_CAN = [
    pytest.param(True, "watch", "deployments.apps", (), id="watch-deployments"),
    pytest.param(True, "get", "deployments.apps", (), id="read-deployments"),
    pytest.param(False, "patch", "deployments.apps", (), id="not-patch-deployments"),
    pytest.param(False, "create", "deployments.apps", (), id="not-create-deployments"),
    pytest.param(False, "delete", "deployments.apps", (), id="not-delete-deployments"),
    pytest.param(False, "update", "deployments.apps", (), id="not-update-deployments"),
    pytest.param(True, "get", "services", (), id="read-services"),
    pytest.param(False, "patch", "services", (), id="not-patch-services"),
    pytest.param(True, "get", "httproutes.gateway.networking.k8s.io", (), id="read-httproutes"),
    pytest.param(False, "patch", "httproutes.gateway.networking.k8s.io", (), id="not-patch-httproutes"),
    pytest.param(True, "list", "horizontalpodautoscalers.autoscaling", (), id="list-hpas"),
    pytest.param(False, "patch", "horizontalpodautoscalers.autoscaling", (), id="not-patch-hpas"),
    pytest.param(True, "watch", "jobs.batch", (), id="watch-jobs"),
    pytest.param(False, "create", "jobs.batch", (), id="not-create-jobs"),
    pytest.param(False, "delete", "jobs.batch", (), id="not-delete-jobs"),
    pytest.param(True, "get", "configmaps", (), id="read-snapshots"),
    pytest.param(False, "create", "configmaps", (), id="not-create-configmaps"),
    pytest.param(False, "delete", "configmaps", (), id="not-delete-configmaps"),
    pytest.param(True, "create", "events", (), id="create-events"),
    pytest.param(False, "get", "secrets", (), id="not-read-secrets"),
    pytest.param(False, "list", "secrets", (), id="not-list-secrets"),
    pytest.param(True, "patch", "workflowruns.convoy.dev", (), id="annotate-workflowruns"),
    pytest.param(True, "create", "workflowruns.convoy.dev", (), id="create-workflowruns-for-triggers"),
    pytest.param(True, "patch", "workflowruns.convoy.dev", ("--subresource=status",), id="patch-run-status"),
    pytest.param(True, "patch", "workflows.convoy.dev", ("--subresource=status",), id="patch-workflow-status"),
    pytest.param(True, "patch", "pipelineruns.convoy.dev", ("--subresource=status",), id="patch-pipelinerun-status"),
    pytest.param(True, "watch", "rollbacks.convoy.dev", (), id="watch-rollbacks"),
    pytest.param(True, "patch", "rollbacks.convoy.dev", ("--subresource=status",), id="patch-rollback-status"),
    pytest.param(False, "patch", "rollbacks.convoy.dev", (), id="not-patch-rollback-specs"),
    pytest.param(False, "create", "rollbacks.convoy.dev", (), id="not-create-rollbacks"),
    pytest.param(True, "list", "pipelines.convoy.dev", (), id="list-pipelines"),
    pytest.param(True, "list", "grants.convoy.dev", (), id="list-grants"),
    pytest.param(False, "create", "grants.convoy.dev", (), id="not-create-grants"),
    pytest.param(False, "delete", "workflows.convoy.dev", (), id="not-delete-workflows"),
    pytest.param(True, "watch", "customresourcedefinitions.apiextensions.k8s.io", (), id="watch-crds"),
    pytest.param(True, "create", "validatingwebhookconfigurations.admissionregistration.k8s.io", (), id="create-wh"),
    pytest.param(True, "patch", "mutatingwebhookconfigurations/convoy.dev", (), id="patch-own-webhook"),
    pytest.param(False, "patch", "mutatingwebhookconfigurations/someone-else", (), id="not-patch-other-webhooks"),
    pytest.param(False, "delete", "validatingwebhookconfigurations/convoy.dev", (), id="not-delete-webhooks"),
    pytest.param(True, "create", "subjectaccessreviews.authorization.k8s.io", (), id="ask-subject-access-reviews"),
    pytest.param(True, "impersonate", "serviceaccounts/convoy-runner", (), id="impersonate-the-runner"),
    pytest.param(False, "impersonate", "serviceaccounts/default", (), id="not-impersonate-other-accounts"),
    pytest.param(False, "impersonate", "serviceaccounts", (), id="not-impersonate-any-account"),
    pytest.param(False, "impersonate", "users", (), id="not-impersonate-users"),
    pytest.param(False, "impersonate", "groups", (), id="not-impersonate-groups"),
    pytest.param(True, "get", "pods", (), id="read-pods-for-build-outputs"),
    pytest.param(False, "delete", "pods", (), id="not-delete-pods"),
    pytest.param(False, "create", "pods", ("--subresource=exec",), id="not-exec-into-pods"),
    pytest.param(False, "create", "serviceaccounts", ("--subresource=token",), id="not-mint-tokens"),
    pytest.param(False, "create", "clusterrolebindings.rbac.authorization.k8s.io", (), id="not-bind-cluster-roles"),
    pytest.param(False, "create", "rolebindings.rbac.authorization.k8s.io", (), id="not-bind-roles"),
    pytest.param(False, "create", "namespaces", (), id="not-create-namespaces"),
    pytest.param(False, "list", "namespaces", (), id="not-list-namespaces-cluster-wide"),
]


@pytest.fixture
def operator_identity(kubeconfig: str, crds: None, namespace: str, release: str) -> str:
    """The operator's ServiceAccount with the chart's ClusterRole bound to it, installed for real."""
    docs = render(release, only=("serviceaccount.yaml", "rbac-operator.yaml"))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=as_yaml(docs))
    [account] = [d for d in docs if d["kind"] == "ServiceAccount"]
    return f"system:serviceaccount:{namespace}:{account['metadata']['name']}"


@pytest.mark.parametrize(("allowed", "verb", "resource", "extra"), OPERATOR_CAN)
def test_the_operator_service_account_has_what_the_code_needs_and_no_more(
    kubeconfig: str,
    namespace: str,
    operator_identity: str,
    allowed: bool,
    verb: str,
    resource: str,
    extra: tuple[str, ...],
) -> None:
    # Given the chart's RBAC installed, when the operator's identity asks, then the answer is the table's
    assert can_i(kubeconfig, operator_identity, verb, resource, namespace, *extra) is allowed


def test_watching_namespaces_confines_the_operator_to_them(
    kubeconfig: str, crds: None, namespace: str, release: str
) -> None:
    # Given the chart's RBAC for an operator that watches the test's namespace only
    docs = render(release, f"watchNamespaces={{{namespace}}}", only=("serviceaccount.yaml", "rbac-operator.yaml"))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=as_yaml(docs))
    [account] = [d for d in docs if d["kind"] == "ServiceAccount"]
    operator = f"system:serviceaccount:{namespace}:{account['metadata']['name']}"
    # When it asks, then it may work in its namespace, and only there
    assert can_i(kubeconfig, operator, "watch", "deployments.apps", namespace)
    assert can_i(kubeconfig, operator, "patch", "workflowruns.convoy.dev", namespace, "--subresource=status")
    assert can_i(kubeconfig, operator, "impersonate", "serviceaccounts/convoy-runner", namespace)
    assert not can_i(kubeconfig, operator, "watch", "deployments.apps", "default")
    assert not can_i(kubeconfig, operator, "impersonate", "serviceaccounts/convoy-runner", "default")
    assert not can_i(kubeconfig, operator, "list", "workflowruns.convoy.dev", "default")
    # and still sees the cluster-scoped things kopf needs
    assert can_i(kubeconfig, operator, "watch", "namespaces", namespace)
    assert can_i(kubeconfig, operator, "watch", "customresourcedefinitions.apiextensions.k8s.io", namespace)
    assert can_i(kubeconfig, operator, "create", "subjectaccessreviews.authorization.k8s.io", namespace)


def test_only_the_rollback_role_may_create_rollbacks(kubeconfig: str, crds: None, namespace: str, release: str) -> None:
    # Given the chart's user roles, a deployer bound to the deploy role only and an on-call engineer bound to the
    # rollback role only (no aggregation, so the cluster's built-in roles stay as they are)
    roles = render(release, "rbac.aggregateToDefaultRoles=false", only=("rbac-users.yaml",))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=as_yaml(roles))
    role_names = {d["metadata"]["name"].rsplit("-", 1)[1]: d["metadata"]["name"] for d in roles}
    deployer, oncall = f"deployer-{namespace}", f"oncall-{namespace}"
    for user, role in ((deployer, "deploy"), (oncall, "rollback")):
        kubectl(
            kubeconfig, "create", "rolebinding", user, f"--clusterrole={role_names[role]}", f"--user={user}",
            "-n", namespace,
        )  # fmt: skip
    # When each asks the API server, then the deployer runs workflows but can neither roll back nor decide
    assert can_i(kubeconfig, deployer, "create", "workflowruns.convoy.dev", namespace)
    assert not can_i(kubeconfig, deployer, "create", "rollbacks.convoy.dev", namespace)
    assert not can_i(kubeconfig, deployer, "patch", "workflowruns.convoy.dev", namespace)
    # and the rollback role rolls back but does not deploy
    assert can_i(kubeconfig, oncall, "create", "rollbacks.convoy.dev", namespace)
    assert not can_i(kubeconfig, oncall, "create", "workflowruns.convoy.dev", namespace)


def test_the_operator_acts_as_the_runner_a_tenant_bound_and_nothing_more(
    kubeconfig: str, operator_kubeconfig: str, namespace: str
) -> None:
    # Given the operator under the chart's RBAC (operator_kubeconfig, which installs the convoy-runner ClusterRole
    # with it) and a tenant namespace that bound convoy-runner to its ServiceAccount (the namespace fixture does,
    # as a platform team would)
    runner = f"system:serviceaccount:{namespace}:convoy-runner"

    def as_runner(verb: str, resource: str, in_namespace: str, *extra: str) -> bool:
        return can_i(operator_kubeconfig, runner, verb, resource, in_namespace, *extra)

    # When the operator acts as the runner, then it may do what workflows do, in the tenant's namespace
    for verb, resource in (
        ("patch", "deployments.apps"),
        ("create", "deployments.apps"),
        ("delete", "deployments.apps"),
        ("patch", "services"),
        ("patch", "httproutes.gateway.networking.k8s.io"),
        ("patch", "horizontalpodautoscalers.autoscaling"),
        ("create", "jobs.batch"),
        ("create", "configmaps"),
        ("get", "secrets"),
        ("create", "workflowruns.convoy.dev"),
    ):
        assert as_runner(verb, resource, namespace), f"the runner may not {verb} {resource}"
    # and nothing a workflow does not need, nor anywhere else
    for verb, resource, where in (
        ("list", "secrets", namespace),
        ("create", "rolebindings.rbac.authorization.k8s.io", namespace),
        ("create", "pods", namespace),
        ("update", "deployments.apps", namespace),
        ("patch", "deployments.apps", "default"),
        ("get", "secrets", "default"),
        ("create", "events", namespace),
        ("delete", "horizontalpodautoscalers.autoscaling", namespace),
    ):
        assert not as_runner(verb, resource, where), f"the runner may {verb} {resource} in {where}"
    # and it cannot act as any other ServiceAccount of the namespace
    other = kubectl(
        operator_kubeconfig, "auth", "can-i", "get", "secrets", "-n", namespace,
        f"--as=system:serviceaccount:{namespace}:default", check=False,
    )  # fmt: skip
    assert other.returncode != 0 and "cannot impersonate" in other.stderr, other.stderr
