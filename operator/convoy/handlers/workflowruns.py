"""Reconciling one WorkflowRun: read it, resolve its Workflow (once: a started run keeps it in its status),
observe what it deploys, plan, then act in the order that makes a repeat harmless:

1. reads and deliveries (measurements, notifications, Events); a plan that asked for measurements is planned
   again with their results, until it asks for nothing new;
2. the status write: the plan is recorded (intent) before anything in the cluster changes;
3. the changes, as the tenant's ServiceAccount, each idempotent against that record. A change the API server
   refuses for good fails the step that asked for it; a step waiting for a change it cannot observe goes on once
   the change was made: either way the run is planned again from the recorded status, and recorded again.

A write that conflicts (409) starts over from fresh state; nothing of the cluster has changed by then.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from convoy.adapters import autoscalers, grants, jobs, resources, services, stage_runs
from convoy.adapters.kube import Tenant
from convoy.adapters.owner import Owner
from convoy.adapters.routes import ROUTER
from convoy.api.validation import FieldError, InvalidSpec, parse_spec
from convoy.api.workflow import ConcurrencyPolicy, WorkflowSpec, WorkflowType
from convoy.api.workflowrun import WorkflowRunSpec, WorkflowRunStatus
from convoy.handlers import admission, config, definitions, metrics
from convoy.handlers.barriers import observe_barriers
from convoy.handlers.execute import perform_or_refuse
from convoy.handlers.index import RunIndex
from convoy.handlers.runtime import DEPLOYMENTS, OWN_WRITES, RUNS
from convoy.planner.actions import BEFORE_INTENT, Action, PointService, SetRouteWeights
from convoy.planner.bluegreen import color_names
from convoy.planner.canary import canary_name
from convoy.planner.cycle import RunIdentity, target_of
from convoy.planner.decisions import reopens
from convoy.planner.observed import Autoscaler, Measurement, Observed, Refusal, Route, Workload
from convoy.planner.run import Plan, awaits_confirmation, plan, resolve, targets

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
    parsed = await definitions.referenced(
        "Workflow", spec.workflow_ref, namespace, "spec.workflowRef.name", "WorkflowRun"
    )
    assert isinstance(parsed, WorkflowSpec | InvalidSpec)
    return parsed


async def pipeline_context(
    run: dict[str, Any], spec: WorkflowRunSpec
) -> tuple[dict[str, str], dict[str, dict[str, str]]] | None:
    """The values `${pipeline.variables.X}` and `${stages.S.outputs.K}` take in a run a pipeline created: the
    PipelineRun's variables over its Pipeline's defaults, and the outputs of its stages. None when the run claims
    a PipelineRun that did not create it (its variables and its other stages' outputs are not the run's to read)."""
    ref = spec.pipeline_run_ref
    if ref is None:
        return {}, {}
    namespace = ref.namespace or run["metadata"]["namespace"]
    body = await resources.read("pipelineruns", namespace, ref.name)
    if body is None:
        return None  # gone, or never there: nothing can vouch that it created this run
    parent = Owner("PipelineRun", ref.name, namespace, body["metadata"]["uid"])
    if not stage_runs.created_for(run, parent, ref.stage):
        return None
    status = body.get("status") or {}
    declared = ((status.get("pipelineSpec") or {}).get("variables")) or []
    values = {v["name"]: v["default"] for v in declared if v.get("default") is not None}
    values.update(status.get("variables") or (body.get("spec") or {}).get("variables") or {})
    outputs = {s["name"]: dict(s.get("outputs") or {}) for s in status.get("stages") or [] if s.get("outputs")}
    return values, outputs


async def observe(
    identity: RunIdentity,
    spec: WorkflowRunSpec,
    workflow: WorkflowSpec | InvalidSpec,
    status: WorkflowRunStatus,
    index: RunIndex,
    pipeline: tuple[dict[str, str], dict[str, dict[str, str]]] = ({}, {}),
    uid: str = "",
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
        workload = await DEPLOYMENTS.workload(namespace, name, container)
        if workload is not None:
            found[target] = workload
    routes: dict[str, Route] = {}
    service_selectors: dict[str, dict[str, str]] = {}
    for target in wanted:
        namespace, name = target.split("/", 1)
        for companion in _companions(rendered.type, name):
            workload = await DEPLOYMENTS.workload(namespace, companion, container)
            if workload is not None:
                found[f"{namespace}/{workload.name}"] = workload
    # Services and routes live beside the workload they front: the target's namespace, which the planner writes.
    home = wanted[0].split("/", 1)[0] if wanted else identity.namespace
    if rendered.blue_green is not None:
        for service in (rendered.blue_green.active_service, rendered.blue_green.preview_service):
            selector = await services.selector(home, service)
            if selector is not None:
                service_selectors[f"{home}/{service}"] = selector
    if rendered.type is WorkflowType.CANARY:
        route = rendered.canary.traffic_route if rendered.canary else None
        if route is not None:
            seen = await ROUTER.observe(home, route.http_route, route.stable_service, route.canary_service)
            if seen is not None:
                routes[f"{home}/{route.http_route}"] = seen
    scalers: dict[str, tuple[Autoscaler, ...]] = {}
    # The HPA a canary carries through its phases (planner/canary.py): looked for until the first step sized the
    # service, then followed only when one was found.
    if rendered.type is WorkflowType.CANARY and (status.canary is None or status.autoscaler is not None):
        for namespace in dict.fromkeys(t.split("/", 1)[0] for t in wanted):
            names = [t.split("/", 1)[1] for t in wanted if t.startswith(f"{namespace}/")]
            scalers.update(await autoscalers.observe(namespace, names))
    queued_behind = () if status.started_at else index.ahead_of(identity.namespace, identity.name, wanted)
    limits = config.current  # the operator's cap on runs progressing at once (0: none)
    slot_wait = None
    if not status.started_at:
        slot_wait = index.slot_wait(
            identity.namespace,
            identity.name,
            limit=limits.max_progressing_runs,
            per_namespace=limits.max_progressing_runs_per_namespace,
        )
    me = (identity.namespace, identity.name)
    others = [f"{ns}/{n}" for ns, n in index.sharing(wanted) if (ns, n) != me] if status.result else []
    return Observed(
        routes=routes,
        autoscalers=scalers,
        services=service_selectors,
        workloads=found,
        jobs=await jobs.observe(Owner("WorkflowRun", identity.name, identity.namespace, uid))
        if runs_jobs(rendered)
        else {},
        queued_behind=queued_behind,
        slot_wait=slot_wait,
        others_in_flight=tuple(sorted(others)),
        in_pipeline=spec.pipeline_run_ref is not None,
        barriers=await observe_barriers(identity, uid, spec.pipeline_run_ref, rendered)
        if spec.pipeline_run_ref
        else {},
    )


_NOT_A_STAGE = (
    "this run was not created by the PipelineRun it names: only Convoy creates a pipeline's stage runs; remove "
    "pipelineRunRef, or start the pipeline with a PipelineRun"
)


_CONTEXT_OF_A_STAGE = (
    "only a pipeline's stage runs take a context (the Pipeline names it for its stage's jobs): remove it, or set "
    "the context on the Pipeline's stage"
)


def tenant_of(namespace: str, spec: WorkflowRunSpec, status: WorkflowRunStatus, workflow: object) -> Tenant:
    """Whom the run's changes are made as: fixed in the status when it starts; before that, the ServiceAccount
    its Workflow names (or the operator's default) in the namespace the Workflow lives in (an inline workflow lives
    in the run's)."""
    if status.acting_as:
        parts = status.acting_as.split(":")
        return Tenant(parts[2], parts[3])
    home = (spec.workflow_ref.namespace or namespace) if spec.workflow_ref else namespace
    account = workflow.service_account_name if isinstance(workflow, WorkflowSpec) else None
    return Tenant(home, account or config.current.default_service_account)


async def granted(
    identity: RunIdentity,
    spec: WorkflowRunSpec,
    workflow: WorkflowSpec,
    status: WorkflowRunStatus,
    pipeline: tuple[dict[str, str], dict[str, dict[str, str]]],
) -> WorkflowSpec | InvalidSpec:
    """The workflow, if every namespace it would change other than its own is granted to it; else why not. Checked
    once, before the run starts (the run then freezes what it deploys)."""
    rendered = resolve(identity, spec, workflow, status, *pipeline)
    if isinstance(rendered, InvalidSpec):
        return workflow  # the planner reports the rendering error
    referrer, home = (
        ("Workflow", spec.workflow_ref.namespace or identity.namespace)
        if spec.workflow_ref
        else (
            "WorkflowRun",
            identity.namespace,
        )
    )
    wanted = [
        (namespace, name or "")
        for namespace, name in (target_of(rendered, phase, identity.namespace) for phase in rendered.phases)
        if namespace != home
    ]
    errors = []
    for namespace, name in dict.fromkeys(wanted):  # a Basic workflow's target namespace counts as its Deployment's
        refused = await grants.refusal(referrer, home, "Deployment", namespace, name)
        if refused is not None:
            errors.append(FieldError("spec.target.namespace", refused))
    return InvalidSpec(errors) if errors else workflow


def runs_jobs(workflow: WorkflowSpec) -> bool:
    """Whether any step of the workflow, deploy or rollback, runs a Job (else there are none to list)."""
    steps = (step for phase in workflow.phases for step in (*phase.steps, *(phase.rollback_steps or ())))
    return any(step.job is not None or (step.verify is not None and step.verify.job is not None) for step in steps)


def _observed_deployments(workflow: WorkflowSpec, namespace: str, wanted: list[str]) -> list[str]:
    """The targets, and the Deployments among a Basic workflow's manifests: in the target's namespace, where they
    are applied whatever their own metadata says (adapters/manifests.py)."""
    target = workflow.target
    manifests = (target.manifests or []) if target else []
    home = (target.namespace if target else None) or namespace
    extra = [f"{home}/{m.get('metadata', {}).get('name')}" for m in manifests if m.get("kind") == "Deployment"]
    return list(dict.fromkeys([*wanted, *extra]))


async def reconcile(namespace: str, name: str, index: RunIndex) -> datetime | None:
    """Reconcile the run from its last watched version; after a conflict, from a fresh read."""
    body = RUNS.get((namespace, name))
    for _ in range(MAX_CONFLICTS):
        body = body or await resources.read(PLURAL, namespace, name)
        if body is None:
            index.remove(namespace, name)
            return None
        try:
            return await _reconcile_once(body, index)
        except resources.Conflict:
            log.info("workflowrun %s/%s changed while reconciling; planning again", namespace, name)
            body = None
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
    elif status.workflow_spec is not None:  # started: the rendered workflow is frozen in the status
        spec, workflow = spec_or_error, WorkflowSpec.model_validate(status.workflow_spec)
    else:
        spec = spec_or_error
        workflow = await resolve_workflow(identity.namespace, spec)
    context = await pipeline_context(body, spec) if status.workflow_spec is None else ({}, {})
    pipeline = context or ({}, {})
    if context is None:
        workflow = InvalidSpec([FieldError("spec.pipelineRunRef", _NOT_A_STAGE)])
    elif spec.context is not None and spec.pipeline_run_ref is None and status.workflow_spec is None:
        # A context puts a Secret into the Workflow's job pods: the Pipeline's owners choose it, not a run's creator.
        workflow = InvalidSpec([FieldError("spec.context", _CONTEXT_OF_A_STAGE)])
    tenant = tenant_of(identity.namespace, spec, status, workflow)
    if status.workflow_spec is None and isinstance(workflow, WorkflowSpec):
        workflow = await granted(identity, spec, workflow, status, pipeline)
    observed = await observe(identity, spec, workflow, status, index, pipeline, uid=owner.uid)
    observed = replace(observed, provenance=admission.provenance("WorkflowRun", body))  # the seals, checked
    now = datetime.now(UTC)
    cycle = _Performer(owner, tenant)
    planned_from, result = status, None
    for _ in range(MAX_PLANS):
        result = plan(
            run=identity,
            spec=spec,
            workflow=workflow,
            status=planned_from,
            observed=observed,
            now=now,
            pipeline_variables=pipeline[0],
            stage_outputs=pipeline[1],
        )
        if result.status.started_at is not None and planned_from.started_at is None:
            queues = (result.status.workflow_spec or {}).get("concurrency", {}).get("policy") != ConcurrencyPolicy.ALLOW
            ahead = index.claim(identity.namespace, identity.name, result.status.targets, exclusive=queues)
            if ahead:  # another run of a target started while this one was being observed: it queues instead
                observed = replace(observed, queued_behind=ahead)
                continue
            result.status.acting_as = tenant.username
        known = len(cycle.refused)
        # Reads and deliveries first: the plan is made again with what they return, and a crash before the
        # status write only repeats them (a measurement is taken again; a notification carries its idempotency
        # key, so its receiver can tell a repeat).
        await cycle.perform(result, before_intent=True)
        if len(cycle.refused) > known or len(cycle.measurements) > len(observed.measurements):
            observed = replace(observed, measurements=dict(cycle.measurements), refused=dict(cycle.refused))
            continue
        # Intent before action: the plan is in the status before anything in the cluster changes, so a cycle
        # planned again after a crash or a conflict starts from what was decided, and never applies it twice.
        body = await _record(body, result, planned_from, index)
        planned_from = result.status
        await cycle.perform(result, before_intent=False)
        if len(cycle.refused) == known and not awaits_confirmation(result.status, cycle.performed):
            break
        # refused steps fail, steps whose changes were made go on: plan again from the recorded status, record that
        observed = replace(observed, refused=dict(cycle.refused), confirmed=frozenset(cycle.performed))
    else:
        # The plans ran out with work left (measurements to plan with, a refusal or a change to record): no watch
        # event may come for it (our own status write brings none), so the next cycle is now.
        assert result is not None
        return now
    assert result is not None
    wake_at = result.wake_at
    if any(isinstance(a, UNWATCHED) for a in cycle.done):  # no watch event will say when these took effect
        soon = now + timedelta(seconds=1)
        wake_at = soon if wake_at is None else min(wake_at, soon)
    return wake_at


class _Performer:
    """Performs one reconcile's actions, each at most once, gathering measurements and refusals."""

    def __init__(self, owner: Owner, tenant: Tenant) -> None:
        self.owner, self.tenant = owner, tenant
        self.done: list[Action] = []
        self.measurements: dict[str, Measurement] = {}
        self.refused: dict[str, Refusal] = {}
        self.performed: set[str] = set()
        """Step attempts whose actions were all accepted so far."""

    async def perform(self, result: Plan, *, before_intent: bool) -> None:
        for position, action in enumerate(result.actions):
            if action in self.done or isinstance(action, BEFORE_INTENT) is not before_intent:
                continue
            origin = result.origin(position)
            satisfied = DEPLOYMENTS.satisfied(action)  # as the watch last showed it: no call needed
            refusal = None if satisfied else await perform_or_refuse(self.owner, self.tenant, action, self.measurements)
            if refusal is not None and origin is not None:
                self.refused[origin] = refusal
                return  # what the step asked for next may depend on what was refused: plan again first
            self.done.append(action)
            if origin is not None:
                self.performed.add(origin)


async def _record(body: dict[str, Any], result: Plan, previous: WorkflowRunStatus, index: RunIndex) -> dict[str, Any]:
    """Write the planned status, if it changed; the object as it now is."""
    wire = result.status.to_wire()
    if wire == body.get("status"):
        return body
    updated = await resources.replace_status(PLURAL, body, wire)
    key = (updated["metadata"]["namespace"], updated["metadata"]["name"])
    OWN_WRITES[(PLURAL, *key)] = updated["metadata"]["resourceVersion"]
    if key in RUNS:
        RUNS[key] = updated
    index.observe(updated)
    metrics.observe_write(previous, result.status)
    return updated


def _rolled_back_after_success(body: dict[str, Any]) -> bool:
    """A run that succeeded and has a Rollback decision it has not seen: a post-deployment rollback reopens it."""
    spec = _spec(body)
    sealed = admission.provenance("WorkflowRun", body).sealed
    return not isinstance(spec, InvalidSpec) and reopens(spec, _status(body), sealed)


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
