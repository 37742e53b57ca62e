"""Barriers between the WorkflowRuns of one PipelineRun: where the other participants of each barrier stand.

A run marks itself `barrier.convoy.dev/<name>: reached | crossed | failed` (the planner's MarkBarrier actions).
`barrier_views` reads those marks on the run's siblings (the other WorkflowRuns of the same PipelineRun) and
tells the barrier step whether everyone is there, who failed, or who is missing. The rules:

- A participant is a sibling whose rendered workflow declares a barrier step of that name and whose stage runs
  beside this run's: barriers only synchronise runs that run in parallel (as in Harness). Stages this run's stage
  requires (directly or not) have finished before it started, and stages that require it cannot start until it
  finishes: waiting for either would deadlock, so they are not participants.
- A participant that reached or crossed the barrier is there. One marked `failed`, or one that ended badly
  (Failed, RolledBack, Aborted) or is rolling back without having reached it, fails the barrier.
- A participant whose barrier step was skipped (its `when` did not hold), that ended successfully without
  reaching the barrier, or that was deleted does not block. A barrier nobody else declares does not block.
- A sibling that has not started yet (its workflow is not rendered) blocks while it is about to start, and does
  not once it ended or while it is queued behind another run of its target (it may be queued behind this one).
- Stages that have not started at all (their WorkflowRun does not exist yet) are not waited for, with one
  exception that closes a race: until the PipelineRun has recorded this run's stage as started, the runs created
  in the same cycle may not all exist yet, so the barrier is not crossed before that.

Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from convoy.api.pipeline import PipelineRunStatus, PipelineSpec
from convoy.api.validation import ancestors, requirements
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import RunPhase, RunResult, StepState
from convoy.planner.observed import BarrierView

BARRIER_PREFIX = "barrier.convoy.dev/"
REACHED, CROSSED, FAILED = "reached", "crossed", "failed"


@dataclass(frozen=True)
class Participant:
    """A sibling WorkflowRun as a barrier sees it."""

    name: str
    namespace: str
    stage: str
    marks: Mapping[str, str]
    declared: Mapping[str, StepState] | None
    """Barrier name → state of its step; None while the run has not started (its workflow is not rendered)."""
    phase: RunPhase = RunPhase.PENDING
    result: RunResult | None = None
    rolling_back: bool = False

    @property
    def label(self) -> str:
        return f"{self.stage} ({self.namespace}/{self.name})"


def participant(body: Mapping[str, Any]) -> Participant:
    """A WorkflowRun object (wire format) as a participant of its barriers."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    annotations: Mapping[str, str] = meta.get("annotations") or {}
    marks = {k.removeprefix(BARRIER_PREFIX): v for k, v in annotations.items() if k.startswith(BARRIER_PREFIX)}
    return Participant(
        name=meta["name"],
        namespace=meta["namespace"],
        stage=str((spec.get("pipelineRunRef") or {}).get("stage") or meta["name"]),
        marks=marks,
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


def barrier_views(
    *,
    barriers: Iterable[str],
    me: tuple[str, str, str],
    siblings: Iterable[Participant],
    pipeline_run: PipelineRunStatus | None,
) -> dict[str, BarrierView]:
    """The view of each of `barriers` for the run `me` = (namespace, name, stage). `pipeline_run` is the status of
    the PipelineRun, or None when it is gone (then every sibling counts and nothing is awaited from it)."""
    namespace, name, stage = me
    unrelated = [s for s in siblings if (s.namespace, s.name) != (namespace, name)]
    if pipeline_run is not None:
        related = _related_stages(pipeline_run, stage)
        unrelated = [s for s in unrelated if s.stage not in related]
        if not _recorded(pipeline_run, me):
            waiting = ("the pipeline run to record stage " + stage,)
            return {b: BarrierView(missing=waiting) for b in barriers}
    ordered = sorted(unrelated, key=lambda s: (s.stage, s.namespace, s.name))
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


def _recorded(pipeline_run: PipelineRunStatus, me: tuple[str, str, str]) -> bool:
    namespace, name, stage = me
    record = next((r for r in pipeline_run.stages if r.name == stage), None)
    return record is not None and (record.namespace, record.workflow_run) == (namespace, name)
