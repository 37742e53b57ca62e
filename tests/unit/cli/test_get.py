"""`get`, `list` and `version` as commands, and how the cluster's errors become one line and an exit code."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiException

from convoy.cli.errors import OK, UNREACHABLE
from convoy.cli.kube import _reason

from . import states
from .fake import FakeCluster, invoke


@pytest.fixture
def cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.add("workflowruns", states.approval_waiting())
    pipeline_run, runs = states.pipeline_at_barrier()
    cluster.add("pipelineruns", pipeline_run)
    for run in runs.values():
        cluster.add("workflowruns", run)
    return cluster


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["get", "workflowrun", "web-2-0"], id="type-and-name"),
        pytest.param(["get", "wfr/web-2-0"], id="type-slash-name"),
        pytest.param(["get", "web-2-0"], id="bare-name"),
    ],
)
def test_get_prints_the_tree(cluster: FakeCluster, argv: list[str], capsys: Any) -> None:
    result = invoke(cluster, argv, capsys)
    assert result.code == OK
    assert result.out.startswith("WorkflowRun web-2-0  ⏸ WaitingForApproval")


def test_get_pipeline_run_reads_each_stage_run_from_its_namespace(cluster: FakeCluster, capsys: Any) -> None:
    result = invoke(cluster, ["get", "plr", "web-regions-7"], capsys)
    assert result.code == OK
    assert "WorkflowRun web-regions-7-region1  ⏸ WaitingAtBarrier" in result.out
    assert "WorkflowRun web-regions-7-region2  ⟳ Running" in result.out


def test_get_watch_renders_until_the_run_finishes(capsys: Any) -> None:
    cluster = FakeCluster()
    running, done = states.approval_waiting(), states.failed_and_rolled_back()
    cluster.add("workflowruns", running, running, done)
    result = invoke(cluster, ["get", "wfr", "web-2-0", "--watch"], capsys)
    assert result.code == OK
    assert "↺ RolledBack" in result.out


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_get_output_prints_the_object(cluster: FakeCluster, fmt: str, capsys: Any) -> None:
    result = invoke(cluster, ["get", "wfr", "web-2-0", "-o", fmt], capsys)
    parsed = json.loads(result.out) if fmt == "json" else yaml.safe_load(result.out)
    assert parsed == states.approval_waiting()


def test_get_of_a_missing_run_is_exit_3(cluster: FakeCluster, capsys: Any) -> None:
    result = invoke(cluster, ["get", "wfr", "nope"], capsys)
    assert (result.code, result.err) == (UNREACHABLE, "error: workflowruns nope not found\n")


def test_list_in_a_namespace_without_runs(capsys: Any) -> None:
    result = invoke(FakeCluster(namespace="empty"), ["list"], capsys)
    assert (result.code, result.out) == (OK, "No workflow runs found in namespace empty.\n")


def test_list_output_is_a_kubernetes_list(cluster: FakeCluster, capsys: Any) -> None:
    listed = json.loads(invoke(cluster, ["list", "-A", "-o", "json"], capsys).out)
    assert listed["kind"] == "List"
    assert {i["metadata"]["name"] for i in listed["items"]} == {
        "web-2-0",
        "web-regions-7-region1",
        "web-regions-7-region2",
    }


def test_version(cluster: FakeCluster, capsys: Any) -> None:
    lines = invoke(cluster, ["version"], capsys).out.splitlines()
    assert lines[0].startswith("Plugin Version: kubectl-convoy ")
    assert lines[1] == "Server Version: v1.36.3"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            json.dumps({"kind": "Status", "message": 'admission webhook "x" denied the request: no'}),
            'admission webhook "x" denied the request: no',
            id="status-message",
        ),
        pytest.param("<html>bad gateway</html>", "502 Bad Gateway", id="not-json"),
    ],
)
def test_api_errors_are_told_by_the_servers_message(body: str, reason: str) -> None:
    error = ApiException(status=502, reason="Bad Gateway")
    error.body = body
    assert _reason(error) == reason
