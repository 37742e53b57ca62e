"""The WorkflowRuns of pipeline stages: their names, labels and manifests, what the pipeline planner asks of them,
and how it sees them.

A stage's run is named after the PipelineRun and the stage (`<pipelinerun>-<stage>`, shortened with a hash when
too long), so creating it again after a restart or a conflict finds the one that exists. Finding one by that name
is not enough to adopt it: anyone who may create WorkflowRuns in the stage's namespace can create one first. The
PipelineRun follows only a run that Convoy created for it (a seal over the PipelineRun's uid and the stage, and, in
its own namespace, its ownerReference; checked by the handler) and records its uid. Labels are for people
(`kubectl get workflowruns -l convoy.dev/pipelinerun=...`), never for finding participants.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from convoy.api.common import API_VERSION
from convoy.api.pipeline import Stage
from convoy.api.workflowrun import RunPhase, RunResult
from convoy.planner.cycle import RunIdentity, clip, object_name

PIPELINE_RUN_LABEL = "convoy.dev/pipelinerun"
PIPELINE_RUN_NAMESPACE_LABEL = "convoy.dev/pipelinerun-namespace"
STAGE_LABEL = "convoy.dev/stage"
MAX_OUTPUTS = 32
"""Outputs copied from a stage's run into the PipelineRun status, at most; each value at most 1024 characters."""


def child_name(pipeline_run: str, stage: str) -> str:
    return object_name(pipeline_run, stage)


def selector(pipeline_run: RunIdentity) -> dict[str, str]:
    """The labels every stage run of a PipelineRun carries."""
    return {
        PIPELINE_RUN_LABEL: object_name(pipeline_run.name),
        PIPELINE_RUN_NAMESPACE_LABEL: pipeline_run.namespace,
    }


def manifest(
    *,
    pipeline_run: RunIdentity,
    pipeline_namespace: str,
    stage: Stage,
    namespace: str,
    variables: Mapping[str, str],
) -> dict[str, Any]:
    """The WorkflowRun of a workflow stage. Its workflowRef is resolved in the Pipeline's namespace."""
    assert stage.workflow is not None
    ref = stage.workflow.workflow_ref
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowRun",
        "metadata": {
            "name": child_name(pipeline_run.name, stage.name),
            "namespace": namespace,
            "labels": {**selector(pipeline_run), STAGE_LABEL: stage.name},
        },
        "spec": {
            "workflowRef": {"name": ref.name, "namespace": ref.namespace or pipeline_namespace},
            "variables": dict(variables),
            "pipelineRunRef": {"name": pipeline_run.name, "namespace": pipeline_run.namespace, "stage": stage.name},
            **({"context": stage.context.to_wire()} if stage.context is not None else {}),
            "decisions": [],
        },
    }


@dataclass(frozen=True)
class CreateStageRun:
    """The stage's WorkflowRun exists: created from `manifest` unless it does. `owned`: the PipelineRun owns it
    (same namespace), so it is deleted with it."""

    manifest: dict[str, Any]
    owned: bool

    @property
    def key(self) -> str:
        return f"{self.manifest['metadata']['namespace']}/{self.manifest['metadata']['name']}"


@dataclass(frozen=True)
class AbortStageRun:
    """The stage's WorkflowRun was told to abort: an Abort decision is in its spec.decisions (appended once)."""

    namespace: str
    name: str
    reason: str


@dataclass(frozen=True)
class StageRun:
    """A stage's WorkflowRun as observed."""

    name: str
    namespace: str
    phase: RunPhase = RunPhase.PENDING
    result: RunResult | None = None
    message: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    finished_at: str | None = None
    failed: bool = False
    """The run recorded a failure (a failed step), whatever its strategy made of it: Abort ends it Aborted too."""
    abort_requested: bool = False
    uid: str = ""
    ours: bool = False
    """Convoy created this run for this PipelineRun's stage: only then is it adopted."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def stage_run(body: Mapping[str, Any], *, ours: bool) -> StageRun:
    """A WorkflowRun object (wire format) as the pipeline planner sees it; `ours`: Convoy created it for the
    stage that names it (the handler checks the seal)."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    outputs = dict(list((status.get("outputs") or {}).items())[:MAX_OUTPUTS])
    return StageRun(
        name=meta["name"],
        namespace=meta["namespace"],
        phase=RunPhase(status.get("phase") or RunPhase.PENDING),
        result=RunResult(status["result"]) if status.get("result") else None,
        message=str(status.get("message") or ""),
        outputs={str(k): clip(str(v), 1024) for k, v in outputs.items()},
        finished_at=status.get("finishedAt"),
        failed=bool(status.get("failure")),
        abort_requested=any(d.get("action") == "Abort" for d in spec.get("decisions") or []),
        uid=str(meta.get("uid") or ""),
        ours=ours,
    )
