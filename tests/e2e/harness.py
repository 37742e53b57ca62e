"""The operator under test, as a real process (so a test can SIGKILL it), plus small kubectl-style helpers.

Fixtures here are imported by conftest.py: `crds` installs the generated CRDs once per session, `convoy` runs
one operator for the session (tests may kill and restart it), and the operator's log is attached to the report
of every failing test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client, config
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "convoy.dev", "v1alpha1"


E2E_LABEL = "convoy.dev/e2e"
"""Every namespace the e2e tests create carries it."""


def new_api_client(kubeconfig: str) -> client.ApiClient:
    """An ApiClient for the current context of ``kubeconfig`` (a path, or several joined by os.pathsep)."""
    api: client.ApiClient = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    return api


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kubectl(
    kubeconfig: str, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not on PATH: run the e2e tests through `make e2e`", pytrace=False)
    return subprocess.run(
        [binary, "--kubeconfig", kubeconfig, *args],
        input=stdin,
        text=True,
        capture_output=True,
        check=check,
        timeout=120,
    )


def apply(kubeconfig: str, namespace: str, manifest: str) -> None:
    result = kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    if result.returncode != 0:
        raise AssertionError(f"kubectl apply failed: {result.stderr.strip()}")


class Operator:
    """One `convoy` operator process with its own webhook, metrics and liveness ports; `flags` are added to its
    command line (e.g. `--peering` for a replica of a highly available pair)."""

    def __init__(self, kubeconfig: str, workdir: Path, flags: Sequence[str] = ()) -> None:
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.flags = tuple(flags)
        self.log_path = workdir / "operator.log"
        self.webhook_port = free_port()
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_offset = 0

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== operator start #{self.starts} =====\n".encode())
        log.flush()
        self.log_offset = log.tell()
        command = [
            sys.executable, "-m", "convoy.main",
            "--webhook-port", str(self.webhook_port),
            "--webhook-certs", str(self.workdir / "certs"),
            "--seal-key-file", str(self.workdir.parent / "seal.key"),  # one key for every replica of the session
            "--metrics-port", str(self.metrics_port),
            "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz",
            *self.flags,
        ]  # fmt: skip
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        log.close()
        wait_for(self._ready, 60, 0.3, "the operator did not become ready (see its log)")

    def _ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"the operator exited at start:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2) as response:
                alive = response.status == 200
        except OSError:
            return False
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            this_start = log.read().decode(errors="replace")
        return alive and all(f"Reconfiguring the {kind} webhook" in this_start for kind in ("validating", "mutating"))

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def tail(self, lines: int = 80) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text


@pytest.fixture(scope="session")
def crds(kubeconfig: str) -> None:
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "-f", str(ROOT / "crds"))


IDENTITY_NAMESPACE, RELEASE = "convoy-e2e-system", "convoy-e2e"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


@pytest.fixture(scope="session")
def operator_kubeconfig(kubeconfig: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The operator's identity in the e2e suite: the Helm chart's ServiceAccount with exactly the chart's RBAC,
    so a permission the code needs but the chart lacks fails a test. CONVOY_E2E_OPERATOR_AS=admin runs it with
    the test's own (admin) kubeconfig instead."""
    if os.environ.get("CONVOY_E2E_OPERATOR_AS") == "admin":
        return kubeconfig
    helm = shutil.which("helm")
    if helm is None:
        pytest.fail("helm is not on PATH: run the e2e tests through `make e2e`", pytrace=False)
    rendered = subprocess.run(
        [helm, "template", RELEASE, str(ROOT / "charts" / "convoy"), "--namespace", IDENTITY_NAMESPACE],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    rbac = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in RBAC_KINDS]
    kubectl(kubeconfig, "create", "namespace", IDENTITY_NAMESPACE, check=False)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    account = next(d["metadata"]["name"] for d in rbac if d["kind"] == "ServiceAccount")
    token = kubectl(kubeconfig, "create", "token", account, "-n", IDENTITY_NAMESPACE, "--duration=24h").stdout.strip()
    admin = yaml.safe_load(kubectl(kubeconfig, "config", "view", "--raw", "--minify", "--flatten").stdout)
    identity = {
        **admin,
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": admin["clusters"][0]["name"], "user": account}}],
        "current-context": "operator",
    }
    path = tmp_path_factory.mktemp("identity") / "kubeconfig"
    path.write_text(yaml.safe_dump(identity))
    return str(path)


@pytest.fixture(scope="session")
def convoy(operator_kubeconfig: str, crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    operator = Operator(operator_kubeconfig, tmp_path_factory.mktemp("operator"))
    operator.start()
    yield operator
    operator.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for name, operator in getattr(item, "funcargs", {}).items():
            if isinstance(operator, Operator):
                report.sections.append((f"operator log of `{name}` (last lines)", operator.tail(150)))
    return report


class Runs:
    """Reading and writing Convoy objects in one namespace, for the tests."""

    def __init__(self, api: client.ApiClient, kubeconfig: str, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def apply(self, manifest: str) -> None:
        apply(self.kubeconfig, self.namespace, manifest)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)
        return cast(dict[str, Any], obj)

    def status(self, name: str, plural: str = "workflowruns") -> dict[str, Any]:
        status: dict[str, Any] = self.get(plural, name).get("status") or {}
        return status

    def wait_phase(self, name: str, *phases: str, timeout: float = 60, plural: str = "workflowruns") -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status = self.status(name, plural)
            return status if status.get("phase") in phases else None

        try:
            return wait_for(reached, timeout, 0.3, f"{plural} {name} did not reach {phases}")
        except AssertionError as error:
            raise AssertionError(f"{error}\nstatus: {json.dumps(self.status(name, plural), indent=1)[:4000]}") from None

    def decide(self, name: str, decision: dict[str, Any], plural: str = "workflowruns") -> None:
        """Append a decision as `kubectl convoy` does (a JSON patch that adds to spec.decisions)."""
        obj = self.get(plural, name)
        ops: list[dict[str, Any]] = []
        if "decisions" not in obj["spec"]:
            ops.append({"op": "add", "path": "/spec/decisions", "value": []})
        ops.append({"op": "add", "path": "/spec/decisions/-", "value": decision})
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name, ops, _content_type="application/json-patch+json"
        )

    def deployment(self, name: str) -> Any:
        return self.apps.read_namespaced_deployment(name, self.namespace)

    def image(self, name: str) -> str:
        image: str = self.deployment(name).spec.template.spec.containers[0].image
        return image

    def job_names(self, run: str) -> list[str]:
        jobs = self.batch.list_namespaced_job(self.namespace, label_selector=f"convoy.dev/run={run}")
        return sorted(
            item["metadata"]["name"] for item in self.batch.api_client.sanitize_for_serialization(jobs)["items"]
        )

    def events(self, name: str) -> list[Any]:
        found = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        return list(found.items)

    def reasons(self, name: str) -> list[str]:
        return [e.reason for e in sorted(self.events(name), key=lambda e: e.metadata.creation_timestamp)]


@pytest.fixture
def runs(api_client: client.ApiClient, kubeconfig: str, namespace: str) -> Runs:
    return Runs(api_client, kubeconfig, namespace)


def deployment_manifest(name: str, image: str, replicas: int = 3, **extra: Any) -> str:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
            **extra,
        },
    }
    return yaml.safe_dump(body)


def grant_decisions(runs: Runs, plural: str, users: tuple[str, ...] = ("alice", "mallory")) -> None:
    """Let `users` read and patch (decide on) objects of `plural` in the test's namespace."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "deciders"},
        "rules": [{"apiGroups": [GROUP], "resources": [plural], "verbs": ["get", "patch"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "deciders"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deciders"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users],
    }
    runs.apply(yaml.safe_dump_all([role, binding]))


def decide_as(
    runs: Runs, user: str, kind: str, name: str, decision: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """Append a decision as `user` (impersonated), as `kubectl convoy` would; the result, refused or not."""
    patch = json.dumps([{"op": "add", "path": "/spec/decisions/-", "value": decision}])
    return kubectl(
        runs.kubeconfig, "--as", user, "-n", runs.namespace, "patch", kind, name, "--type=json", "-p", patch,
        check=False,
    )  # fmt: skip


RUNNER = "convoy-runner"


def onboard_tenant(api_client: client.ApiClient, namespace: str, account: str = RUNNER) -> None:
    """What a platform team does for each namespace that uses Convoy (docs/security.md): the ServiceAccount the
    operator acts as there, bound to the chart's `convoy-runner` ClusterRole."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account))
    )
    binding = client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name=account),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=RUNNER),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name=account, namespace=namespace)],
    )
    rbac.create_namespaced_role_binding(namespace, binding)
