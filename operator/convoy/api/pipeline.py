"""Pipeline and PipelineRun: workflows chained in sequence, in parallel, or as a `requires` DAG."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from convoy.api.common import Condition, ContextRef, ConvoyModel, DNSLabel, ObjectRef, ResourceName, Variable
from convoy.api.decisions import Decision
from convoy.api.steps import ApprovalStep
from convoy.api.workflowrun import StatusModel


class NameFilter(ConvoyModel):
    """Branch or tag names, exact or as '/regex/'."""

    only: list[str] = Field(default_factory=list, max_length=50)
    ignore: list[str] = Field(default_factory=list, max_length=50)


class Filters(ConvoyModel):
    """CircleCI semantics: a tag-triggered run skips stages without a tags filter."""

    branches: NameFilter | None = None
    tags: NameFilter | None = None


class WorkflowStage(ConvoyModel):
    """Run a Workflow as this stage; variables may use `${pipeline.variables.X}` and `${stages.S.outputs.K}`."""

    workflow_ref: ObjectRef
    namespace: str | None = Field(default=None, max_length=63, description="Where the WorkflowRun is created.")
    variables: dict[str, str] = Field(default_factory=dict)


class StageFailure(StrEnum):
    FAIL = "Fail"
    IGNORE = "Ignore"


class Stage(ConvoyModel):
    """A pipeline stage: a workflow or an approval. Set exactly one of `workflow` and `approval`."""

    name: DNSLabel
    workflow: WorkflowStage | None = None
    approval: ApprovalStep | None = None
    requires: list[str] = Field(default_factory=list, max_length=50, description="Stages that must succeed first.")
    parallel: bool = Field(
        default=False, description="Run beside the previous stage: sugar for requiring what it requires."
    )
    filters: Filters | None = None
    on_failure: StageFailure = Field(default=StageFailure.FAIL, description="Ignore: the pipeline goes on.")
    context: ContextRef | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Stage:
        if (self.workflow is None) == (self.approval is None):
            raise ValueError("set exactly one of workflow or approval")
        return self


class OnStageFailure(StrEnum):
    FINISH_RUNNING = "FinishRunning"
    ABORT_RUNNING = "AbortRunning"


class PipelineSpec(ConvoyModel):
    """Stages of workflows and approvals; a stage starts once every stage it requires has succeeded."""

    stages: list[Stage] = Field(
        min_length=1,
        max_length=50,
        description="By default each stage requires the previous one; use requires or parallel for a DAG.",
    )
    variables: list[Variable] = Field(
        default_factory=list, max_length=50, description="Template variables; each run gives their values."
    )
    on_stage_failure: OnStageFailure = Field(
        default=OnStageFailure.FINISH_RUNNING, description="What happens to running stages when one fails."
    )
    service_account_name: ResourceName | None = Field(
        default=None,
        description="The ServiceAccount, in this object's namespace, that Convoy acts as for every change it makes "
        "(RBAC decides what it may touch); empty: the operator's default (convoy-runner).",
    )


class TriggerContext(ConvoyModel):
    """Where a PipelineRun comes from: the git ref and who started it. Filters are evaluated against it."""

    branch: str | None = Field(default=None, max_length=256)
    tag: str | None = Field(default=None, max_length=256)
    commit: str | None = Field(default=None, max_length=64)
    by: str | None = Field(default=None, max_length=256)


class PipelineRunSpec(ConvoyModel):
    """Run a Pipeline with these variable values, for this git ref."""

    pipeline_ref: ObjectRef = Field(description="The Pipeline to run.")
    variables: dict[str, str] = Field(default_factory=dict)
    trigger: TriggerContext = Field(default_factory=TriggerContext)
    rerun_of: ObjectRef | None = Field(
        default=None, description="Rerun from failed: reuse this PipelineRun's succeeded stages."
    )
    decisions: list[Decision] = Field(default_factory=list, max_length=200)


class PipelinePhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    WAITING_FOR_APPROVAL = "WaitingForApproval"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTED = "Aborted"


class StageState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    WAITING_FOR_APPROVAL = "WaitingForApproval"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    ABORTED = "Aborted"
    REUSED = "Reused"


class StageRecord(StatusModel):
    """What happened to one stage. Rebuilt by the planner on a private copy, like a WorkflowRun's step records."""

    name: str
    state: StageState = StageState.PENDING
    workflow_run: str | None = Field(default=None, description="The stage's WorkflowRun (for Reused: the earlier one).")
    namespace: str | None = Field(default=None, description="Namespace of the stage's WorkflowRun.")
    uid: str | None = Field(
        default=None,
        description="The uid of the stage's WorkflowRun, once created or adopted: only the object with this uid is "
        "the stage's run (and a participant of its barriers).",
    )
    started_at: str | None = None
    finished_at: str | None = None
    deadline: str | None = Field(default=None, description="Approval stages: when the timeout action is taken.")
    approvers: list[str] = Field(default_factory=list, description="Approval stages: who may decide.")
    message: str | None = Field(default=None, max_length=1024)
    decided_by: str | None = None
    approved_by: list[str] = Field(
        default_factory=list, description="Approval stages: the distinct approvers who approved, in order."
    )
    outputs: dict[str, str] = Field(default_factory=dict, description="The outputs of the stage's WorkflowRun.")


class PipelineHalt(StatusModel):
    """Why the run starts no more stages: a stage failed (`StageFailed`), someone aborted it (`Aborted`), or it
    cannot run at all (`InvalidSpec`)."""

    reason: str
    stage: str | None = None
    message: str = Field(default="", max_length=1024)


class PipelineRunStatus(StatusModel):
    """Written only by the operator."""

    phase: PipelinePhase = PipelinePhase.PENDING
    message: str | None = Field(default=None, max_length=1024)
    pipeline: str | None = None
    pipeline_uid: str | None = Field(
        default=None, description="The uid of the Pipeline the run started from: a rerun must be of the same one."
    )
    variables: dict[str, str] | None = Field(
        default=None,
        description="The variable values the run started with, defaults included: a rerun reuses an approval only "
        "when its values are the same.",
    )
    stages_done: str | None = Field(default=None, description="Finished stages / all stages, e.g. '2/5'.")
    stages: list[StageRecord] = Field(default_factory=list)
    halted: PipelineHalt | None = None
    pipeline_spec: dict[str, Any] | None = Field(
        default=None, description="The pipeline as it was when the run started; later edits do not change the run."
    )
    decisions_seen: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
