"""Decisions on a PipelineRun's approval stages: only sealed ones count, and approvals follow their rules
(approvers, self-approval, distinct approvers); status lists who approved."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.pipeline import PipelinePhase, StageState

from .pipeline_sim import PipelineSim, approval_stage, pipeline

W, S, F = StageState.WAITING_FOR_APPROVAL, StageState.SUCCEEDED, StageState.FAILED


def waiting(creator: str | None = "carol", **approval: Any) -> PipelineSim:
    sim = PipelineSim(pipeline(approval_stage("hold", ["alice", "bob", "carol"], approval=approval)))
    sim.creator = creator
    sim.reconcile()
    return sim


def test_an_unsealed_decision_has_no_effect_and_the_run_says_why() -> None:
    sim = waiting()
    sim.unsealed.add(0)
    sim.decide("Approve", stage="hold", by="alice")

    sim.reconcile()

    message = "decision 0 (Approve by alice) ignored: not sealed by Convoy's admission webhook"
    assert [(e.reason, e.message) for e in sim.events if e.reason == "DecisionIgnored"] == [
        ("DecisionIgnored", message)
    ]
    assert sim.record("hold").state is W
    assert sim.status.message == f"stage hold is waiting for approval by alice, bob, carol; {message}"
    assert sim.status.decisions_seen == 1


def test_an_unsealed_abort_does_not_abort() -> None:
    sim = waiting()
    sim.unsealed.add(0)
    sim.decide("Abort", by="alice")

    sim.reconcile()

    assert sim.status.halted is None and sim.status.phase is PipelinePhase.WAITING_FOR_APPROVAL


@pytest.mark.parametrize(
    ("approval", "creator", "decisions", "state", "approved_by", "refusals"),
    [
        pytest.param({}, "carol", [("Approve", "alice")], S, ["alice"], [], id="approver"),
        pytest.param({}, "carol", [("Approve", "carol")], W, [],
                     ["carol may not approve stage hold: carol created the run and allowSelfApproval is false"],
                     id="self-approval"),
        pytest.param({"allowSelfApproval": True}, "carol", [("Approve", "carol")], S, ["carol"], [],
                     id="self-approval-allowed"),
        pytest.param({}, "carol", [("Reject", "carol")], F, [], [], id="creator-may-reject"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice")], W, ["alice"], [], id="one-of-two"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice"), ("Approve", "alice")], W, ["alice"],
                     ["alice has already approved stage hold: each approver counts once (2 needed)"], id="twice"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice"), ("Approve", "bob")], S, ["alice", "bob"],
                     [], id="two-of-two"),
        pytest.param({"minApprovals": 2}, "carol", [("Approve", "alice"), ("Reject", "bob")], F, ["alice"], [],
                     id="one-rejection-is-enough"),
    ],
)  # fmt: skip
def test_approval_stage_rules(
    approval: dict[str, Any],
    creator: str | None,
    decisions: list[tuple[str, str]],
    state: StageState,
    approved_by: list[str],
    refusals: list[str],
) -> None:
    sim = waiting(creator, **approval)
    for action, by in decisions:
        sim.decide(action, stage="hold", by=by)

    sim.reconcile()

    record = sim.record("hold")
    assert (record.state, record.approved_by) == (state, approved_by)
    assert [e.message for e in sim.events if e.reason == "ApprovalRefused"] == refusals


def test_a_stage_needing_several_approvers_says_so() -> None:
    sim = waiting(minApprovals=2)
    assert sim.record("hold").message == "waiting for approval by alice, bob, carol (2 distinct approvers needed)"
    sim.decide("Approve", stage="hold", by="alice")
    sim.reconcile()
    assert sim.record("hold").message == "waiting for 1 more approval(s) (approved by alice)"
    assert sim.status.message == "stage hold is waiting for 1 more approval(s) (approved by alice)"
