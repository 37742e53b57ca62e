"""`kubectl convoy` against the real cluster and operator, run as a subprocess the way kubectl runs a plugin:
`run --wait` gates on the result, approvals by the wrong user are refused in one line, `get` draws the tree of a
running run, and `lint` checks manifests offline. Written given / when / then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import ROOT, Operator, Runs, deployment_manifest
from waiting import wait_for

pytestmark = pytest.mark.e2e


def plugin(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`kubectl convoy ARGS`, as kubectl would run the plugin."""
    command = [sys.executable, "-m", "convoy.cli.main", *args]
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def convoy_cli(runs: Runs, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """`kubectl convoy ARGS` in the test's namespace, as the admin or impersonating `user`."""
    return plugin("--kubeconfig", runs.kubeconfig, "-n", runs.namespace, *args, *(["--as", user] if user else []))


def workflow(name: str, *steps: dict[str, Any]) -> str:
    spec = {
        "type": "Rolling",
        "target": {"deployment": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}, *steps]}],
        "failureStrategies": [{"errors": ["Any"], "action": "Rollback"}],
    }
    return yaml.safe_dump(
        {"apiVersion": "convoy.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": name}, "spec": spec}
    )


def failing_job() -> dict[str, Any]:
    template = {
        "metadata": {"annotations": {"convoy.dev/fake-exit-code": "3"}},
        "spec": {"containers": [{"name": "smoke", "image": "registry.example/smoke:1"}]},
    }
    return {"name": "smoke", "job": {"template": template}}


def created_name(result: subprocess.CompletedProcess[str]) -> str:
    first = result.stdout.splitlines()[0]
    assert first.startswith("workflowrun/"), result.stdout
    return first.split()[0].removeprefix("workflowrun/").rstrip(";")


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture
def web(runs: Runs) -> str:
    """Given a Deployment 'web' running v1 with all pods available."""
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", replicas=2))
    wait_for(lambda: runs.deployment("web").status.available_replicas == 2, 60, message="web v1 not available")
    return "web"


def test_run_wait_exits_0_when_the_run_succeeds(convoy: Operator, runs: Runs, web: str) -> None:
    # given a Rolling workflow
    runs.apply(workflow("web"))
    # when a CI job runs it with --wait
    result = convoy_cli(runs, "run", "web", "--set", "version=2.0", "--wait", "--timeout", "2m")
    # then it exits 0 once the run succeeded, having said so
    assert result.returncode == 0, result.stdout + result.stderr
    name = created_name(result)
    assert result.stdout.splitlines()[-1] == f"{name}: Succeeded: all phases succeeded"
    assert runs.image("web") == "registry.example/web:2.0"


def test_run_wait_exits_1_when_the_run_fails(convoy: Operator, runs: Runs, web: str) -> None:
    # given a workflow whose smoke test fails, and which rolls back then
    runs.apply(workflow("web", failing_job()))
    # when it is run with --wait
    result = convoy_cli(runs, "run", "web", "--set", "version=2.0", "--wait", "--timeout", "2m")
    # then the exit code says it did not succeed, and the last line says why
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"{created_name(result)}: RolledBack: rolled back: ")


@pytest.fixture
def deciders(runs: Runs) -> None:
    """Users alice (the approver) and mallory may read and patch workflow runs; eve may only read them."""
    rules = {
        "deciders": [{"apiGroups": ["convoy.dev"], "resources": ["workflowruns"], "verbs": ["get", "patch"]}],
        "viewers": [{"apiGroups": ["convoy.dev"], "resources": ["workflowruns"], "verbs": ["get"]}],
    }
    users = {"deciders": ["alice", "mallory"], "viewers": ["eve"]}
    objects: list[dict[str, Any]] = []
    for role, rule in rules.items():
        objects.append(
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": role}, "rules": rule}
        )
        subjects = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users[role]]
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": role},
                "roleRef": ref,
                "subjects": subjects,
            }
        )
    runs.apply(yaml.safe_dump_all(objects))


def test_approve_by_someone_who_may_not_is_refused_in_one_line(
    convoy: Operator, runs: Runs, web: str, deciders: None
) -> None:
    # given a run waiting for alice's approval
    runs.apply(workflow("web", {"name": "go-live", "approval": {"approvers": ["alice"]}}))
    name = created_name(convoy_cli(runs, "run", "web", "--set", "version=2.0"))
    runs.wait_phase(name, "WaitingForApproval")
    # when mallory, who may patch runs but is no approver, approves: the admission webhook refuses
    refused = convoy_cli(runs, "approve", name, user="mallory")
    assert refused.returncode == 1
    assert "mallory may not approve step go-live: the approvers are alice" in one_line_error(refused)
    # when eve, who may not patch runs at all, approves: RBAC refuses
    forbidden = convoy_cli(runs, "approve", name, user="eve")
    assert forbidden.returncode == 1
    assert "forbidden" in one_line_error(forbidden)
    # then the run still waits; and when alice approves, it goes on and records her
    assert runs.status(name)["phase"] == "WaitingForApproval"
    approved = convoy_cli(runs, "approve", name, "--reason", "dashboards green", user="alice")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == f"workflowrun/{name}: Approve recorded\n"
    assert runs.wait_phase(name, "Succeeded", "Failed", "RolledBack", "Aborted")["phase"] == "Succeeded"
    assert runs.get("workflowruns", name)["spec"]["decisions"][-1]["by"] == "alice"


def test_get_prints_the_tree_of_a_running_run(convoy: Operator, runs: Runs, web: str) -> None:
    # given a run paused after its deploy step
    runs.apply(workflow("web", {"name": "hold", "pause": {}}))
    name = created_name(convoy_cli(runs, "run", "web", "--set", "version=2.0"))
    runs.wait_phase(name, "Paused")
    # when someone looks at it
    result = convoy_cli(runs, "get", "wfr", name)
    # then the tree shows the run, its phase and steps, and how to go on
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"WorkflowRun {name}  ⏸ Paused")
    assert lines[1].startswith("Rolling web · phases 0/1 · registry.example/web:1.0 → registry.example/web:2.0")
    assert lines[2].startswith("└── ⟳ rollout")
    assert lines[3].startswith("    ├── ✔ deploy  deploy")
    assert (
        lines[4].startswith("    └── ⏸ hold  pause")
        and f"paused until resumed: kubectl convoy resume {name}" in lines[4]
    )
    listed = convoy_cli(runs, "list")
    assert name in listed.stdout and "⏸ Paused" in listed.stdout and "rollout/hold" in listed.stdout
    # and resuming it from the plugin lets it finish
    assert convoy_cli(runs, "resume", name).returncode == 0
    assert runs.wait_phase(name, "Succeeded", "Failed", "RolledBack", "Aborted")["phase"] == "Succeeded"
    assert convoy_cli(runs, "get", name).stdout.startswith(f"WorkflowRun {name}  ✔ Succeeded")


def test_lint_passes_the_examples_and_fails_a_broken_file(tmp_path: Path) -> None:
    assert plugin("lint", str(ROOT / "examples")).returncode == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text(workflow("web").replace("Rolling", "Rollin"))
    result = plugin("lint", str(broken))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{broken}: Workflow/web: spec.type: 'Rollin' is not allowed")
