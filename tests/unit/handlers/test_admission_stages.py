"""Admission of decisions on a PipelineRun's approval stages: only approvers may approve or reject, not the run's
creator (unless allowed), and each approver once."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.handlers.admission import problems

from .admission_objects import appended, created

Obj = dict[str, Any]
CREATOR = {"username": "carol"}
PIPELINE = {
    "stages": [
        {"name": "build", "workflow": {"workflowRef": {"name": "build"}}},
        {"name": "hold", "approval": {"approvers": ["alice", "group:release"]}},
        {"name": "open", "approval": {}, "parallel": True},
        {"name": "two", "approval": {"minApprovals": 2}, "parallel": True},
        {"name": "self", "approval": {"allowSelfApproval": True}, "parallel": True},
        {"name": "deploy", "workflow": {"workflowRef": {"name": "web"}}},
    ]
}


def pipeline_run(waiting: tuple[str, ...] = ("hold",), started: bool = True, approved: tuple[str, ...] = ()) -> Obj:
    """A PipelineRun created by carol, as stored."""
    body: Obj = {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"name": "rel-1", "namespace": "shop"},
        "spec": {"pipelineRef": {"name": "release"}},
    }
    stored = created("PipelineRun", body, CREATOR)
    if started:
        stored["status"] = {
            "startedAt": "2025-03-01T12:00:00Z",
            "pipelineSpec": PIPELINE,
            "stages": [{"name": s, "state": "WaitingForApproval", "approvedBy": list(approved)} for s in waiting],
        }
    return stored


@pytest.mark.parametrize(
    ("decision", "user", "waiting", "started", "approved", "problem"),
    [
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "alice"}, ("hold",), True, (), None, id="approver"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "bob", "groups": ["release"]}, ("hold",), True, (), None, id="approver-group"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "mallory"}, ("hold",), True, (),
                     "mallory may not approve stage hold: the approvers are alice, group:release", id="not-an-approver"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "mallory", "groups": ["release-x"]}, ("hold",), True, (),
                     "mallory may not approve stage hold: the approvers are alice, group:release", id="another-group"),
        pytest.param({"action": "Reject"}, {"username": "mallory"}, ("hold",), True, (),
                     "mallory may not reject stage hold: the approvers are alice, group:release", id="the-waiting-stage"),
        pytest.param({"action": "Reject"}, {"username": "mallory"}, ("hold", "open"), True, (), None, id="no-single-waiting-stage"),
        pytest.param({"action": "Approve", "stage": "open"}, {"username": "mallory"}, ("open",), True, (), None, id="anyone"),
        pytest.param({"action": "Approve", "stage": "open"}, CREATOR, ("open",), True, (),
                     "carol may not approve stage open: carol created the run and allowSelfApproval is false",
                     id="self-approval"),
        pytest.param({"action": "Reject", "stage": "open"}, CREATOR, ("open",), True, (), None, id="creator-may-reject"),
        pytest.param({"action": "Approve", "stage": "self"}, CREATOR, ("self",), True, (), None, id="self-approval-allowed"),
        pytest.param({"action": "Approve", "stage": "two"}, {"username": "alice"}, ("two",), True, ("alice",),
                     "alice has already approved stage two: each approver counts once (2 needed)", id="twice"),
        pytest.param({"action": "Approve", "stage": "two"}, {"username": "bob"}, ("two",), True, ("alice",), None,
                     id="second-approver"),
        pytest.param({"action": "Abort"}, {"username": "mallory"}, ("hold",), True, (), None, id="not-an-approval"),
        pytest.param({"action": "Approve", "stage": "hold"}, {"username": "mallory"}, (), False, (), None, id="not-started"),
    ],
)  # fmt: skip
def test_stage_approvals(
    decision: Obj, user: Obj, waiting: tuple[str, ...], started: bool, approved: tuple[str, ...], problem: str | None
) -> None:
    old = pipeline_run(waiting, started, approved)
    new = appended("PipelineRun", old, user, decision)
    found = problems("PipelineRun", new, old, user)
    assert [e.message for e in found] == ([problem] if problem else [])
    if problem:
        assert found[0].path == "spec.decisions[0]"
