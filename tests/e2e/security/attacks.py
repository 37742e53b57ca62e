"""The cast and props of the attack tests: tenants (namespaces) whose users hold only the chart's user roles, what
an attack must leave untouched, and the error the attacker must get.

Every attack is made as a user (kubectl `--as`) bound to some of the chart's ClusterRoles (`convoy-e2e-view`,
`-deploy`, `-approve`, `-rollback`) in one namespace; setup and checks are made as the cluster admin. An attack
"had no effect" when the victim's Deployments kept their image, replicas, generation and Convoy annotations, no Job
appeared, and no run of the victim moved; it is checked once the attacked run reached a final or waiting state,
or after a bounded wait.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import yaml
from harness import GROUP, RELEASE, VERSION, Runs, deployment_manifest, kubectl, onboard_tenant
from kubernetes import client
from waiting import wait_for

API_VERSION = f"{GROUP}/{VERSION}"
ROLES = ("view", "deploy", "approve", "rollback")
RUN_SETTLED = (
    "Succeeded", "Failed", "RolledBack", "Aborted", "WaitingForApproval", "WaitingAtBarrier", "Paused",
    "WaitingForIntervention",
)  # fmt: skip
RUN_FINISHED = ("Succeeded", "Failed", "RolledBack", "Aborted")
PIPELINE_SETTLED = ("Succeeded", "Failed", "Aborted", "WaitingForApproval")
V1 = "registry.example/web:1.0"


def manifest(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """A Convoy object."""
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}


def grant(name: str, sources: list[tuple[str, str]], targets: list[tuple[str, str | None]]) -> dict[str, Any]:
    """A Grant: objects of kind K in namespace N (`sources`) may refer to `targets` (kind, name or None)."""
    spec = {
        "from": [{"kind": kind, "namespace": namespace} for kind, namespace in sources],
        "to": [{"kind": kind, **({"name": name} if name else {})} for kind, name in targets],
    }
    return manifest("Grant", name, spec)


@dataclass(frozen=True)
class DeploymentState:
    """What an attack on a Deployment would change."""

    images: tuple[str, ...]
    replicas: int
    generation: int
    paused: bool
    convoy_annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Untouched:
    """What a namespace held before an attack: its Deployments, Jobs and WorkflowRuns."""

    deployments: dict[str, DeploymentState]
    jobs: frozenset[str]
    runs: dict[str, str]
    """WorkflowRun name -> phase."""


class Tenant:
    """One namespace of an attack: its objects as the admin sees them, and its users, each with chart roles."""

    def __init__(self, api: client.ApiClient, kubeconfig: str, namespace: str) -> None:
        self.api = api
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.runs = Runs(api, kubeconfig, namespace)
        self.rbac = client.RbacAuthorizationV1Api(api)

    # --- setup, as the admin -------------------------------------------------------------------------------------

    def apply(self, *bodies: dict[str, Any]) -> None:
        self.runs.apply(yaml.safe_dump_all(bodies))

    def allow(self, user: str, *roles: str) -> None:
        """Bind `user` to the chart's user ClusterRoles `roles` (view, deploy, approve, rollback) here."""
        for role in roles:
            assert role in ROLES, role
            binding = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{user}-{role}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": f"{RELEASE}-{role}",
                },
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            }
            self.apply(binding)

    def allow_rules(self, user: str, name: str, rules: list[dict[str, Any]]) -> None:
        """A Role of its own for `user` (a right outside Convoy's roles, e.g. editing ConfigMaps)."""
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name},
            "rules": rules,
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        self.apply(role, binding)

    def deployment(self, name: str = "web", image: str = V1, replicas: int = 2) -> str:
        """A Deployment at `image` with every pod available."""
        self.runs.apply(deployment_manifest(name, image, replicas=replicas))
        wait_for(lambda: self.available(name, image), 60, message=f"{self.namespace}/{name} not available")
        return name

    def available(self, name: str, image: str) -> bool:
        d = self.runs.deployment(name)
        return bool(
            d.spec.template.spec.containers[0].image == image
            and d.status.available_replicas == d.spec.replicas
            and d.status.updated_replicas == d.spec.replicas
        )

    # --- attacks, as a user --------------------------------------------------------------------------------------

    def as_user(self, user: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl as `user` (impersonated by the admin) in this namespace; the result, refused or not."""
        return kubectl(self.kubeconfig, "--as", user, "-n", self.namespace, *args, stdin=stdin, check=False)

    def create_as(self, user: str, *bodies: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.as_user(user, "create", "-f", "-", stdin=yaml.safe_dump_all(bodies))

    def decide_as(
        self, user: str, plural: str, name: str, decision: dict[str, Any]
    ) -> subprocess.CompletedProcess[str]:
        """Append a decision as `kubectl convoy` does (a JSON patch), as `user`."""
        patch = json.dumps([{"op": "add", "path": "/spec/decisions/-", "value": decision}])
        return self.as_user(user, "patch", plural, name, "--type=json", "-p", patch)

    def annotate_as(
        self, user: str, plural: str, name: str, annotations: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        patch = json.dumps({"metadata": {"annotations": annotations}})
        return self.as_user(user, "patch", plural, name, "--type=merge", "-p", patch)

    # --- checks, as the admin ------------------------------------------------------------------------------------

    def custom_list(self, plural: str) -> list[dict[str, Any]]:
        found = cast(
            dict[str, Any], self.runs.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)
        )
        return list(found["items"])

    def exists(self, plural: str, name: str) -> bool:
        return any(item["metadata"]["name"] == name for item in self.custom_list(plural))

    def snapshot(self) -> Untouched:
        deployments: dict[str, DeploymentState] = {}
        for d in cast(Any, self.runs.apps.list_namespaced_deployment(self.namespace)).items:
            annotations = d.metadata.annotations or {}
            deployments[d.metadata.name] = DeploymentState(
                images=tuple(c.image for c in d.spec.template.spec.containers),
                replicas=d.spec.replicas,
                generation=d.metadata.generation,
                paused=bool(d.spec.paused),
                convoy_annotations=tuple(sorted((k, v) for k, v in annotations.items() if "convoy.dev" in k)),
            )
        jobs = frozenset(
            str(j.metadata.name) for j in cast(Any, self.runs.batch.list_namespaced_job(self.namespace)).items
        )
        runs = {
            r["metadata"]["name"]: str((r.get("status") or {}).get("phase")) for r in self.custom_list("workflowruns")
        }
        return Untouched(deployments, jobs, runs)

    def assert_untouched(self, before: Untouched) -> None:
        """Nothing the attack could have changed here changed."""
        after = self.snapshot()
        assert after.deployments == before.deployments, f"Deployments of {self.namespace} changed"
        assert after.jobs == before.jobs, f"Jobs appeared in {self.namespace}: {sorted(after.jobs - before.jobs)}"
        assert after.runs == before.runs, f"WorkflowRuns of {self.namespace} changed"

    def settle(self, name: str, plural: str = "workflowruns", timeout: float = 60) -> dict[str, Any]:
        """The status of a run once it reached a final or waiting state."""
        phases = PIPELINE_SETTLED if plural == "pipelineruns" else RUN_SETTLED
        return self.runs.wait_phase(name, *phases, timeout=timeout, plural=plural)

    def story(self, name: str, plural: str = "workflowruns") -> str:
        """Everything a run says about itself: its status and its Events (reasons and messages)."""
        status = self.runs.status(name, plural) if self.exists(plural, name) else {}
        events = [f"{e.reason}: {e.message}" for e in self.runs.events(name)]
        return json.dumps(status) + "\n" + "\n".join(events)

    def wait_story(self, name: str, *phrases: str, plural: str = "workflowruns", timeout: float = 30) -> str:
        """The run's story once it says every one of `phrases` (case-insensitive)."""

        def told() -> str | None:
            text = self.story(name, plural)
            return text if all(p.lower() in text.lower() for p in phrases) else None

        try:
            return wait_for(told, timeout, 0.5, f"{plural} {name} never said {phrases}")
        except AssertionError as error:
            raise AssertionError(f"{error}\nstory: {self.story(name, plural)[:4000]}") from None


def refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """The API server refused the request, and its message says each of `phrases` (case-insensitive)."""
    assert result.returncode != 0, f"the request was accepted: {result.stdout}"
    message = result.stderr.lower()
    missing = [p for p in phrases if p.lower() not in message]
    assert not missing, f"the refusal does not say {missing}: {result.stderr.strip()}"


def accepted(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr.strip()


def holds(check: Callable[[], bool], seconds: float, interval: float = 0.5) -> None:
    """`check()` stays true for `seconds` (a bounded wait for an attack that must have no effect)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), "the attack took effect"
        time.sleep(interval)


# Fixtures (re-exported by conftest.py)


@pytest.fixture
def victim(api_client: client.ApiClient, kubeconfig: str, namespace: str) -> Tenant:
    """Given the victim's namespace ("prod-like") with Deployment web at v1, every pod available."""
    tenant = Tenant(api_client, kubeconfig, namespace)
    tenant.deployment("web")
    return tenant


@pytest.fixture
def attacker(api_client: client.ApiClient, kubeconfig: str, namespace: str) -> Iterator[Tenant]:
    """Given the attacker's namespace ("team-a-like"), onboarded like the victim's, with its own Deployment web at
    v1, and user mallory holding the chart's deploy and view roles there (and nothing else anywhere)."""
    core = client.CoreV1Api(api_client)
    name = f"{namespace[:50].rstrip('-')}-team-a"
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"convoy.dev/e2e": "true"}))
    )
    try:
        wait_for(
            lambda: any(
                a.metadata.name == "default" for a in cast(Any, core.list_namespaced_service_account(name)).items
            ),
            30,
            message=f"the default ServiceAccount of namespace {name} was not created",
        )
        onboard_tenant(api_client, name)
        tenant = Tenant(api_client, kubeconfig, name)
        tenant.deployment("web")
        tenant.allow("mallory", "deploy", "view")
        yield tenant
    finally:
        core.delete_namespace(name, propagation_policy="Background")
