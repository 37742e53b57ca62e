"""Finished and running WorkflowRuns as the Workflow and Rollback handlers list them, for the history and
rollback tests: a run is written by what matters (its result, when, what it deployed over what)."""

from __future__ import annotations

from convoy.api.common import ObjectRef
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import (
    CanaryPods,
    PostDeploymentRollback,
    Revisions,
    RunResult,
    WorkflowRunSpec,
    WorkflowRunStatus,
)
from convoy.planner.context import render_workflow
from convoy.planner.history import RunView

from .builders import NAMESPACE, workflow

VERSIONED = workflow(
    {
        "type": "Rolling",
        "target": {"deployment": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}]}],
    }
)


def image(version: str) -> str:
    return f"registry.example/web:{version}"


def at(minute: int) -> str:
    return f"2025-03-01T12:{minute:02d}:00Z"


def run(
    name: str,
    version: str = "1.1",
    *,
    before: str | None = "1.0",
    result: RunResult | None = RunResult.SUCCEEDED,
    finished: int = 0,
    wf: WorkflowSpec = VERSIONED,
    workflow_name: str | None = "web",
    started: bool = True,
    rolled_back_after: int | None = None,
    annotations: dict[str, str] | None = None,
    canary_total: int | None = None,
    targets: tuple[str, ...] = (f"{NAMESPACE}/web",),
) -> RunView:
    """A run of Workflow `web` that deploys `version` over `before` and ends with `result` at minute `finished`.
    `rolled_back_after`: it had succeeded at minute `finished`, and a post-deployment rollback ended at that minute."""
    variables = {"version": version} if any(v.name == "version" for v in wf.variables) else {}
    rendered = render_workflow(wf, run_name=name, namespace=NAMESPACE, given=variables)
    status = WorkflowRunStatus(
        workflow=workflow_name or name,
        type=rendered.type,
        targets=list(targets),
        revisions=Revisions(stable=image(before) if before else None, new=image(version)) if started else None,
        result=result,
        workflow_spec=rendered.to_wire() if started else None,
        started_at=at(0) if started else None,
        finished_at=at(finished) if result is not None else None,
        canary=CanaryPods(total=canary_total, stable=canary_total, canary=0) if canary_total else None,
    )
    if rolled_back_after is not None:
        status.post_deployment_rollback = PostDeploymentRollback(
            succeeded_at=at(finished), requested_by="oncall", reason="Rollback web-back"
        )
        status.finished_at = at(rolled_back_after) if result is not None else None
    spec = WorkflowRunSpec(
        workflow_ref=ObjectRef(name=workflow_name) if workflow_name else None,
        workflow=None if workflow_name else wf,
        variables=variables,
    )
    return RunView(name, NAMESPACE, spec, status, annotations or {})
