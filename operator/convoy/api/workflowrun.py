"""WorkflowRun: one execution of a Workflow. The spec says what to run; the status, written only by the operator,
tells where it is."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from convoy.api.common import Condition, ContextRef, ConvoyModel, ObjectRef, ResourceName
from convoy.api.decisions import Decision
from convoy.api.steps import ErrorKind
from convoy.api.workflow import WorkflowSpec, WorkflowType


class RunPhase(StrEnum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RUNNING = "Running"
    PAUSED = "Paused"
    WAITING_FOR_APPROVAL = "WaitingForApproval"
    WAITING_AT_BARRIER = "WaitingAtBarrier"
    WAITING_FOR_INTERVENTION = "WaitingForIntervention"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = {RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.ROLLED_BACK, RunPhase.ABORTED}


class PipelineRunRef(ConvoyModel):
    """The PipelineRun stage that created this run; barriers are shared within that PipelineRun."""

    name: ResourceName
    namespace: str | None = Field(default=None, max_length=63)
    stage: str = Field(max_length=63)


class WorkflowRunSpec(ConvoyModel):
    """Run a Workflow (by reference, or inline) with these variable values."""

    workflow_ref: ObjectRef | None = Field(default=None, description="The Workflow to run.")
    workflow: WorkflowSpec | None = Field(default=None, description="An inline Workflow, instead of workflowRef.")
    variables: dict[str, str] = Field(default_factory=dict, description="Values of the workflow's variables.")
    pipeline_run_ref: PipelineRunRef | None = None
    context: ContextRef | None = Field(
        default=None,
        description="Shared environment for the run's job steps (envFrom), in the run's namespace; a pipeline stage "
        "passes its context here. Secret values are read by the pods, never copied into a spec or status.",
    )
    decisions: list[Decision] = Field(default_factory=list, max_length=200)
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete the run this long after it finished; default: its workflow's ttlSecondsAfterFinished "
        "(none: kept until runHistoryLimit or by hand). A pipeline's stage runs go with their PipelineRun.",
    )


class QueueReason(StrEnum):
    TARGET = "Target"
    PROGRESS_LIMIT = "ProgressLimit"


class StepState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    WAITING = "Waiting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    IGNORED = "Ignored"
    SKIPPED = "Skipped"
    ABORTED = "Aborted"


class Awaiting(StrEnum):
    """What a waiting step waits for; shown by `kubectl convoy get`."""

    ROLLOUT = "Rollout"
    JOB = "Job"
    MEASUREMENT = "Measurement"
    APPROVAL = "Approval"
    PAUSE = "Pause"
    RESUME = "Resume"
    BARRIER = "Barrier"
    RETRY = "Retry"
    INTERVENTION = "Intervention"
    TRAFFIC = "Traffic"
    CONFIRMATION = "Confirmation"
    """The API server accepting a change the step cannot observe (a Basic workflow's objects)."""


class StatusModel(ConvoyModel):
    """Status records are rebuilt by the planner on a private deep copy, so they may be assigned to."""

    model_config = ConfigDict(frozen=False, validate_assignment=False)


class StepRecord(StatusModel):
    """What happened to one step."""

    name: str
    kind: str
    state: StepState = StepState.PENDING
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    attempt_started_at: str | None = None
    awaiting: Awaiting | None = None
    deadline: str | None = Field(default=None, description="When the current wait times out.")
    next_at: str | None = Field(default=None, description="When the step acts next (retry, measurement).")
    error: ErrorKind | None = None
    message: str | None = Field(default=None, max_length=1024)
    decided_by: str | None = Field(default=None, description="Who approved, rejected or decided an intervention.")
    approved_by: list[str] = Field(
        default_factory=list, description="Approval steps: the distinct approvers who approved, in order."
    )
    successes: int = 0
    failures: int = 0
    inconclusive: int = 0


class CanaryPods(StatusModel):
    """Pod counts of a canary split: what the run asked for at its current weight."""

    total: int
    stable: int
    canary: int


class PhaseRecord(StatusModel):
    """What happened to one phase (or, under `rollback`, to one phase's rollback)."""

    name: str
    state: StepState = StepState.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    instances: int | None = Field(
        default=None,
        description="Canary rollback: how many instances this phase's rollback returns to the previous version (its "
        "share of what the run deployed, applied to what runs when the rollback starts).",
    )
    pods: CanaryPods | None = Field(
        default=None,
        description="Canary rollback: the pods once this phase is rolled back (stable: the previous version).",
    )


class Failure(StatusModel):
    """The failure that decided the run's course."""

    phase: str
    step: str
    error: ErrorKind
    message: str = Field(default="", max_length=1024)


class RunResult(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"


class AutoscalerBounds(StatusModel):
    """The HorizontalPodAutoscaler that scales a canary's target, with its bounds as they were before the run:
    what promotion and rollback give back to it."""

    name: str
    min_replicas: int
    max_replicas: int
    sized_by: str | None = Field(
        default=None,
        description="The step attempt (phase/part/step/attempt) that last sized the service from the instances "
        "running when it began: the total follows the HPA, once per attempt.",
    )


class BlueGreenState(StatusModel):
    """Where a blue/green run stands: which color it deploys, what was active before, when it swapped."""

    color: str = Field(description="The color this run deploys: blue or green.")
    deployment: str = Field(description="The new color's Deployment.")
    previous: str = Field(description="The Deployment that was active before (the old color, or the original).")
    previous_selector: dict[str, str] = Field(description="The active Service's selector before the swap.")
    previous_replicas: int
    swapped_at: str | None = None
    old_scaled_down: bool = False


class Revisions(StatusModel):
    """The revisions involved: what ran before the run (restored on rollback) and what it deploys."""

    stable: str | None = None
    new: str | None = None


class PostDeploymentRollback(StatusModel):
    """Set when a run that had succeeded was rolled back afterwards, on request (a Rollback): it undid its phases
    in reverse order, as if its deployment had failed. Such a run is history: it never runs again."""

    succeeded_at: str | None = Field(default=None, description="When the deployment had succeeded.")
    requested_by: str | None = None
    reason: str | None = Field(default=None, max_length=1024)


class WorkflowRunStatus(StatusModel):
    """Written only by the operator."""

    phase: RunPhase = RunPhase.PENDING
    message: str | None = Field(default=None, max_length=1024)
    workflow: str | None = Field(default=None, description="Name of the Workflow being run.")
    acting_as: str | None = Field(
        default=None,
        description="The ServiceAccount every change of this run is made as (system:serviceaccount:NAMESPACE:NAME), "
        "fixed when the run starts.",
    )
    type: WorkflowType | None = None
    targets: list[str] = Field(
        default_factory=list, description="The workloads this run deploys, as namespace/name; runs queue on them."
    )
    current_phase: str | None = None
    current_step: str | None = None
    progress: str | None = Field(default=None, description="Finished phases / all phases, e.g. '2/4'.")
    weight: int | None = Field(default=None, description="Current canary weight.")
    canary: CanaryPods | None = None
    autoscaler: AutoscalerBounds | None = Field(
        default=None, description="Canary: the HPA carried through the phases, and the bounds it gets back."
    )
    blue_green: BlueGreenState | None = None
    queue_position: int | None = Field(default=None, description="Queued: how many runs start before this one.")
    queue_reason: QueueReason | None = Field(
        default=None,
        description="Queued: what the run waits for (Target: a run of the same workload; "
        "ProgressLimit: as many runs change workloads as the operator allows).",
    )
    revisions: Revisions | None = None
    phases: list[PhaseRecord] = Field(default_factory=list)
    rollback: list[PhaseRecord] = Field(default_factory=list, description="Rollback of phases, in reverse order.")
    outputs: dict[str, str] = Field(default_factory=dict)
    failure: Failure | None = None
    rolling_back: bool = Field(default=False, description="The run is undoing its phases.")
    post_deployment_rollback: PostDeploymentRollback | None = None
    result: RunResult | None = Field(default=None, description="How the run ended; empty while it runs.")
    workflow_spec: dict[str, Any] | None = Field(
        default=None, description="The workflow as rendered with this run's variables when the run started."
    )
    decisions_seen: int = Field(
        default=0, description="How many spec.decisions the operator has looked at (applied, or ignored and said why)."
    )
    started_at: str | None = None
    finished_at: str | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
