"""Admission of decisions on a PipelineRun's approval stages: only approvers may approve or reject."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.handlers.admission import problems

Obj = dict[str, Any]
PIPELINE = {
    "stages": [
        {"name": "build", "workflow": {"workflowRef": {"name": "build"}}},
        {"name": "hold", "approval": {"approvers": ["alice", "group:release"]}},
        {"name": "open", "approval": {}, "parallel": True},
        {"name": "deploy", "workflow": {"workflowRef": {"name": "web"}}},
    ]
}


def pipeline_run(*decisions: Obj, waiting: tuple[str, ...] = ("hold",), started: bool = True) -> Obj:
    status: Obj = {}
    if started:
        status = {
            "startedAt": "2025-03-01T12:00:00Z",
            "pipelineSpec": PIPELINE,
            "stages": [{"name": s, "state": "WaitingForApproval"} for s in waiting],
        }
    spec = {"pipelineRef": {"name": "release"}, "decisions": list(decisions)}
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"name": "rel-1"},
        "spec": spec,
        "status": status,
    }


@pytest.mark.parametrize(
    ("decision", "user", "waiting", "started", "problem"),
    [
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "alice"}, ("hold",), True, None, id="approver"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "bob", "groups": ["release"]}, ("hold",), True, None, id="approver-group"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "mallory"}, ("hold",), True,
                     "mallory may not approve stage hold: the approvers are alice, group:release", id="not-an-approver"),
        pytest.param({"action": "Reject"}, {"username": "mallory"}, ("hold",), True,
                     "mallory may not reject stage hold: the approvers are alice, group:release", id="the-waiting-stage"),
        pytest.param({"action": "Reject"}, {"username": "mallory"}, ("hold", "open"), True, None, id="no-single-waiting-stage"),
        pytest.param({"action": "Approve", "stage": "open"}, {"username": "mallory"}, ("open",), True, None, id="anyone"),
        pytest.param({"action": "Abort"}, {"username": "mallory"}, ("hold",), True, None, id="not-an-approval"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "mallory"}, (), False, None, id="not-started"),
    ],
)  # fmt: skip
def test_stage_approvals(
    decision: Obj, user: Obj, waiting: tuple[str, ...], started: bool, problem: str | None
) -> None:
    old = pipeline_run(waiting=waiting, started=started)
    new = pipeline_run(decision, waiting=waiting, started=started)
    found = problems("PipelineRun", new, old, user)
    assert [e.message for e in found] == ([problem] if problem else [])
    if problem:
        assert found[0].path == "spec.decisions[0]"
