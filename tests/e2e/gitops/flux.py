"""Flux for the GitOps tests: the session's source-controller and kustomize-controller (`hack/devcluster flux up`,
built from source by hack/build-flux.sh), a git repository per test served on loopback, and the GitRepository and
Kustomization that sync it into the test's namespace. Tests change the cluster only by committing to that
repository. conftest.py re-exports the fixtures (a module of its own, so type checking tells it apart from the
suite's conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from harness import ROOT, kubectl
from kubernetes import client
from waiting import wait_for

SOURCE, KUSTOMIZE = "source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"
SYNC_INTERVAL = "2s"  # how often Flux fetches and applies: several times in every phase of a canary
GIT = ["git", "-c", "user.name=GitOps Test", "-c", "user.email=gitops@convoy.invalid", "-c", "init.defaultBranch=main"]


@dataclass(frozen=True)
class Flux:
    git_root: Path  # bare repositories, pushed to by path
    git_url: str  # what GitRepositories pull from: <git_url>/<name>.git
    logs: Path  # the controllers' logs


def _cluster_dir() -> Path:
    return Path(os.environ.get("CONVOY_CLUSTER_DIR") or Path.home() / ".cache" / "convoy" / "cluster")


def _devcluster(*args: str) -> str:
    result = subprocess.run(
        [str(ROOT / "hack" / "devcluster"), *args], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"hack/devcluster {' '.join(args)} failed:\n{result.stderr[-4000:]}", pytrace=False)
    return result.stdout


@pytest.fixture(scope="session")
def flux(kubeconfig: str) -> Iterator[Flux]:
    """Flux's controllers for the session, on the local dev cluster (built on first use, then cached), stopped at
    the end."""
    if Path(kubeconfig).resolve() != (_cluster_dir() / "kubeconfig").resolve():
        pytest.fail(
            f"the GitOps tests run Flux beside the local dev cluster ({_cluster_dir()}), not {kubeconfig}",
            pytrace=False,
        )
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in _devcluster("flux", "up").splitlines() if "=" in line
    )
    try:
        yield Flux(Path(exports["CONVOY_GIT_ROOT"]), exports["CONVOY_GIT_URL"], _cluster_dir() / "logs")
    finally:
        _devcluster("flux", "down")


@dataclass
class Repo:
    """A git repository synced by Flux into one namespace: `commit` writes files and pushes them."""

    bare: Path
    work: Path
    name: str
    namespace: str
    kubeconfig: str

    def git(self, *args: str) -> str:
        done = subprocess.run([*GIT, *args], cwd=self.work, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def commit(self, message: str, files: dict[str, Any]) -> str:
        """Write each file (a manifest, or a list of manifests, as YAML), commit and push; the revision Flux will
        report (main@sha1:<sha>)."""
        for path, content in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            documents = content if isinstance(content, list) else [content]
            target.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", str(self.bare), "HEAD:main")
        sha = self.git("rev-parse", "HEAD")
        return f"main@sha1:{sha}"


def kustomization_status(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    obj = cast(dict[str, Any], custom.get_namespaced_custom_object(KUSTOMIZE, "v1", namespace, "kustomizations", name))
    status: dict[str, Any] = obj.get("status") or {}
    return status


def ready(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)


class Sync:
    """One test's git repository and the Flux objects that apply it to the test's namespace."""

    def __init__(self, repo: Repo, api: client.ApiClient, flux: Flux) -> None:
        self.repo = repo
        self.custom = client.CustomObjectsApi(api)
        self.flux = flux

    @property
    def namespace(self) -> str:
        return self.repo.namespace

    def start(self, **kustomization: Any) -> None:
        """Create the GitRepository and the Kustomization (extra spec fields in `kustomization`, e.g. wait=True)."""
        source = {
            "apiVersion": f"{SOURCE}/v1",
            "kind": "GitRepository",
            "metadata": {"name": self.repo.name},
            "spec": {"url": f"{self.flux.git_url}/{self.repo.name}.git", "ref": {"branch": "main"},
                     "interval": SYNC_INTERVAL, "timeout": "20s"},
        }  # fmt: skip
        sync = {
            "apiVersion": f"{KUSTOMIZE}/v1",
            "kind": "Kustomization",
            "metadata": {"name": self.repo.name},
            "spec": {
                "interval": SYNC_INTERVAL,
                "retryInterval": SYNC_INTERVAL,
                "timeout": "60s",
                "path": "./",
                "prune": True,
                "targetNamespace": self.namespace,
                "sourceRef": {"kind": "GitRepository", "name": self.repo.name},
                **kustomization,
            },
        }
        manifest = yaml.safe_dump_all([source, sync])
        kubectl(self.repo.kubeconfig, "apply", "-n", self.namespace, "-f", "-", stdin=manifest)

    def status(self) -> dict[str, Any]:
        return kustomization_status(self.custom, self.namespace, self.repo.name)

    def applied(self, revision: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until Flux applied `revision` and is Ready; the Kustomization's status."""

        def done() -> dict[str, Any] | None:
            status = self.status()
            synced = status.get("lastAppliedRevision") == revision and (ready(status) or {}).get("status") == "True"
            return status if synced else None

        return wait_for(done, timeout, 0.5, f"Flux did not apply {revision}: {json.dumps(self.status())[:3000]}")

    def reconciliations(self) -> int:
        """How many times kustomize-controller has finished reconciling this Kustomization so far (its log)."""
        count = 0
        for line in (self.flux.logs / "kustomize-controller.log").read_text(errors="replace").splitlines():
            if '"msg":"Reconciliation finished' not in line:
                continue
            entry = json.loads(line)
            if entry.get("namespace") == self.namespace and entry.get("name") == self.repo.name:
                count += 1
        return count


@pytest.fixture
def gitops(flux: Flux, api_client: client.ApiClient, kubeconfig: str, namespace: str, tmp_path: Path) -> Iterator[Sync]:
    """A fresh git repository named after the test's namespace, synced into it by Flux once `start`ed."""
    bare = flux.git_root / f"{namespace}.git"
    subprocess.run([*GIT, "init", "-q", "--bare", str(bare)], check=True, timeout=30)
    work = tmp_path / "work"
    subprocess.run([*GIT, "init", "-q", str(work)], check=True, timeout=30)
    yield Sync(Repo(bare, work, namespace, namespace, kubeconfig), api_client, flux)
