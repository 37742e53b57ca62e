"""A simulated cluster for the pipeline planner: it keeps the PipelineRun's status between cycles, creates the
stage runs the planner asks for (as Convoy creates them: sealed for this PipelineRun, with a uid the status does
not know until the next cycle reads them), and lets a test finish them. Pipelines are written in wire format and parsed
with the validator, so every pipeline a test runs is one the API server would accept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from convoy.api.pipeline import PipelineRunSpec, PipelineRunStatus, PipelineSpec, StageRecord, StageState
from convoy.api.validation import parse_spec
from convoy.api.workflowrun import RunPhase, RunResult
from convoy.planner.actions import RecordEvent
from convoy.planner.cycle import RunIdentity
from convoy.planner.observed import Provenance
from convoy.planner.pipeline import PipelinePlan, plan
from convoy.planner.stages import AbortStageRun, CreateStageRun, StageRun
from convoy.planner.timeutil import stamp

Obj = dict[str, Any]
NAMESPACE = "shop"
RUN = RunIdentity("rel-1", NAMESPACE)
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PIPELINE_UID = "uid-release"


def workflow_stage(name: str, workflow: str = "web", **extra: Any) -> Obj:
    return {"name": name, "workflow": {"workflowRef": {"name": workflow}, **extra.pop("run", {})}, **extra}


def approval_stage(name: str, approvers: list[str] | None = None, **extra: Any) -> Obj:
    body: Obj = {"approvers": approvers or []}
    body.update(extra.pop("approval", {}))
    return {"name": name, "approval": body, **extra}


def pipeline(*stages: Obj, **extra: Any) -> PipelineSpec:
    spec = parse_spec("Pipeline", {"stages": list(stages), **extra})
    assert isinstance(spec, PipelineSpec)
    return spec


def run_spec(**wire: Any) -> PipelineRunSpec:
    spec = parse_spec("PipelineRun", {"pipelineRef": {"name": "release"}, **wire})
    assert isinstance(spec, PipelineRunSpec)
    return spec


class PipelineSim:
    def __init__(
        self,
        pipeline_spec: PipelineSpec,
        spec: PipelineRunSpec | None = None,
        previous: PipelineRunStatus | None = None,
        run: RunIdentity = RUN,
        pipeline_uid: str | None = PIPELINE_UID,
    ) -> None:
        self.pipeline = pipeline_spec
        self.spec = spec or run_spec()
        self.previous = previous
        self.run = run
        self.pipeline_uid = pipeline_uid
        self.status = PipelineRunStatus()
        self.children: dict[str, StageRun] = {}
        self.created: list[CreateStageRun] = []
        self.aborted: list[AbortStageRun] = []
        self.events: list[RecordEvent] = []
        self.now = START
        self.creator: str | None = "creator"  # who created the run, as admission recorded it
        self.unsealed: set[int] = set()  # decisions admission did not seal

    def reconcile(self) -> PipelinePlan:
        result = plan(
            run=self.run,
            spec=self.spec,
            pipeline=self.pipeline,
            pipeline_uid=self.pipeline_uid,
            status=self.status,
            children=dict(self.children),
            previous=self.previous,
            now=self.now,
            provenance=Provenance(
                sealed=frozenset(i for i in range(len(self.spec.decisions)) if i not in self.unsealed),
                creator=self.creator,
            ),
        )
        for action in result.actions:
            if isinstance(action, CreateStageRun):
                self.created.append(action)
                meta = action.manifest["metadata"]
                uid = f"uid-{meta['namespace']}-{meta['name']}"
                child = StageRun(meta["name"], meta["namespace"], phase=RunPhase.RUNNING, uid=uid, ours=True)
                self.children.setdefault(child.key, child)
            elif isinstance(action, AbortStageRun):
                self.aborted.append(action)
                key = f"{action.namespace}/{action.name}"
                self.children[key] = replace(self.children[key], abort_requested=True)
            else:
                self.events.append(action)
        self.status = result.status
        return result

    def advance(self, seconds: float = 10) -> None:
        self.now += timedelta(seconds=seconds)

    def decide(self, action: str, stage: str | None = None, by: str = "alice", **extra: Any) -> None:
        decision: Obj = {"action": action, "by": by, **extra}
        if stage is not None:
            decision["stage"] = stage
        wire = self.spec.model_dump(by_alias=True, exclude_none=True, mode="json")
        wire["decisions"] = [*wire["decisions"], decision]
        self.spec = run_spec(**{k: v for k, v in wire.items() if k != "pipelineRef"})

    def record(self, stage: str) -> StageRecord:
        return next(r for r in self.status.stages if r.name == stage)

    def states(self) -> dict[str, StageState]:
        return {r.name: r.state for r in self.status.stages}

    def started(self) -> list[str]:
        """Stages whose runs were created, in order."""
        return [a.manifest["metadata"]["labels"]["convoy.dev/stage"] for a in self.created]

    def child_of(self, stage: str) -> StageRun:
        record = self.record(stage)
        return self.children[f"{record.namespace}/{record.workflow_run}"]

    def finish(
        self, stage: str, result: RunResult = RunResult.SUCCEEDED, failed: bool | None = None, **outputs: str
    ) -> None:
        """The stage's run ends now with `result`; `failed`: it recorded a failure (by default unless it succeeded
        or was aborted)."""
        child = self.child_of(stage)
        if failed is None:
            failed = result in (RunResult.FAILED, RunResult.ROLLED_BACK)
        message = "all phases succeeded" if result is RunResult.SUCCEEDED else "job smoke failed"
        self.children[child.key] = replace(
            child,
            phase=RunPhase(result.value),
            result=result,
            outputs=outputs,
            message=message,
            finished_at=stamp(self.now),
            failed=failed,
        )

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]

    def run_all(self, *stages: str, result: RunResult = RunResult.SUCCEEDED) -> None:
        """Finish `stages` (each must be running), then reconcile."""
        self.advance()
        for stage in stages:
            self.finish(stage, result)
        self.reconcile()
