"""A run the operator's limit on progressing runs holds back waits Queued, with its position and the reason, and
starts once it gets a slot; a run queued on its target says so instead."""

from __future__ import annotations

import pytest

from convoy.api.common import ObjectRef
from convoy.api.workflowrun import QueueReason, RunPhase, WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.observed import Observed, SlotWait
from convoy.planner.run import plan

from .builders import rolling
from .sim import RUN, T0

SLOT = SlotWait(position=2, reason="waiting for a slot: 3 runs progressing in the cluster, at most 3 at once")


@pytest.mark.parametrize(
    ("behind", "slot", "phase", "position", "reason"),
    [
        pytest.param((), None, None, None, None, id="free-to-start"),
        pytest.param((), SLOT, RunPhase.QUEUED, 2, QueueReason.PROGRESS_LIMIT, id="waits-for-a-slot"),
        pytest.param(("shop/a",), SLOT, RunPhase.QUEUED, 1, QueueReason.TARGET, id="its-target-first"),
        pytest.param(("shop/a", "shop/b"), None, RunPhase.QUEUED, 2, QueueReason.TARGET, id="behind-two-runs"),
    ],
)
def test_a_run_that_may_not_start_yet(
    behind: tuple[str, ...],
    slot: SlotWait | None,
    phase: RunPhase | None,
    position: int | None,
    reason: QueueReason | None,
) -> None:
    result = plan(
        run=RUN,
        spec=WorkflowRunSpec(workflow_ref=ObjectRef(name="web")),
        workflow=rolling(),
        status=WorkflowRunStatus(),
        observed=Observed(queued_behind=behind, slot_wait=slot),
        now=T0,
    )
    status = result.status
    assert (status.queue_position, status.queue_reason) == (position, reason)
    assert (status.started_at is None) is (phase is RunPhase.QUEUED)
    if phase is not None:
        assert status.phase is phase
    if reason is QueueReason.PROGRESS_LIMIT:
        assert status.message == SLOT.reason
        assert result.actions == ()


def test_a_run_that_gets_its_slot_starts_and_forgets_its_place() -> None:
    spec, workflow = WorkflowRunSpec(workflow_ref=ObjectRef(name="web")), rolling()
    waiting = plan(
        run=RUN, spec=spec, workflow=workflow, status=WorkflowRunStatus(), observed=Observed(slot_wait=SLOT), now=T0
    )
    started = plan(run=RUN, spec=spec, workflow=workflow, status=waiting.status, observed=Observed(), now=T0)
    assert started.status.started_at is not None
    assert (started.status.queue_position, started.status.queue_reason) == (None, None)
