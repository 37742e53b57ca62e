"""Barriers between the WorkflowRuns of one PipelineRun: where the other participants of each barrier stand.

A run marks itself `barrier.convoy.dev/<name>: <state>/<seal>` with state reached, crossed or failed (the
planner's MarkBarrier actions; the seal, over the run's uid, the barrier and the state, is added by the handler
that writes it). `barrier_views` reads those marks on the run's siblings and tells the barrier step whether
everyone is there, who failed, or who is missing. The rules:

- The participants are the stage runs the PipelineRun's status records, by namespace, name and uid: never a run
  found by its labels or its `spec.pipelineRunRef`, which anyone who may create a WorkflowRun can set. A recorded
  run whose object is gone or has another uid (deleted, perhaps replaced by someone else) does not take part.
- Only marks Convoy sealed for that run count (the handler drops the others and reports them); a mark copied
  from another run, or typed by hand, neither fails nor crosses a barrier.
- A participant is a sibling whose rendered workflow declares a barrier step of that name and whose stage runs
  beside this run's: barriers only synchronise runs that run in parallel (as in Harness). Stages this run's stage
  requires (directly or not) have finished before it started, and stages that require it cannot start until it
  finishes: waiting for either would deadlock, so they are not participants.
- A participant that reached or crossed the barrier is there. One marked `failed`, or one that ended badly
  (Failed, RolledBack, Aborted) or is rolling back without having reached it, fails the barrier.
- A participant whose barrier step was skipped (its `when` did not hold), that ended successfully without
  reaching the barrier, or that was deleted does not block. A barrier nobody else declares does not block.
- A sibling that has not started yet (its workflow is not rendered), or whose uid the PipelineRun has not
  recorded yet, blocks while it is about to start, and does not once it ended or while it is queued behind
  another run of its target (it may be queued behind this one).
- Stages that have not started at all (their WorkflowRun does not exist yet) are not waited for, with one
  exception that closes a race: until the PipelineRun has recorded this run (its uid included), the runs created
  in the same cycle may not all exist yet, so the barrier is not crossed before that. Without the PipelineRun
  nobody can be trusted to take part, so the barrier waits (and times out).

Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from convoy.api.pipeline import PipelineRunStatus, PipelineSpec, StageRecord, StageState
from convoy.api.validation import ancestors, requirements
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import RunPhase, RunResult, StepState
from convoy.planner.observed import BarrierView

BARRIER_PREFIX = "barrier.convoy.dev/"
REACHED, CROSSED, FAILED = "reached", "crossed", "failed"
STATES = (REACHED, CROSSED, FAILED)
WITH_RUNS = (StageState.RUNNING, StageState.SUCCEEDED, StageState.FAILED, StageState.ABORTED)
"""Stage states whose record names a run of this PipelineRun (a Reused record names an earlier run's)."""


def mark_value(state: str, seal: str) -> str:
    """The value of a barrier annotation: the state, then the seal that proves Convoy wrote it for this run."""
    return f"{state}/{seal}"


def read_mark(value: str) -> tuple[str, str]:
    """(state, seal) of a barrier annotation's value; the seal is empty when there is none."""
    state, _, seal = value.partition("/")
    return state, seal


@dataclass(frozen=True)
class StageRunRef:
    """A run of a pipeline stage, as the PipelineRun records it."""

    namespace: str
    name: str
    stage: str
    uid: str


@dataclass(frozen=True)
class Participant:
    """A sibling WorkflowRun as a barrier sees it."""

    name: str
    namespace: str
    uid: str
    stage: str
    marks: Mapping[str, str]
    """Barrier name → state, only the marks Convoy sealed for this run."""
    declared: Mapping[str, StepState] | None
    """Barrier name → state of its step; None while the run has not started (its workflow is not rendered)."""
    phase: RunPhase = RunPhase.PENDING
    result: RunResult | None = None
    rolling_back: bool = False

    @property
    def label(self) -> str:
        return f"{self.stage} ({self.namespace}/{self.name})"


def participant(body: Mapping[str, Any], *, stage: str, marks: Mapping[str, str]) -> Participant:
    """A WorkflowRun object (wire format) as a participant of its barriers: `stage` is the stage the PipelineRun
    records it for, `marks` the marks on it that Convoy sealed (barrier → state)."""
    meta, status = body["metadata"], body.get("status") or {}
    return Participant(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=str(meta.get("uid") or ""),
        stage=stage,
        marks=dict(marks),
        declared=_declared(status),
        phase=RunPhase(status.get("phase") or RunPhase.PENDING),
        result=RunResult(status["result"]) if status.get("result") else None,
        rolling_back=bool(status.get("rollingBack")),
    )


def _declared(status: Mapping[str, Any]) -> dict[str, StepState] | None:
    workflow = status.get("workflowSpec")
    if not workflow:
        return None
    records = status.get("phases") or []
    out: dict[str, StepState] = {}
    for i, phase in enumerate(workflow.get("phases") or []):
        steps = records[i].get("steps") or [] if i < len(records) else []
        for j, step in enumerate(phase.get("steps") or []):
            if "barrier" in step:
                state = steps[j].get("state") if j < len(steps) else None
                out[step["barrier"]["name"]] = StepState(state or StepState.PENDING)
    return out


def declared_barriers(workflow: WorkflowSpec) -> list[str]:
    """The barriers a workflow's phases meet at, in order."""
    return [s.barrier.name for p in workflow.phases for s in p.steps if s.barrier is not None]


def recorded_runs(pipeline_run: PipelineRunStatus) -> list[StageRecord]:
    """The stage records that name a run of this PipelineRun: the runs a barrier reads (and no other)."""
    return [r for r in pipeline_run.stages if r.state in WITH_RUNS and r.workflow_run and r.namespace]


def barrier_views(
    *,
    barriers: Iterable[str],
    me: StageRunRef,
    siblings: Iterable[Participant],
    pipeline_run: PipelineRunStatus | None,
) -> dict[str, BarrierView]:
    """The view of each of `barriers` for the run `me`. `siblings` are the runs read for the records of
    `pipeline_run` (the status of the PipelineRun, None when it is gone); one that no record names (namespace,
    name and uid) is not a participant."""
    if pipeline_run is None:
        return {b: BarrierView(missing=("the pipeline run, which is gone",)) for b in barriers}
    if not _recorded(pipeline_run, me):
        waiting = ("the pipeline run to record stage " + me.stage,)
        return {b: BarrierView(missing=waiting) for b in barriers}
    related = _related_stages(pipeline_run, me.stage)
    found = {(s.namespace, s.name, s.uid): s for s in siblings}
    present: list[Participant] = []
    unconfirmed: list[Participant] = []
    for record in recorded_runs(pipeline_run):
        assert record.namespace is not None and record.workflow_run is not None
        if record.name == me.stage or record.name in related:
            continue
        if record.uid is None:  # created, not yet confirmed as this PipelineRun's: about to start
            if record.state is StageState.RUNNING:
                unconfirmed.append(Participant(record.workflow_run, record.namespace, "", record.name, {}, None))
            continue
        sibling = found.get((record.namespace, record.workflow_run, record.uid))
        if sibling is not None:  # otherwise deleted or replaced: it does not block
            present.append(replace(sibling, stage=record.name))
    ordered = sorted(present + unconfirmed, key=lambda s: (s.stage, s.namespace, s.name))
    return {b: _view(b, ordered) for b in barriers}


def _view(barrier: str, siblings: list[Participant]) -> BarrierView:
    failed: list[str] = []
    missing: list[str] = []
    for sibling in siblings:
        standing = _standing(barrier, sibling)
        if standing == FAILED:
            failed.append(sibling.label)
        elif standing == "missing":
            missing.append(sibling.label)
    if failed:
        return BarrierView(failed_by=failed[0], missing=tuple(missing))
    return BarrierView(all_reached=not missing, missing=tuple(missing))


def _standing(barrier: str, s: Participant) -> str:
    """'reached', 'failed', 'missing', or '' for a sibling that does not take part (or no longer blocks)."""
    mark = s.marks.get(barrier)
    if mark == FAILED:
        return FAILED
    if mark in (REACHED, CROSSED):
        return REACHED
    if s.declared is None:
        about_to_start = s.result is None and s.phase is not RunPhase.QUEUED
        return "missing" if about_to_start else ""
    step = s.declared.get(barrier)
    if step is None or step is StepState.SKIPPED or s.result is RunResult.SUCCEEDED:
        return ""
    if s.result is not None or s.rolling_back:
        return FAILED
    return "missing"


def _related_stages(pipeline_run: PipelineRunStatus, stage: str) -> set[str]:
    """The stages that do not run beside `stage`: those it requires and those that require it."""
    if not pipeline_run.pipeline_spec:
        return set()
    graph = requirements(PipelineSpec.model_validate(pipeline_run.pipeline_spec))
    before = ancestors(graph, stage)
    after = {s for s in graph if stage in ancestors(graph, s)}
    return before | after


def _recorded(pipeline_run: PipelineRunStatus, me: StageRunRef) -> bool:
    record = next((r for r in pipeline_run.stages if r.name == me.stage), None)
    return record is not None and (record.namespace, record.workflow_run, record.uid) == (
        me.namespace,
        me.name,
        me.uid,
    )
