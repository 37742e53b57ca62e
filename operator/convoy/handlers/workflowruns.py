"""Reconciling one WorkflowRun: read it, resolve its Workflow, observe what it deploys, plan, act, patch status.

A plan that asked for measurements is planned again, from the same status, with their results, until it asks
for nothing new; then the status is written once. A write that conflicts (409) starts over from fresh state.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from convoy.adapters import jobs, resources, services, workloads
from convoy.adapters.owner import Owner
from convoy.adapters.routes import ROUTER
from convoy.api.validation import FieldError, InvalidSpec, parse_spec
from convoy.api.workflow import WorkflowSpec, WorkflowType
from convoy.api.workflowrun import WorkflowRunSpec, WorkflowRunStatus
from convoy.handlers import definitions, metrics
from convoy.handlers.barriers import observe_barriers
from convoy.handlers.execute import perform
from convoy.handlers.index import RunIndex
from convoy.planner.actions import Action, PointService, SetRouteWeights
from convoy.planner.bluegreen import color_names
from convoy.planner.canary import canary_name
from convoy.planner.cycle import RunIdentity
from convoy.planner.decisions import reopens
from convoy.planner.observed import Measurement, Observed, Route, Workload
from convoy.planner.run import Plan, plan, resolve, targets

log = logging.getLogger(__name__)
PLURAL = "workflowruns"
MAX_PLANS = 5
MAX_CONFLICTS = 5
UNWATCHED = (SetRouteWeights, PointService)


def _companions(kind: WorkflowType, deployment: str) -> tuple[str, ...]:
    """The Deployments a workflow type runs beside its target: the canary, or the two colors."""
    if kind is WorkflowType.CANARY:
        return (canary_name(deployment),)
    if kind is WorkflowType.BLUE_GREEN:
        return color_names(deployment)
    return ()


async def resolve_workflow(namespace: str, spec: WorkflowRunSpec) -> WorkflowSpec | InvalidSpec:
    if spec.workflow is not None:
        return spec.workflow
    if spec.workflow_ref is None:
        return InvalidSpec([FieldError("spec", "set exactly one of workflowRef or workflow (inline)")])
    parsed = await definitions.referenced("Workflow", spec.workflow_ref, namespace, "spec.workflowRef.name")
    assert isinstance(parsed, WorkflowSpec | InvalidSpec)
    return parsed


async def pipeline_context(namespace: str, spec: WorkflowRunSpec) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The values `${pipeline.variables.X}` and `${stages.S.outputs.K}` take in a run a pipeline created: the
    PipelineRun's variables over its Pipeline's defaults, and the outputs of its stages."""
    ref = spec.pipeline_run_ref
    body = await resources.read("pipelineruns", ref.namespace or namespace, ref.name) if ref is not None else None
    if body is None:
        return {}, {}
    status = body.get("status") or {}
    declared = ((status.get("pipelineSpec") or {}).get("variables")) or []
    values = {v["name"]: v["default"] for v in declared if v.get("default") is not None}
    values.update((body.get("spec") or {}).get("variables") or {})
    outputs = {s["name"]: dict(s.get("outputs") or {}) for s in status.get("stages") or [] if s.get("outputs")}
    return values, outputs


async def observe(
    identity: RunIdentity,
    spec: WorkflowRunSpec,
    workflow: WorkflowSpec | InvalidSpec,
    status: WorkflowRunStatus,
    index: RunIndex,
    pipeline: tuple[dict[str, str], dict[str, dict[str, str]]] = ({}, {}),
) -> Observed:
    rendered = resolve(identity, spec, workflow, status, *pipeline)
    if isinstance(rendered, InvalidSpec):
        return Observed()
    wanted = targets(rendered, identity.namespace)
    index.set_targets(identity.namespace, identity.name, wanted)
    container = rendered.artifact.container if rendered.artifact else None
    found: dict[str, Workload] = {}
    for target in _observed_deployments(rendered, identity.namespace, wanted):
        namespace, name = target.split("/", 1)
        workload = await workloads.observe(namespace, name, container)
        if workload is not None:
            found[target] = workload
    routes: dict[str, Route] = {}
    service_selectors: dict[str, dict[str, str]] = {}
    for target in wanted:
        namespace, name = target.split("/", 1)
        for companion in _companions(rendered.type, name):
            workload = await workloads.observe(namespace, companion, container)
            if workload is not None:
                found[f"{namespace}/{workload.name}"] = workload
    if rendered.blue_green is not None:
        for service in (rendered.blue_green.active_service, rendered.blue_green.preview_service):
            selector = await services.selector(identity.namespace, service)
            if selector is not None:
                service_selectors[f"{identity.namespace}/{service}"] = selector
    if rendered.type is WorkflowType.CANARY:
        route = rendered.canary.traffic_route if rendered.canary else None
        if route is not None:
            seen = await ROUTER.observe(
                identity.namespace, route.http_route, route.stable_service, route.canary_service
            )
            if seen is not None:
                routes[f"{identity.namespace}/{route.http_route}"] = seen
    queued_behind = () if status.started_at else index.ahead_of(identity.namespace, identity.name, wanted)
    me = (identity.namespace, identity.name)
    others = [f"{ns}/{n}" for ns, n in index.sharing(wanted) if (ns, n) != me] if status.result else []
    return Observed(
        routes=routes,
        services=service_selectors,
        workloads=found,
        jobs=await jobs.observe(identity.namespace, identity.name),
        queued_behind=queued_behind,
        others_in_flight=tuple(sorted(others)),
        in_pipeline=spec.pipeline_run_ref is not None,
        barriers=await observe_barriers(identity, spec.pipeline_run_ref, rendered) if spec.pipeline_run_ref else {},
    )


def _observed_deployments(workflow: WorkflowSpec, namespace: str, wanted: list[str]) -> list[str]:
    manifests = (workflow.target.manifests or []) if workflow.target else []
    extra = [
        f"{m.get('metadata', {}).get('namespace') or namespace}/{m.get('metadata', {}).get('name')}"
        for m in manifests
        if m.get("kind") == "Deployment"
    ]
    return list(dict.fromkeys([*wanted, *extra]))


async def reconcile(namespace: str, name: str, index: RunIndex) -> datetime | None:
    for _ in range(MAX_CONFLICTS):
        body = await resources.read(PLURAL, namespace, name)
        if body is None:
            index.remove(namespace, name)
            return None
        try:
            return await _reconcile_once(body, index)
        except resources.Conflict:
            log.info("workflowrun %s/%s changed while reconciling; planning again", namespace, name)
    return datetime.now(UTC)


async def _reconcile_once(body: dict[str, Any], index: RunIndex) -> datetime | None:
    meta = body["metadata"]
    if (body.get("status") or {}).get("result") and not _rolled_back_after_success(body):
        return None  # finished runs are history: nothing to observe, nothing to do
    identity = RunIdentity(meta["name"], meta["namespace"], meta.get("generation", 1))
    owner = Owner("WorkflowRun", meta["name"], meta["namespace"], meta["uid"])
    status = _status(body)
    spec_or_error = _spec(body)
    workflow: WorkflowSpec | InvalidSpec
    if isinstance(spec_or_error, InvalidSpec):
        spec, workflow = WorkflowRunSpec(), spec_or_error
    else:
        spec = spec_or_error
        workflow = await resolve_workflow(identity.namespace, spec)
    pipeline = await pipeline_context(identity.namespace, spec) if status.workflow_spec is None else ({}, {})
    observed = await observe(identity, spec, workflow, status, index, pipeline)
    now = datetime.now(UTC)
    done: list[Action] = []
    measurements: dict[str, Measurement] = {}
    result: Plan | None = None
    for _ in range(MAX_PLANS):
        result = plan(
            run=identity,
            spec=spec,
            workflow=workflow,
            status=status,
            observed=observed,
            now=now,
            pipeline_variables=pipeline[0],
            stage_outputs=pipeline[1],
        )
        fresh = [a for a in result.actions if a not in done]
        for action in fresh:
            await perform(owner, action, measurements)
            done.append(action)
        if len(measurements) == len(observed.measurements):
            break
        observed = replace(observed, measurements=dict(measurements))
    assert result is not None
    wake_at = result.wake_at
    if any(isinstance(a, UNWATCHED) for a in done):  # no watch event will say when these took effect
        soon = now + timedelta(seconds=1)
        wake_at = soon if wake_at is None else min(wake_at, soon)
    new_status = result.status.to_wire()
    if new_status != body.get("status"):
        updated = await resources.replace_status(PLURAL, body, new_status)
        index.observe(updated)
        metrics.observe_write(status, result.status)
    return wake_at


def _rolled_back_after_success(body: dict[str, Any]) -> bool:
    """A run that succeeded and has a Rollback decision it has not seen: a post-deployment rollback reopens it."""
    spec = _spec(body)
    return not isinstance(spec, InvalidSpec) and reopens(spec, _status(body))


class UnreadableStatus(Exception):
    """A status the operator did not write (edited by hand). Starting over would repeat side effects, so the run
    is left alone, and the error is logged on each attempt."""


def _status(body: dict[str, Any]) -> WorkflowRunStatus:
    try:
        return WorkflowRunStatus.model_validate(body.get("status") or {})
    except ValidationError as error:
        namespace, name = _name(body)
        raise UnreadableStatus(f"status of workflowrun {namespace}/{name} is unreadable: {error}") from None


def _spec(body: dict[str, Any]) -> WorkflowRunSpec | InvalidSpec:
    try:
        parsed = parse_spec("WorkflowRun", body.get("spec"))
    except InvalidSpec as invalid:
        return invalid
    assert isinstance(parsed, WorkflowRunSpec)
    return parsed


def _name(body: dict[str, Any]) -> tuple[str, str]:
    return body["metadata"]["namespace"], body["metadata"]["name"]
