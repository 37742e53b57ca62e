"""Observing the barriers of a WorkflowRun that runs as a pipeline stage: the PipelineRun's status names the
participants (namespace, name, uid), each is read by name, and only the marks Convoy sealed for it count; the
planner (planner/barriers.py) turns them into views.

A barrier annotation that does not carry Convoy's seal for the run it is on (typed by hand, copied from another
run, or left by a Convoy without the key) is ignored, and an Event `BarrierMarkIgnored` on that run and on the
PipelineRun names it, so whoever set it learns why it had no effect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from convoy.adapters import events, resources, seals
from convoy.adapters.owner import Owner
from convoy.api.pipeline import PipelineRunStatus
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import PipelineRunRef
from convoy.planner.barriers import (
    BARRIER_PREFIX,
    STATES,
    Participant,
    StageRunRef,
    barrier_views,
    declared_barriers,
    participant,
    read_mark,
    recorded_runs,
)
from convoy.planner.cycle import RunIdentity, clip
from convoy.planner.observed import BarrierView

MARK_IGNORED = "BarrierMarkIgnored"


def sealed_marks(body: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The barrier marks on a WorkflowRun that Convoy sealed for it (barrier → state), and the other barrier
    annotations on it (annotation → value), which count for nothing."""
    meta = body["metadata"]
    uid = str(meta.get("uid") or "")
    honoured: dict[str, str] = {}
    ignored: dict[str, str] = {}
    for key, value in (meta.get("annotations") or {}).items():
        if not key.startswith(BARRIER_PREFIX):
            continue
        barrier = key.removeprefix(BARRIER_PREFIX)
        state, seal = read_mark(str(value))
        if uid and state in STATES and seals.valid(seal, "barrier", uid, barrier, state):
            honoured[barrier] = state
        else:
            ignored[key] = str(value)
    return honoured, ignored


def ignored_message(body: Mapping[str, Any], annotation: str, value: str) -> str:
    meta = body["metadata"]
    return clip(
        f"annotation {annotation}={clip(value, 60)!r} on workflowrun {meta['namespace']}/{meta['name']} is ignored: "
        "Convoy did not write it for this run (no valid seal), so it neither fails nor crosses a barrier"
    )


async def observe_barriers(
    run: RunIdentity, uid: str, ref: PipelineRunRef, workflow: WorkflowSpec
) -> dict[str, BarrierView]:
    names = declared_barriers(workflow)
    if not names:
        return {}
    me = StageRunRef(run.namespace, run.name, ref.stage, uid)
    parent = await resources.read("pipelineruns", ref.namespace or run.namespace, ref.name)
    status = _status(parent)
    siblings: list[Participant] = []
    for record in recorded_runs(status) if status is not None else []:
        if record.uid is None or (record.namespace, record.workflow_run) == (run.namespace, run.name):
            continue
        assert record.namespace is not None and record.workflow_run is not None
        body = await resources.read("workflowruns", record.namespace, record.workflow_run)
        if body is None or body["metadata"].get("uid") != record.uid:
            continue  # deleted, or replaced by an object the PipelineRun did not create: not a participant
        marks, ignored = sealed_marks(body)
        await _report(body, parent, ignored)
        siblings.append(participant(body, stage=record.name, marks=marks))
    return barrier_views(barriers=names, me=me, siblings=siblings, pipeline_run=status)


def _status(pipeline_run: Mapping[str, Any] | None) -> PipelineRunStatus | None:
    if pipeline_run is None:
        return None
    try:
        return PipelineRunStatus.model_validate(pipeline_run.get("status") or {})
    except ValidationError:
        return None  # a status the operator did not write: it names no participant


async def _report(body: Mapping[str, Any], parent: Mapping[str, Any] | None, ignored: Mapping[str, str]) -> None:
    """An Event on the run that carries each ignored annotation, and on the PipelineRun (created once each)."""
    meta = body["metadata"]
    owners = [Owner("WorkflowRun", meta["name"], meta["namespace"], meta["uid"])]
    if parent is not None:
        pmeta = parent["metadata"]
        owners.append(Owner("PipelineRun", pmeta["name"], pmeta["namespace"], pmeta["uid"]))
    for annotation, value in ignored.items():
        digest = hashlib.sha256(f"{meta['uid']}/{annotation}={value}".encode()).hexdigest()[:16]
        message = ignored_message(body, annotation, value)
        for owner in owners:
            await events.record_event(owner, f"barrier-mark-ignored/{digest}", MARK_IGNORED, message, warning=True)
