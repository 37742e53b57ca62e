"""The props of the dashboard's browser tests: `kubectl convoy dashboard` as a real process (as the test's admin,
or as another user with --as), and a real headless Chromium (Debian's, installed by hack/chromium.sh) driven by
Playwright, with screenshots kept under the test's output folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from harness import GROUP, ROOT, Runs, free_port, kubectl
from playwright.sync_api import Browser, Page, sync_playwright
from waiting import wait_for

SCREENSHOTS = "screenshots"


def chromium_path() -> str:
    """Debian's chromium, as hack/chromium.sh installs it (CONVOY_CHROMIUM names another)."""
    found = os.environ.get("CONVOY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run hack/chromium.sh (make e2e does)", pytrace=False)
    return found


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """Keep what the page shows now, under the test's output folder."""
    path = folder / SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


class Dashboard:
    """`kubectl convoy dashboard -n NAMESPACE [--as USER]` on a free port, its output in `log`."""

    def __init__(self, kubeconfig: str, namespace: str, log: Path, as_user: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [
            sys.executable, "-m", "convoy.cli.main", "dashboard", "--port", str(self.port),
            "--kubeconfig", kubeconfig, "-n", namespace, *(["--as", as_user] if as_user else []),
        ]  # fmt: skip
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(self._answers, 30, 0.2, f"the dashboard did not start (see {log})")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the dashboard exited: {self.log.read_text()}")
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def dashboard(kubeconfig: str, namespace: str, folder: Path, as_user: str | None = None) -> Iterator[Dashboard]:
    running = Dashboard(kubeconfig, namespace, folder / f"dashboard-{as_user or 'admin'}.log", as_user)
    try:
        yield running
    finally:
        running.stop()


def let_read(runs: Runs, namespaces: tuple[str, ...], users: tuple[str, ...]) -> None:
    """Let `users` read (get, list, watch) Convoy's objects in `namespaces`, as the chart's view role does."""
    for namespace in namespaces:
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "dashboard-readers", "namespace": namespace},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["workflows", "workflowruns", "pipelineruns", "rollbacks"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "dashboard-readers", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dashboard-readers"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users],
        }
        kubectl(runs.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all([role, binding]))
