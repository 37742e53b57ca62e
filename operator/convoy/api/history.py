"""The revision history of a Workflow: its successful deployments, oldest first, in the Workflow's status.

The operator writes it from the Workflow's finished runs (planner/history.py): which run, what it deployed and what
that replaced, when, how big each phase was, and, once a Rollback undid it, the rolled-back mark. It is bounded by
`spec.revisionHistoryLimit` (default 10). Only the newest entry can be rolled back: its run still holds the
snapshot of what ran before it. Older entries are history only.
"""

from __future__ import annotations

from pydantic import Field

from convoy.api.common import ConvoyModel, ResourceStatus
from convoy.api.workflowrun import RunResult


class PhaseSize(ConvoyModel):
    """One phase of a deployment: the canary weight it set, and how many new pods it brought up (when known)."""

    name: str
    weight: int | None = None
    pods: int | None = Field(default=None, description="New-version pods this phase added.")


class RolledBack(ConvoyModel):
    """A post-deployment rollback of the deployment: when it ended, how, and what it restored."""

    at: str | None = None
    result: RunResult = Field(description="RolledBack, or Failed when a rollback step failed.")
    restored: str | None = Field(default=None, description="The revision that runs again.")
    requested_by: str | None = None
    reason: str | None = Field(default=None, max_length=1024)


class Revision(ConvoyModel):
    """One successful deployment."""

    run: str = Field(description="The WorkflowRun that deployed it.")
    revision: str | None = Field(default=None, description="What it deployed (the artifact's image).")
    previous: str | None = Field(default=None, description="What ran before it; a rollback restores this.")
    deployed_at: str = Field(description="When the run succeeded.")
    targets: list[str] = Field(default_factory=list, description="The workloads it deployed, namespace/name.")
    phases: list[PhaseSize] = Field(default_factory=list)
    rolled_back: RolledBack | None = None


class WorkflowStatus(ResourceStatus):
    """Whether the operator accepted the spec (conditions), and the revision history."""

    history: list[Revision] = Field(
        default_factory=list, max_length=50, description="Successful deployments, oldest first."
    )
