"""`run` and `rollback`: the objects they create, and --wait's exit codes (0 Succeeded, 1 not, 2 timeout)."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.cli.errors import FAILED, OK, TIMEOUT, UNREACHABLE
from convoy.cli.rollback import rollback_object
from convoy.cli.run import workflow_run

from . import states
from .fake import Body, FakeCluster, invoke


def test_workflow_run_body() -> None:
    assert workflow_run("web", {"version": "2.0"}, None) == {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "WorkflowRun",
        "metadata": {"generateName": "web-"},
        "spec": {"workflowRef": {"name": "web"}, "variables": {"version": "2.0"}},
    }
    assert workflow_run("web", {}, "web-2-0")["metadata"] == {"name": "web-2-0"}


def workflow(name: str = "web") -> Body:
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": {"type": "Rolling"}}


def run_status(phase: str, **extra: Any) -> Body:
    return {"metadata": {"name": "web-x7k2p", "namespace": "shop"}, "status": {"phase": phase, **extra}}


@pytest.fixture
def cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.add("workflows", workflow())
    return cluster


def test_run_creates_a_run_with_the_values(cluster: FakeCluster, capsys: Any) -> None:
    result = invoke(cluster, ["run", "web", "--set", "version=2.0", "--set", "region=eu"], capsys)
    assert result.code == OK
    plural, body = cluster.created[0]
    assert plural == "workflowruns"
    assert body["metadata"]["generateName"] == "web-"
    assert body["spec"] == {"workflowRef": {"name": "web"}, "variables": {"version": "2.0", "region": "eu"}}
    assert result.out == "workflowrun/web-x7k2p created\n"


def test_run_of_a_missing_workflow_is_not_found(capsys: Any) -> None:
    result = invoke(FakeCluster(), ["run", "nope"], capsys)
    assert result.code == UNREACHABLE
    assert result.err == "error: workflows nope not found\n"


@pytest.mark.parametrize(
    ("final", "code"),
    [
        pytest.param("Succeeded", OK, id="succeeded"),
        pytest.param("Failed", FAILED, id="failed"),
        pytest.param("RolledBack", FAILED, id="rolled-back"),
        pytest.param("Aborted", FAILED, id="aborted"),
    ],
)
def test_run_wait_exit_code_follows_the_result(cluster: FakeCluster, final: str, code: int, capsys: Any) -> None:
    cluster.add(
        "workflowruns",
        run_status("Pending"),
        run_status("Running", currentPhase="rollout", currentStep="deploy"),
        run_status(final, message=f"it {final}"),
    )
    result = invoke(cluster, ["run", "web", "--name", "web-x7k2p", "--wait"], capsys)
    assert result.code == code
    assert result.out.splitlines() == [
        "workflowrun/web-x7k2p created; following it (timeout 30m)",
        "web-x7k2p: Pending",
        "web-x7k2p: Running at rollout/deploy",
        f"web-x7k2p: {final}: it {final}",
    ]


def test_run_wait_times_out_with_exit_2(cluster: FakeCluster, capsys: Any) -> None:
    cluster.add("workflowruns", run_status("Paused", currentPhase="rollout", currentStep="hold"))
    result = invoke(cluster, ["run", "web", "--name", "web-x7k2p", "--wait", "--timeout", "10s"], capsys)
    assert result.code == TIMEOUT
    assert result.err == "error: timed out after 10s waiting for web-x7k2p: it is Paused\n"


def test_run_wait_with_output_prints_only_the_final_object(cluster: FakeCluster, capsys: Any) -> None:
    cluster.add("workflowruns", run_status("Running"), run_status("Succeeded"))
    result = invoke(cluster, ["run", "web", "--name", "web-x7k2p", "--wait", "-o", "json"], capsys)
    assert result.code == OK
    assert '"phase": "Succeeded"' in result.out and "Running" not in result.out


def test_rollback_objects() -> None:
    assert rollback_object("workflows", "web", force=False, reason=None)["spec"] == {"workflowRef": {"name": "web"}}
    assert rollback_object("workflowruns", "web-2-0", force=True, reason="INC-1")["spec"] == {
        "workflowRunRef": {"name": "web-2-0"},
        "force": True,
        "reason": "INC-1",
    }


def test_rollback_of_a_workflow_creates_a_rollback_and_waits(cluster: FakeCluster, capsys: Any) -> None:
    rb = {"metadata": {"name": "web-rollback-x7k2p", "namespace": "shop"}}
    cluster.add(
        "rollbacks", rb | {"status": {"phase": "Running"}}, rb | {"status": {"phase": "Refused", "message": "changed"}}
    )
    result = invoke(cluster, ["rollback", "web", "--wait"], capsys)
    assert result.code == FAILED
    assert cluster.created[0][1]["spec"] == {"workflowRef": {"name": "web"}}
    assert result.out.splitlines()[-1] == "web-rollback-x7k2p: Refused: changed"


def test_rollback_of_a_finished_run_creates_a_rollback_of_that_run(cluster: FakeCluster, capsys: Any) -> None:
    cluster.add("workflowruns", states.failed_and_rolled_back())
    result = invoke(cluster, ["rollback", "wfr/web-2-0", "--force"], capsys)
    assert result.code == OK
    assert cluster.created[0][1]["spec"] == {"workflowRunRef": {"name": "web-2-0"}, "force": True}
    assert result.out == "rollback/web-2-0-rollback-x7k2p created\n"


def test_rollback_of_a_run_in_flight_creates_a_rollback_too(cluster: FakeCluster, capsys: Any) -> None:
    """The rollback role creates Rollbacks; it may not patch runs, so the plugin never appends a decision itself."""
    cluster.add("workflowruns", states.approval_waiting())
    result = invoke(cluster, ["rollback", "web-2-0", "--reason", "bad"], capsys)
    assert result.code == OK
    assert cluster.created[0][1]["spec"] == {"workflowRunRef": {"name": "web-2-0"}, "reason": "bad"}
    assert cluster.patches == []


def test_rollback_of_nothing_is_not_found(cluster: FakeCluster, capsys: Any) -> None:
    result = invoke(cluster, ["rollback", "nope"], capsys)
    assert result.code == UNREACHABLE
    assert result.err == "error: no workflow or workflowrun nope in namespace shop\n"
