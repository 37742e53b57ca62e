"""Observing the barriers of a WorkflowRun that runs as a pipeline stage: its siblings (the other WorkflowRuns of
the PipelineRun, in any namespace) and the PipelineRun's status, turned into views by planner/barriers.py."""

from __future__ import annotations

from pydantic import ValidationError

from convoy.adapters import resources, stage_runs
from convoy.api.pipeline import PipelineRunStatus
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import PipelineRunRef
from convoy.handlers import config
from convoy.handlers.siblings import parent_of
from convoy.planner.barriers import barrier_views, declared_barriers, participant
from convoy.planner.cycle import RunIdentity
from convoy.planner.observed import BarrierView
from convoy.planner.stages import selector


async def observe_barriers(run: RunIdentity, ref: PipelineRunRef, workflow: WorkflowSpec) -> dict[str, BarrierView]:
    names = declared_barriers(workflow)
    if not names:
        return {}
    parent = (ref.namespace or run.namespace, ref.name)
    bodies = await stage_runs.list_labelled(selector(RunIdentity(parent[1], parent[0])), config.current.namespaces)
    siblings = [participant(body) for body in bodies if parent_of(body) == parent]
    pipeline_run = await resources.read("pipelineruns", *parent)
    try:
        status = PipelineRunStatus.model_validate(pipeline_run.get("status") or {}) if pipeline_run else None
    except ValidationError:
        status = None  # a status the operator did not write: do not wait for it to record anything
    return barrier_views(
        barriers=names, me=(run.namespace, run.name, ref.stage), siblings=siblings, pipeline_run=status
    )
