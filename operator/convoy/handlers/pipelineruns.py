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

from convoy.adapters import events, grants, resources, stage_runs
from convoy.adapters.kube import ApiError, Tenant, acting_as
from convoy.adapters.owner import Owner
from convoy.api.pipeline import PipelineRunSpec, PipelineRunStatus, PipelineSpec, StageState
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.handlers import admission, config, definitions
from convoy.handlers.execute import lasting_refusal
from convoy.handlers.runtime import SCHEDULER, SIBLINGS
from convoy.handlers.scheduler import Key
from convoy.planner.actions import RecordEvent
from convoy.planner.cycle import RunIdentity
from convoy.planner.pipeline import PipelineAction, plan
from convoy.planner.stages import AbortStageRun, CreateStageRun, StageRun, stage_run

log = logging.getLogger(__name__)
MAX_PLANS = 5
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
    refused: dict[str, str] = {}
    done: list[PipelineAction] = []
    created: list[tuple[CreateStageRun, str]] = []
    for _ in range(MAX_PLANS):
        result = plan(
            run=run,
            spec=spec,
            pipeline=pipeline,
            pipeline_uid=await _pipeline_uid(run.namespace, spec) if isinstance(pipeline, PipelineSpec) else None,
            status=status,
            children=await _children(owner, status),
            previous=previous,
            now=datetime.now(UTC),
            provenance=admission.provenance("PipelineRun", body),  # the seals, checked
            refused=refused,
        )
        tenant = _tenant(run.namespace, spec, result.status.pipeline_spec)
        known = len(refused)
        for action in result.actions:
            if action in done:
                continue
            if isinstance(action, RecordEvent):
                await _perform(owner, action)
            elif isinstance(action, CreateStageRun):
                why = await _create(owner, tenant, action, created)
                if why is not None:
                    refused[action.key] = why
                    break  # the stage fails: plan again
            else:
                with acting_as(tenant):  # stage runs are told to abort as the Pipeline's ServiceAccount
                    await _perform(owner, action)
            done.append(action)
        if len(refused) == known:
            break
    for action, uid in created:
        _record_uid(result.status, action, uid)
    new_status = result.status.to_wire()
    if new_status != body.get("status"):
        await resources.replace_status(PLURAL, body, new_status)
    return result.wake_at


async def _create(
    owner: Owner, tenant: Tenant, action: CreateStageRun, created: list[tuple[CreateStageRun, str]]
) -> str | None:
    """Create a stage's run as the Pipeline's ServiceAccount, if the stage's namespace (and its context) is the
    Pipeline's or granted to it; why not, when it is not or the API server refused for good. The uid of a run it
    created goes into `created`, for the status to record."""
    namespace, name = action.key.split("/", 1)
    wanted = [("WorkflowRun", name)]
    context = action.manifest["spec"].get("context") or {}
    wanted += [(kind, context[field]) for kind, field in (("Secret", "secret"), ("ConfigMap", "configMap"))
               if context.get(field)]  # fmt: skip
    for kind, target in wanted:
        refused = await grants.refusal("Pipeline", tenant.namespace, kind, namespace, target)
        if refused is not None:
            return refused
    try:
        with acting_as(tenant):
            uid = await stage_runs.ensure_stage_run(owner, action)
    except ApiError as error:
        refusal = lasting_refusal(owner.uid, error)
        if refusal is None:
            raise
        return refusal.message
    if uid is not None:
        created.append((action, uid))
    return None


def _tenant(namespace: str, spec: PipelineRunSpec | InvalidSpec, pipeline: Mapping[str, Any] | None) -> Tenant:
    """The Pipeline's ServiceAccount (or the operator's default), in the namespace the Pipeline lives in."""
    home = (spec.pipeline_ref.namespace or namespace) if isinstance(spec, PipelineRunSpec) else namespace
    account = (pipeline or {}).get("serviceAccountName") or config.current.default_service_account
    return Tenant(home, str(account))


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
    parsed = await definitions.referenced(
        "Pipeline", spec.pipeline_ref, namespace, "spec.pipelineRef.name", "PipelineRun"
    )
    assert isinstance(parsed, PipelineSpec | InvalidSpec)
    return parsed


async def _pipeline_uid(namespace: str, spec: PipelineRunSpec | InvalidSpec) -> str | None:
    """The uid of the Pipeline the run resolves to: recorded when it starts, so a rerun is of the same object."""
    if isinstance(spec, InvalidSpec):
        return None
    body = await resources.read("pipelines", spec.pipeline_ref.namespace or namespace, spec.pipeline_ref.name)
    return str(body["metadata"]["uid"]) if body is not None else None


async def _previous(namespace: str, spec: PipelineRunSpec | InvalidSpec) -> PipelineRunStatus | None:
    """The status of the PipelineRun this one reruns, if it names one of this namespace that exists (the planner
    refuses a rerun of another namespace's run; its status is not even read)."""
    if isinstance(spec, InvalidSpec) or spec.rerun_of is None or spec.rerun_of.namespace not in (None, namespace):
        return None
    body = await resources.read(PLURAL, namespace, spec.rerun_of.name)
    if body is None:
        return None
    return PipelineRunStatus.model_validate(body.get("status") or {})


async def _children(owner: Owner, status: PipelineRunStatus) -> dict[str, StageRun]:
    """The runs of the PipelineRun's running stages, read by the names its status records, by 'namespace/name';
    each says whether Convoy created it for this PipelineRun's stage (else the stage fails, never adopts it)."""
    found: dict[str, StageRun] = {}
    for record in status.stages:
        if record.state is not StageState.RUNNING or not record.namespace or not record.workflow_run:
            continue
        body = await resources.read(stage_runs.PLURAL, record.namespace, record.workflow_run)
        if body is not None:
            child = stage_run(body, ours=stage_runs.created_for(body, owner, record.name))
            found[child.key] = child
    return found


def _record_uid(status: PipelineRunStatus, action: CreateStageRun, uid: str) -> None:
    """The stage's record keeps the uid of the run just created, in the same status write."""
    meta = action.manifest["metadata"]
    for record in status.stages:
        if (record.namespace, record.workflow_run) == (meta["namespace"], meta["name"]):
            record.uid = uid


async def _perform(owner: Owner, action: PipelineAction) -> None:
    match action:
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
