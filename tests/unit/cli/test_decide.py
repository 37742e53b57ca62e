"""Decision verbs: each appends one Decision with a JSON patch; refusals and finished runs end with exit 1."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.decisions import DecisionAction
from convoy.cli.decide import decision, decision_patch
from convoy.cli.errors import FAILED, OK, UNREACHABLE, USAGE

from . import states
from .fake import Body, FakeCluster, invoke


def test_patch_creates_the_list_when_the_run_has_none() -> None:
    new = decision(DecisionAction.APPROVE, step="go-live", stage=None, reason=None)
    assert decision_patch({"spec": {"workflowRef": {"name": "web"}}}, new) == [
        {"op": "add", "path": "/spec/decisions", "value": []},
        {"op": "add", "path": "/spec/decisions/-", "value": {"action": "Approve", "step": "go-live"}},
    ]


def test_patch_appends_to_an_existing_list() -> None:
    new = decision(DecisionAction.REJECT, step=None, stage=None, reason="not today")
    assert decision_patch({"spec": {"decisions": [{"action": "Resume"}]}}, new) == [
        {"op": "add", "path": "/spec/decisions/-", "value": {"action": "Reject", "reason": "not today"}},
    ]


@pytest.fixture
def cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.add("workflowruns", states.approval_waiting())
    pipeline_run, _ = states.pipeline_at_barrier()
    cluster.add("pipelineruns", pipeline_run)
    cluster.add(
        "workflowruns", states.failed_and_rolled_back() | {"metadata": {"name": "web-old", "namespace": "shop"}}
    )
    return cluster


def sent(cluster: FakeCluster) -> tuple[str, str, Body]:
    plural, name, ops = cluster.patches[-1]
    return plural, name, ops[-1]["value"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["approve", "web-2-0"], {"action": "Approve"}, id="approve"),
        pytest.param(
            ["reject", "wfr/web-2-0", "--step", "go-live", "--reason", "not today"],
            {"action": "Reject", "step": "go-live", "reason": "not today"},
            id="reject-with-step-and-reason",
        ),
        pytest.param(["promote", "web-2-0"], {"action": "Promote"}, id="promote"),
        pytest.param(["promote", "web-2-0", "--full"], {"action": "PromoteFull"}, id="promote-full"),
        pytest.param(["resume", "web-2-0"], {"action": "Resume"}, id="resume"),
        pytest.param(
            ["abort", "web-2-0", "--reason", "wrong build"], {"action": "Abort", "reason": "wrong build"}, id="abort"
        ),
        pytest.param(["retry", "web-2-0"], {"action": "Retry"}, id="retry"),
        pytest.param(["ignore", "web-2-0"], {"action": "Ignore"}, id="ignore"),
    ],
)
def test_each_verb_appends_its_decision(cluster: FakeCluster, argv: list[str], expected: Body, capsys: Any) -> None:
    result = invoke(cluster, argv, capsys)
    assert result.code == OK, result
    assert sent(cluster) == ("workflowruns", "web-2-0", expected)
    assert result.out.startswith(f"workflowrun/web-2-0: {expected['action']} recorded")


def test_a_bare_name_that_is_no_workflow_run_is_a_pipeline_run(cluster: FakeCluster, capsys: Any) -> None:
    result = invoke(cluster, ["approve", "web-regions-7", "--stage", "approve"], capsys)
    assert result.code == OK, result
    assert sent(cluster) == ("pipelineruns", "web-regions-7", {"action": "Approve", "stage": "approve"})
    assert result.out == "pipelinerun/web-regions-7: Approve recorded for approve\n"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        pytest.param(
            ["approve", "plr/web-regions-7", "--step", "x"], USAGE, "--step is for workflow runs", id="step-on-plr"
        ),
        pytest.param(["approve", "web-2-0", "--stage", "x"], USAGE, "--stage is for pipeline runs", id="stage-on-wfr"),
        pytest.param(
            ["approve", "nope"], UNREACHABLE, "no workflowrun or pipelinerun nope in namespace shop", id="not-found"
        ),
        pytest.param(
            ["approve", "web-2-0", "--step", "go-lvie"],
            USAGE,
            "workflowrun web-2-0 has no step go-lvie",
            id="no-such-step",
        ),
        pytest.param(
            ["approve", "web-regions-7", "--stage", "prod"],
            USAGE,
            "pipelinerun web-regions-7 has no stage prod",
            id="no-such-stage",
        ),
        pytest.param(
            ["abort", "web-old"], FAILED, "workflowrun web-old has already finished (RolledBack)", id="finished"
        ),
    ],
)
def test_refused_before_sending(cluster: FakeCluster, argv: list[str], code: int, message: str, capsys: Any) -> None:
    result = invoke(cluster, argv, capsys)
    assert result.code == code
    assert result.err.startswith(f"error: {message}") and result.err.count("\n") == 1, result.err
    assert cluster.patches == []


def test_a_refusal_by_the_api_server_is_one_line_and_exit_1(cluster: FakeCluster, capsys: Any) -> None:
    cluster.refusal = (
        'admission webhook "validate.convoy.dev" denied the request:\nspec.decisions[0]: '
        "mallory may not approve step go-live: the approvers are alice"
    )
    result = invoke(cluster, ["approve", "web-2-0"], capsys)
    assert result.code == FAILED
    assert result.err == (
        'error: admission webhook "validate.convoy.dev" denied the request: spec.decisions[0]: '
        "mallory may not approve step go-live: the approvers are alice\n"
    )
