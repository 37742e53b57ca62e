"""Reconciling one PipelineRun: read it, resolve its Pipeline (and the run it reruns), observe its stages'
WorkflowRuns, plan, act, patch status once. A write that conflicts (409) starts over from fresh state.

Watch events of the stages' WorkflowRuns reach here through `family_event`: a stage run's change triggers its
PipelineRun, and the siblings that wait at a barrier.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from convoy.adapters import events, resources, stage_runs
from convoy.adapters.owner import Owner
from convoy.api.pipeline import PipelineRunSpec, PipelineRunStatus, PipelineSpec
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.handlers import config, definitions
from convoy.handlers.runtime import SCHEDULER, SIBLINGS
from convoy.handlers.scheduler import Key
from convoy.handlers.siblings import parent_of
from convoy.planner.actions import RecordEvent
from convoy.planner.cycle import RunIdentity
from convoy.planner.pipeline import PipelineAction, plan
from convoy.planner.stages import AbortStageRun, CreateStageRun, StageRun, selector, stage_run

log = logging.getLogger(__name__)
PLURAL = "pipelineruns"
MAX_CONFLICTS = 5


async def reconcile(namespace: str, name: str) -> datetime | None:
    for _ in range(MAX_CONFLICTS):
        body = await resources.read(PLURAL, namespace, name)
        if body is None:
            return None
        try:
            return await _reconcile_once(body)
        except resources.Conflict:
            log.info("pipelinerun %s/%s changed while reconciling; planning again", namespace, name)
    return datetime.now(UTC)


async def _reconcile_once(body: dict[str, Any]) -> datetime | None:
    meta = body["metadata"]
    if (body.get("status") or {}).get("finishedAt"):
        return None
    run = RunIdentity(meta["name"], meta["namespace"], meta.get("generation", 1))
    owner = Owner("PipelineRun", run.name, run.namespace, meta["uid"])
    try:
        status = PipelineRunStatus.model_validate(body.get("status") or {})
    except ValidationError as error:
        raise RuntimeError(f"status of pipelinerun {run.namespace}/{run.name} is unreadable: {error}") from None
    spec = _spec(body)
    started = status.started_at is not None  # then the status keeps the pipeline, and the rerun is set up
    pipeline = None if started else await _pipeline(run.namespace, spec)
    previous = None if started else await _previous(run.namespace, spec)
    result = plan(
        run=run,
        spec=spec,
        pipeline=pipeline,
        status=status,
        children=await _children(run),
        previous=previous,
        now=datetime.now(UTC),
    )
    for action in result.actions:
        await _perform(owner, action)
    new_status = result.status.to_wire()
    if new_status != body.get("status"):
        await resources.replace_status(PLURAL, body, new_status)
    return result.wake_at


def _spec(body: Mapping[str, Any]) -> PipelineRunSpec | InvalidSpec:
    try:
        parsed = parse_spec("PipelineRun", body.get("spec"))
    except InvalidSpec as invalid:
        return invalid
    assert isinstance(parsed, PipelineRunSpec)
    return parsed


async def _pipeline(namespace: str, spec: PipelineRunSpec | InvalidSpec) -> PipelineSpec | InvalidSpec:
    if isinstance(spec, InvalidSpec):
        return spec
    parsed = await definitions.referenced("Pipeline", spec.pipeline_ref, namespace, "spec.pipelineRef.name")
    assert isinstance(parsed, PipelineSpec | InvalidSpec)
    return parsed


async def _previous(namespace: str, spec: PipelineRunSpec | InvalidSpec) -> PipelineRunStatus | None:
    """The status of the PipelineRun this one reruns, if it names one that exists."""
    if isinstance(spec, InvalidSpec) or spec.rerun_of is None:
        return None
    body = await resources.read(PLURAL, spec.rerun_of.namespace or namespace, spec.rerun_of.name)
    if body is None:
        return None
    return PipelineRunStatus.model_validate(body.get("status") or {})


async def _children(run: RunIdentity) -> dict[str, StageRun]:
    """The stage runs of the PipelineRun, by 'namespace/name'."""
    bodies = await stage_runs.list_labelled(selector(run), config.current.namespaces)
    found = (stage_run(body) for body in bodies if parent_of(body) == (run.namespace, run.name))
    return {child.key: child for child in found}


async def _perform(owner: Owner, action: PipelineAction) -> None:
    match action:
        case CreateStageRun():
            await stage_runs.ensure_stage_run(owner, action)
        case AbortStageRun():
            await stage_runs.abort_stage_run(action)
        case RecordEvent():
            await events.record_event(owner, action.key, action.reason, action.message, warning=action.warning)


async def reconcile_key(key: Key) -> datetime | None:
    return await reconcile(key[1], key[2])


def pipeline_run_event(namespace: str, name: str) -> None:
    """A PipelineRun changed: reconcile it, and wake its runs that wait at a barrier (they wait for the
    PipelineRun to record their stage before they cross)."""
    SCHEDULER.trigger((PLURAL, namespace, name))
    for run_ns, run_name in SIBLINGS.at_barrier((namespace, name)):
        SCHEDULER.trigger(("workflowruns", run_ns, run_name))


def family_event(body: Mapping[str, Any], *, deleted: bool) -> None:
    """A WorkflowRun changed (or was deleted): if it is a stage run, reconcile its PipelineRun and wake the runs of
    the same PipelineRun that wait at a barrier."""
    parent = SIBLINGS.observe(body, deleted=deleted)
    if parent is None:
        return
    SCHEDULER.trigger((PLURAL, *parent))
    me = (body["metadata"]["namespace"], body["metadata"]["name"])
    for run_ns, run_name in SIBLINGS.at_barrier(parent, besides=me):
        SCHEDULER.trigger(("workflowruns", run_ns, run_name))


SCHEDULER.register(PLURAL, reconcile_key)
