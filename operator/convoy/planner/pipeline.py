"""Plan one reconcile cycle of a PipelineRun: start it, follow its stages' WorkflowRuns, apply new decisions,
start every stage whose requirements are met, and compute the phase last, from everything else.

    plan(run=..., spec=..., pipeline=..., status=..., children=..., previous=..., now=...) -> PipelinePlan

A stage starts once each stage it requires (`validation.requirements`) succeeded, was reused, or failed with
`onFailure: Ignore`. Filters are judged when the run starts (planner/filters.py, CircleCI's semantics): a stage
its filters keep out is skipped, and so is every stage that requires a skipped one, directly or not, because a
stage runs only after the stages it requires ran; each says why in its message. A workflow stage creates a
WorkflowRun with its variables rendered from `${pipeline.variables.X}` and `${stages.S.outputs.K}`; an approval
stage waits for a decision on the PipelineRun. A failed stage halts the run: no stage starts after it, running
stages finish or are aborted as `onStageFailure` says, and the run fails once none is left running. A rerun
(`spec.rerunOf`) reuses the stages that succeeded in the earlier run, unless they require a stage that runs again.

Pure: the input status is never mutated; calling it twice with the same arguments gives the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from convoy.api.common import DNS_LABEL
from convoy.api.decisions import Decision, DecisionAction
from convoy.api.expressions import ExpressionError, render
from convoy.api.pipeline import (
    OnStageFailure,
    PipelineHalt,
    PipelinePhase,
    PipelineRunSpec,
    PipelineRunStatus,
    PipelineSpec,
    Stage,
    StageFailure,
    StageRecord,
    StageState,
)
from convoy.api.steps import TimeoutAction
from convoy.api.validation import InvalidSpec, ancestors, requirements, variable_values
from convoy.api.workflowrun import RunResult
from convoy.planner.actions import RecordEvent
from convoy.planner.conditions import kstatus
from convoy.planner.cycle import RunIdentity, clip
from convoy.planner.decisions import not_sealed, refusal
from convoy.planner.filters import skips
from convoy.planner.observed import Provenance
from convoy.planner.stages import AbortStageRun, CreateStageRun, StageRun, child_name, manifest
from convoy.planner.timeutil import after, parse, stamp

PipelineAction = CreateStageRun | AbortStageRun | RecordEvent
STAGE_FAILED, ABORTED, INVALID = "StageFailed", "Aborted", "InvalidSpec"
TERMINAL = {StageState.SUCCEEDED, StageState.FAILED, StageState.SKIPPED, StageState.ABORTED, StageState.REUSED}
SATISFIED = {StageState.SUCCEEDED, StageState.SKIPPED, StageState.REUSED}
RAN = {StageState.SUCCEEDED, StageState.REUSED}
ACTIVE = {StageState.RUNNING, StageState.WAITING_FOR_APPROVAL}


@dataclass(frozen=True)
class PipelinePlan:
    status: PipelineRunStatus
    actions: tuple[PipelineAction, ...]
    wake_at: datetime | None


@dataclass
class _Cycle:
    run: RunIdentity
    spec: PipelineRunSpec
    pipeline: PipelineSpec
    status: PipelineRunStatus
    children: Mapping[str, StageRun]
    now: datetime
    graph: dict[str, list[str]]
    provenance: Provenance
    refused: Mapping[str, str] = field(default_factory=dict)
    actions: list[PipelineAction] = field(default_factory=list)
    wake: list[datetime] = field(default_factory=list)

    @property
    def stamp(self) -> str:
        return stamp(self.now)

    @property
    def pipeline_name(self) -> str:
        return self.spec.pipeline_ref.name

    def stage(self, name: str) -> Stage:
        return next(s for s in self.pipeline.stages if s.name == name)

    def record(self, name: str) -> StageRecord | None:
        return next((r for r in self.status.stages if r.name == name), None)

    def event(self, key: str, reason: str, message: str, *, warning: bool = False) -> None:
        self.actions.append(
            RecordEvent(key=f"{self.run.name}/{key}", reason=reason, message=clip(message), warning=warning)
        )


def plan(
    *,
    run: RunIdentity,
    spec: PipelineRunSpec | InvalidSpec,
    pipeline: PipelineSpec | InvalidSpec | None,
    status: PipelineRunStatus,
    children: Mapping[str, StageRun],
    previous: PipelineRunStatus | None,
    now: datetime,
    provenance: Provenance | None = None,
    pipeline_uid: str | None = None,
    refused: Mapping[str, str] | None = None,
) -> PipelinePlan:
    """The next status of the PipelineRun and the actions that get there.

    `pipeline` is the Pipeline as resolved from the reference, or why it could not be; once the run has started,
    it runs the pipeline its status keeps and `pipeline` may be None. `children` are the stage runs by
    'namespace/name'. `previous` is the status of the run named by `spec.rerunOf` (None when there is none).
    `provenance` is what admission vouches for (planner/observed.py): the run acts on sealed decisions only.
    `pipeline_uid` is the uid of the resolved Pipeline (recorded when the run starts; a rerun needs the same).
    `refused` says why stage runs (by 'namespace/name') could not be created this cycle: their stages fail."""
    status = status.model_copy(deep=True)
    if status.finished_at is not None:
        return PipelinePlan(status=status, actions=(), wake_at=None)
    if status.pipeline_spec is not None:
        pipeline = PipelineSpec.model_validate(status.pipeline_spec)
    problem = _problem(run, spec, pipeline, status, previous, pipeline_uid)
    if problem is not None:
        return _invalid(run, status, problem, now)
    assert isinstance(spec, PipelineRunSpec) and isinstance(pipeline, PipelineSpec)
    c = _Cycle(
        run=run,
        spec=spec,
        pipeline=pipeline,
        status=status,
        children=children,
        now=now,
        graph=requirements(pipeline),
        provenance=provenance or Provenance(),
        refused=refused or {},
    )
    if status.started_at is None:
        _start(c, previous, pipeline_uid)
    for record in status.stages:
        if record.state is StageState.RUNNING:
            _follow(c, record)
    _apply_decisions(c)
    _advance(c)
    if status.halted is not None:
        _wind_down(c)
    return _finish(c)


def _problem(
    run: RunIdentity,
    spec: PipelineRunSpec | InvalidSpec,
    pipeline: PipelineSpec | InvalidSpec | None,
    status: PipelineRunStatus,
    previous: PipelineRunStatus | None,
    pipeline_uid: str | None,
) -> str | None:
    """Why the run cannot start at all; None when it can (or has started already)."""
    if isinstance(spec, InvalidSpec):
        return f"invalid spec: {spec}"
    if pipeline is None:
        return "the pipeline was not resolved"
    if isinstance(pipeline, InvalidSpec):
        return f"invalid pipeline: {pipeline}"
    if status.started_at is not None:
        return None
    errors = list(variable_values(pipeline.variables, spec.variables, "spec.variables"))
    if errors:
        return f"invalid spec: {InvalidSpec(errors)}"
    if spec.rerun_of is not None:
        return _rerun_problem(run, spec, previous, pipeline_uid)
    return None


def _rerun_problem(
    run: RunIdentity, spec: PipelineRunSpec, previous: PipelineRunStatus | None, pipeline_uid: str | None
) -> str | None:
    """A rerun reuses what the earlier run did, approvals included: only a run of this namespace, of this very
    Pipeline object (a Pipeline deleted and created again under the same name is another one), may be rerun."""
    assert spec.rerun_of is not None
    ref, namespace = spec.rerun_of.name, spec.rerun_of.namespace
    if namespace not in (None, run.namespace):
        return (
            f"spec.rerunOf.namespace: a PipelineRun reruns only a PipelineRun of its own namespace "
            f"({run.namespace}), not one in {namespace}"
        )
    if previous is None:
        return f"spec.rerunOf: PipelineRun {ref} not found"
    if previous.finished_at is None:
        return f"spec.rerunOf: PipelineRun {ref} has not finished: rerun it once it has"
    if previous.pipeline != spec.pipeline_ref.name:
        return f"spec.rerunOf: PipelineRun {ref} ran pipeline {previous.pipeline}, not {spec.pipeline_ref.name}"
    if previous.pipeline_uid is None or previous.pipeline_uid != pipeline_uid:
        return (
            f"spec.rerunOf: PipelineRun {ref} ran another Pipeline named {previous.pipeline} "
            f"(uid {previous.pipeline_uid or 'not recorded'}, this one is {pipeline_uid or 'unknown'}): "
            "start a new run instead"
        )
    return None


def _invalid(run: RunIdentity, status: PipelineRunStatus, message: str, now: datetime) -> PipelinePlan:
    status.halted = PipelineHalt(reason=INVALID, message=clip(message))
    status.finished_at = stamp(now)
    event = RecordEvent(key=f"{run.name}/invalid", reason=INVALID, message=clip(message), warning=True)
    status = _derive(run, status, now, reason=INVALID)
    return PipelinePlan(status=status, actions=(event,), wake_at=None)


def _start(c: _Cycle, previous: PipelineRunStatus | None, pipeline_uid: str | None) -> None:
    status, spec = c.status, c.spec
    status.pipeline = spec.pipeline_ref.name
    status.pipeline_uid = pipeline_uid
    status.pipeline_spec = c.pipeline.to_wire()
    status.variables = _variables(c)
    status.started_at = c.stamp
    rerun_of = spec.rerun_of.name if spec.rerun_of else ""
    reused: dict[str, StageRecord] = {}
    if previous is not None:
        approve_again = _approvals_to_decide_again(c, previous, rerun_of)
        reused = _reusable(previous, c.graph, approve_again)
    status.stages = []
    skipped = skips(c.pipeline.stages, c.graph, spec.trigger, reused=reused.keys())
    for stage in c.pipeline.stages:
        record = StageRecord(name=stage.name)
        earlier = reused.get(stage.name)
        if earlier is not None:
            record = earlier.model_copy(deep=True)
            record.state = StageState.REUSED
            record.message = clip(f"reused: succeeded in pipelinerun {rerun_of}")
        elif stage.name in skipped:
            record.state, record.message = StageState.SKIPPED, clip(f"skipped: {skipped[stage.name]}")
            c.event(f"{stage.name}/skipped", "StageSkipped", f"stage {stage.name} {record.message}")
        status.stages.append(record)
    how = f" as a rerun of {rerun_of} (reusing {len(reused)} stages)" if rerun_of else ""
    c.event("started", "Started", f"pipeline {c.pipeline_name} started{how}: {len(c.pipeline.stages)} stages")


def _approvals_to_decide_again(c: _Cycle, previous: PipelineRunStatus, rerun_of: str) -> set[str]:
    """The approval stages that run again although they were approved: all of them when the variables differ
    from those of the earlier run (an approval was given for those values), and none otherwise."""
    approvals = [s.name for s in c.pipeline.stages if s.approval is not None]
    before, now = previous.variables or {}, c.status.variables or {}
    if not approvals or before == now:
        return set()
    names = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    why = f"spec.variables differ from pipelinerun {rerun_of}'s ({', '.join(names)})"
    for name in approvals:
        c.event(f"{name}/approve-again", "ApprovalNotReused", f"stage {name} must be approved again: {why}")
    return set(approvals)


def _reusable(
    previous: PipelineRunStatus, graph: Mapping[str, list[str]], approve_again: set[str]
) -> dict[str, StageRecord]:
    """The stages of the earlier run that succeeded and require no stage that runs again: one that failed, was
    aborted or did not run, one the earlier run did not have, or an approval that must be given again. (Skipped
    stages are judged by their filters again, but what requires them need not run again.)"""
    done = {r.name: r for r in previous.stages if r.state in (StageState.SUCCEEDED, StageState.REUSED)}
    known = {r.name: r.state for r in previous.stages}
    again = {s for s in graph if known.get(s) not in SATISFIED} | approve_again
    return {
        name: r
        for name, r in done.items()
        if name in graph and name not in again and not ancestors(graph, name) & again
    }


def _follow(c: _Cycle, record: StageRecord) -> None:
    """Bring a running workflow stage up to date with its WorkflowRun: only the one Convoy created for this stage
    (and, once recorded, the object with that uid), never one someone else put there under the same name."""
    key = f"{record.namespace}/{record.workflow_run}"
    child = c.children.get(key)
    if child is None:
        _end(c, record, StageState.FAILED, f"workflowrun {key} was deleted")
        return
    if not child.ours or record.uid not in (None, child.uid):
        message = f"WorkflowRun {key} exists and was not created by this PipelineRun; delete it or rename the stage"
        _end(c, record, StageState.FAILED, message)
        return
    record.uid = child.uid
    if child.result is None:
        record.message = f"workflowrun {child.phase.value}" + (" (abort requested)" if child.abort_requested else "")
        return
    finished = child.finished_at or c.stamp
    if child.result is RunResult.SUCCEEDED:
        record.outputs = dict(child.outputs)
        _end(c, record, StageState.SUCCEEDED, "workflowrun succeeded", finished)
    elif child.result is RunResult.ABORTED and not child.failed:
        _end(c, record, StageState.ABORTED, clip(f"workflowrun aborted: {child.message}"), finished)
    else:
        _end(c, record, StageState.FAILED, clip(f"workflowrun {child.result.value}: {child.message}"), finished)


def _end(c: _Cycle, record: StageRecord, state: StageState, message: str, finished: str | None = None) -> None:
    """A stage is over. A failure halts the run, unless the stage ignores failures or the run halted already."""
    record.state, record.finished_at, record.message = state, finished or c.stamp, clip(message)
    record.deadline = None
    if state is StageState.SUCCEEDED:
        c.event(f"{record.name}/done", "StageSucceeded", f"stage {record.name} succeeded")
        return
    if c.stage(record.name).on_failure is StageFailure.IGNORE:
        record.message = clip(f"{message} (ignored: onFailure is Ignore)")
        c.event(f"{record.name}/done", "StageFailureIgnored", f"stage {record.name}: {record.message}", warning=True)
        return
    c.event(f"{record.name}/done", f"Stage{state.value}", f"stage {record.name}: {message}", warning=True)
    if c.status.halted is None:
        c.status.halted = PipelineHalt(
            reason=STAGE_FAILED,
            stage=record.name,
            message=clip(f"stage {record.name} {state.value.lower()}: {message}"),
        )


def _apply_decisions(c: _Cycle) -> None:
    decisions = c.spec.decisions
    for index in range(c.status.decisions_seen, len(decisions)):
        if index in c.provenance.sealed:
            _apply(c, index, decisions[index])
        else:
            _unsealed(c, index, decisions[index])
    c.status.decisions_seen = len(decisions)


def _unsealed(c: _Cycle, index: int, decision: Decision) -> None:
    """A decision admission did not seal has no effect; the Event says why, and so does the message of the
    approval it was about, if one waits."""
    message = not_sealed(index, decision)
    c.event(f"decision/{index}", "DecisionIgnored", message, warning=True)
    waiting = [r for r in c.status.stages if r.state is StageState.WAITING_FOR_APPROVAL]
    target = decision.stage or (waiting[0].name if len(waiting) == 1 else None)
    for record in waiting:
        if record.name == target:
            record.message = clip(f"{(record.message or '').split('; decision ')[0]}; {message}")


def _apply(c: _Cycle, index: int, decision: Decision) -> None:
    who, key, action = decision.by or "someone", f"decision/{index}", decision.action
    reason = f": {decision.reason}" if decision.reason else ""
    if action is DecisionAction.ABORT:
        if c.status.halted is None or c.status.halted.reason != ABORTED:
            c.status.halted = PipelineHalt(reason=ABORTED, message=clip(f"aborted by {who}{reason}"))
            c.event(key, "Aborting", f"pipeline run aborted by {who}{reason}", warning=True)
        return
    waiting = [r for r in c.status.stages if r.state is StageState.WAITING_FOR_APPROVAL]
    target = decision.stage or (waiting[0].name if len(waiting) == 1 else None)
    record = c.record(target) if target else None
    if action not in (DecisionAction.APPROVE, DecisionAction.REJECT) or record is None or record not in waiting:
        what = f"stage {target}" if target else "no single stage"
        c.event(key, "DecisionIgnored", f"{action.value} by {who}: {what} is not waiting for approval", warning=True)
        return
    approval = c.stage(record.name).approval
    assert approval is not None
    what = f"stage {record.name}"
    problem = refusal(approval, decision, what, creator=c.provenance.creator, approved=record.approved_by)
    if problem is not None:
        c.event(key, "ApprovalRefused", problem, warning=True)
        return
    record.decided_by = decision.by
    if action is DecisionAction.APPROVE:
        record.approved_by = [*record.approved_by, who]
        missing = approval.min_approvals - len(record.approved_by)
        if missing > 0:
            record.message = clip(
                f"waiting for {missing} more approval(s) (approved by {', '.join(record.approved_by)})"
            )
            c.event(key, "ApprovalRecorded", f"{what} approved by {who}{reason}: {missing} more needed")
            return
        approvers = ", ".join(record.approved_by)
        c.event(key, "Approved", f"stage {record.name} approved by {approvers}{reason}")
        _end(c, record, StageState.SUCCEEDED, f"approved by {approvers}{reason}")
    else:
        c.event(key, "Rejected", f"stage {record.name} rejected by {who}{reason}", warning=True)
        _end(c, record, StageState.FAILED, f"rejected by {who}{reason}")


def _advance(c: _Cycle) -> None:
    """Time out approvals, and start stages until none more can: an approval decided by its timeout, or a stage
    that fails to render, may let others start (or halt the run) in the same cycle."""
    progressed = True
    while progressed:
        progressed = False
        for record in c.status.stages:
            if record.state is StageState.WAITING_FOR_APPROVAL:
                progressed |= _approval_timeout(c, record)
            elif record.state is StageState.PENDING and c.status.halted is None and _ready(c, record.name):
                _begin(c, record)
                progressed = True


def _ready(c: _Cycle, name: str) -> bool:
    for required in c.graph[name]:
        record = c.record(required)
        if record is None:
            return False
        ignored = c.stage(required).on_failure is StageFailure.IGNORE and record.state is not StageState.SKIPPED
        if not (record.state in RAN or (ignored and record.state in TERMINAL)):
            return False
    return True


def _begin(c: _Cycle, record: StageRecord) -> None:
    stage = c.stage(record.name)
    record.started_at = c.stamp
    if stage.approval is not None:
        approval = stage.approval
        record.state = StageState.WAITING_FOR_APPROVAL
        record.deadline = stamp(after(c.stamp, approval.timeout))
        record.approvers = list(approval.approvers)
        who = ", ".join(approval.approvers) if approval.approvers else "anyone allowed to patch the pipeline run"
        who += f" ({approval.min_approvals} distinct approvers needed)" if approval.min_approvals > 1 else ""
        record.message = clip(f"waiting for approval by {who}" + (f": {approval.message}" if approval.message else ""))
        c.event(f"{record.name}/waiting", "WaitingForApproval", f"stage {record.name}: {record.message}")
        c.wake.append(parse(record.deadline))
        return
    try:
        namespace, variables = _rendered(c, stage)
    except ExpressionError as error:
        _end(c, record, StageState.FAILED, f"cannot render the stage's workflow: {error}")
        return
    name = child_name(c.run.name, stage.name)
    record.state, record.workflow_run, record.namespace = StageState.RUNNING, name, namespace
    record.message = "workflowrun created"
    key = f"{namespace}/{name}"
    if key in c.children:  # created before a restart or a conflicting write: adopt it
        _follow(c, record)
        return
    if key in c.refused:  # the API server, or a missing Grant, refused to create it: retrying cannot help
        _end(c, record, StageState.FAILED, f"workflowrun {key} could not be created: {c.refused[key]}")
        return
    pipeline_namespace = c.spec.pipeline_ref.namespace or c.run.namespace
    body = manifest(
        pipeline_run=c.run, pipeline_namespace=pipeline_namespace, stage=stage, namespace=namespace, variables=variables
    )
    c.actions.append(CreateStageRun(manifest=body, owned=namespace == c.run.namespace))
    c.event(f"{record.name}/started", "StageStarted", f"stage {record.name} started: workflowrun {key}")


def _variables(c: _Cycle) -> dict[str, str]:
    """The run's variable values: the pipeline's defaults, overridden by the run's spec."""
    values = {v.name: v.default for v in c.pipeline.variables if v.default is not None}
    values.update(c.spec.variables)
    return values


def _rendered(c: _Cycle, stage: Stage) -> tuple[str, dict[str, str]]:
    """The namespace and variables of a workflow stage's run; raises ExpressionError for one that cannot be."""
    assert stage.workflow is not None
    # the values the run started with: an approval given for them holds, whatever is edited in the spec later
    started_with = c.status.variables if c.status.variables is not None else _variables(c)
    values = {f"pipeline.variables.{k}": v for k, v in started_with.items()}
    for name in ancestors(c.graph, stage.name):
        record = c.record(name)
        if record is not None and record.state in (StageState.SUCCEEDED, StageState.REUSED):
            values.update({f"stages.{name}.outputs.{k}": v for k, v in record.outputs.items()})
    variables = {k: render(v, values) for k, v in stage.workflow.variables.items()}
    namespace = render(stage.workflow.namespace, values) if stage.workflow.namespace else c.run.namespace
    if not re.fullmatch(DNS_LABEL, namespace) or len(namespace) > 63:
        raise ExpressionError(f"namespace '{namespace}' is not a DNS-1123 label")
    return namespace, variables


def _approval_timeout(c: _Cycle, record: StageRecord) -> bool:
    approval = c.stage(record.name).approval
    assert approval is not None and record.deadline is not None
    deadline = parse(record.deadline)
    if c.now < deadline:
        c.wake.append(deadline)
        return False
    record.decided_by = "timeout"
    if approval.timeout_action is TimeoutAction.APPROVE:
        _end(c, record, StageState.SUCCEEDED, f"approved by timeout after {approval.timeout}")
    else:
        _end(c, record, StageState.FAILED, f"nobody approved within {approval.timeout}")
    return True


def _wind_down(c: _Cycle) -> None:
    """Once halted: approvals still waiting are dropped, and running stages are aborted when the run was aborted
    or the pipeline says AbortRunning (FinishRunning lets them finish)."""
    halted = c.status.halted
    assert halted is not None
    abort = halted.reason == ABORTED or c.pipeline.on_stage_failure is OnStageFailure.ABORT_RUNNING
    for record in c.status.stages:
        if record.state is StageState.WAITING_FOR_APPROVAL:
            record.state, record.finished_at, record.deadline = StageState.ABORTED, c.stamp, None
            record.message = clip(f"not decided: {halted.message}")
        elif record.state is StageState.RUNNING and abort:
            child = c.children.get(f"{record.namespace}/{record.workflow_run}")
            if child is not None and (child.abort_requested or child.result is not None):
                continue
            assert record.namespace is not None and record.workflow_run is not None
            reason = clip(f"pipelinerun {c.run.name}: {halted.message}")
            c.actions.append(AbortStageRun(record.namespace, record.workflow_run, reason))
            record.message = clip(f"aborting: {halted.message}")
            c.event(f"{record.name}/abort", "AbortingStage", f"stage {record.name}: {record.message}", warning=True)


def _finish(c: _Cycle) -> PipelinePlan:
    status, halted = c.status, c.status.halted
    active = [r for r in status.stages if r.state in ACTIVE]
    done = all(r.state in TERMINAL for r in status.stages)
    if not active and (halted is not None or done):
        status.finished_at = c.stamp
        for record in status.stages:
            if record.state is StageState.PENDING and halted is not None:
                record.message = clip(f"not run: {halted.message}")
        if halted is None:
            c.event("done", "Succeeded", f"pipeline {c.pipeline_name} succeeded")
        else:
            reason = "Aborted" if halted.reason == ABORTED else "Failed"
            c.event("done", reason, f"pipeline {c.pipeline_name}: {halted.message}", warning=True)
    status = _derive(c.run, status, c.now)
    wake_at = min((w for w in c.wake if w > c.now), default=None) if status.finished_at is None else None
    return PipelinePlan(status=status, actions=tuple(c.actions), wake_at=wake_at)


def _derive(
    run: RunIdentity, status: PipelineRunStatus, now: datetime, *, reason: str | None = None
) -> PipelineRunStatus:
    """Phase, message, progress and conditions, from everything else."""
    status.phase = _phase(status)
    status.message = clip(_message(status), 1024)
    done = sum(r.state in TERMINAL for r in status.stages)
    status.stages_done = f"{done}/{len(status.stages)}" if status.stages else None
    status.observed_generation = run.generation
    status.conditions = kstatus(
        status.conditions,
        succeeded=status.phase is PipelinePhase.SUCCEEDED,
        running=status.finished_at is None,
        reason=reason or status.phase.value,
        message=status.message or status.phase.value,
        now=now,
    )
    return status


def _phase(status: PipelineRunStatus) -> PipelinePhase:
    halted = status.halted
    if status.finished_at is not None:
        if halted is None:
            return PipelinePhase.SUCCEEDED
        return PipelinePhase.ABORTED if halted.reason == ABORTED else PipelinePhase.FAILED
    if status.started_at is None:
        return PipelinePhase.PENDING
    if any(r.state is StageState.WAITING_FOR_APPROVAL for r in status.stages):
        return PipelinePhase.WAITING_FOR_APPROVAL
    return PipelinePhase.RUNNING


def _message(status: PipelineRunStatus) -> str:
    running = [r.name for r in status.stages if r.state is StageState.RUNNING]
    waiting = [r for r in status.stages if r.state is StageState.WAITING_FOR_APPROVAL]
    if status.halted is not None:
        tail = f"; waiting for {', '.join(running)} to finish" if running and status.finished_at is None else ""
        return status.halted.message + tail
    if status.finished_at is not None:
        counts = {s: sum(r.state is s for r in status.stages) for s in (StageState.SKIPPED, StageState.REUSED)}
        extra = ", ".join(f"{n} {s.value.lower()}" for s, n in counts.items() if n)
        return "all stages done" + (f" ({extra})" if extra else "")
    if waiting:
        return f"stage {waiting[0].name} is {waiting[0].message}"
    return f"running {', '.join(running)}" if running else "starting"
