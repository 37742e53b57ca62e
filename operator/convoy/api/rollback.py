"""Rollback: return a target to its last good version after the fact, or roll back a given run."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from convoy.api.common import Condition, ConvoyModel, ObjectRef
from convoy.api.workflowrun import PhaseRecord


class RollbackSpec(ConvoyModel):
    """Set exactly one of `workflowRef` (roll back its most recent successful deployment) or `workflowRunRef`."""

    workflow_ref: ObjectRef | None = None
    workflow_run_ref: ObjectRef | None = None
    force: bool = Field(
        default=False, description="Roll back even if the Workflow changed since that deployment (unpredictable)."
    )
    reason: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _one_ref(self) -> RollbackSpec:
        if (self.workflow_ref is None) == (self.workflow_run_ref is None):
            raise ValueError("set exactly one of workflowRef or workflowRunRef")
        return self


class RollbackPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    REFUSED = "Refused"


class RollbackStatus(ConvoyModel):
    """Written only by the operator: whether the rollback was accepted, the run it rolls back, and that run's
    rollback of its phases (in reverse order) as it goes."""

    phase: RollbackPhase = RollbackPhase.PENDING
    message: str | None = Field(default=None, max_length=1024)
    workflow: str | None = Field(default=None, description="The Workflow whose deployment is rolled back.")
    workflow_run: str | None = Field(default=None, description="The run being rolled back.")
    post_deployment: bool = Field(
        default=False, description="The run had succeeded (a post-deployment rollback), rather than being in flight."
    )
    revision: str | None = Field(default=None, description="The revision being rolled back.")
    restored_revision: str | None = Field(default=None, description="The revision that runs again.")
    phases: list[PhaseRecord] = Field(default_factory=list, description="The run's rollback of its phases.")
    started_at: str | None = None
    finished_at: str | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
