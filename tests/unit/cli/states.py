"""Representative runs as the API server returns them (plain dicts), at the fixed time NOW."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

Body = dict[str, Any]
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def later(seconds: float) -> str:
    return ago(-seconds)


def step(
    name: str, kind: str, state: str = "Pending", start: float | None = None, end: float | None = None, **extra: Any
) -> Body:
    record: Body = {"name": name, "kind": kind, "state": state, "attempts": 1 if start is not None else 0}
    if start is not None:
        record["startedAt"] = ago(start)
    if end is not None:
        record["finishedAt"] = ago(end)
    return {**record, **extra}


def phase(name: str, state: str, *steps: Body, start: float | None = None, end: float | None = None) -> Body:
    record: Body = {"name": name, "state": state, "steps": list(steps)}
    if start is not None:
        record["startedAt"] = ago(start)
    if end is not None:
        record["finishedAt"] = ago(end)
    return record


def workflow_run(name: str, status: Body, *, created: float = 600, namespace: str = "shop") -> Body:
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "WorkflowRun",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ago(created)},
        "spec": {"workflowRef": {"name": status.get("workflow", "web")}, "variables": {"version": "2.0"}},
        "status": status,
    }


def canary_at_30_verifying() -> Body:
    spec = {
        "type": "Canary",
        "phases": [
            {"name": "canary-10", "weight": 10, "steps": []},
            {"name": "canary-30", "weight": 30, "steps": []},
            {"name": "canary-60", "weight": 60, "steps": []},
            {"name": "full", "weight": 100, "steps": []},
        ],
    }
    return workflow_run(
        "web-canary-1-1",
        {
            "phase": "Running",
            "workflow": "web-canary",
            "type": "Canary",
            "currentPhase": "canary-30",
            "currentStep": "check-error-rate",
            "progress": "1/4",
            "weight": 30,
            "canary": {"total": 10, "stable": 7, "canary": 3},
            "revisions": {"stable": "registry.example/web:1.0", "new": "registry.example/web:1.1"},
            "startedAt": ago(250),
            "workflowSpec": spec,
            "phases": [
                phase(
                    "canary-10",
                    "Succeeded",
                    step("deploy-canary", "deploy", "Succeeded", 250, 238),
                    step(
                        "check-health", "verify", "Succeeded", 238, 205, message="3/3 passed, 0 failed (limit 1): 200"
                    ),
                    step("soak", "pause", "Succeeded", 205, 85, message="paused for 2m"),
                    start=250,
                    end=85,
                ),
                phase(
                    "canary-30",
                    "Running",
                    step("deploy-canary", "deploy", "Succeeded", 85, 70),
                    step(
                        "check-error-rate",
                        "verify",
                        "Waiting",
                        70,
                        awaiting="Measurement",
                        nextAt=later(40),
                        message="1/3 passed, 0 failed (limit 0): result 0.002",
                    ),
                    step("hold-for-review", "pause"),
                    start=85,
                ),
                phase("canary-60", "Pending", step("deploy-canary", "deploy"), step("check-health", "verify")),
                phase("full", "Pending", step("promote", "deploy")),
            ],
        },
    )


def approval_waiting() -> Body:
    spec = {
        "type": "Rolling",
        "phases": [
            {
                "name": "rollout",
                "steps": [
                    {"name": "deploy", "deploy": {}},
                    {
                        "name": "go-live",
                        "approval": {
                            "approvers": ["alice", "group:release-managers"],
                            "message": "Check the checkout dashboard first",
                        },
                    },
                ],
            }
        ],
    }
    return workflow_run(
        "web-2-0",
        {
            "phase": "WaitingForApproval",
            "workflow": "web",
            "type": "Rolling",
            "currentPhase": "rollout",
            "currentStep": "go-live",
            "progress": "0/1",
            "revisions": {"stable": "registry.example/web:1.0", "new": "registry.example/web:2.0"},
            "startedAt": ago(300),
            "workflowSpec": spec,
            "phases": [
                phase(
                    "rollout",
                    "Running",
                    step("deploy", "deploy", "Succeeded", 300, 240),
                    step(
                        "go-live",
                        "approval",
                        "Waiting",
                        240,
                        awaiting="Approval",
                        deadline=later(3600 * 23 + 56 * 60),
                        message="waiting for approval by alice, group:release-managers",
                    ),
                    start=300,
                )
            ],
        },
    )


def failed_and_rolled_back() -> Body:
    message = "job web-2-0-rollout-smoke-1 failed: exit code 3"
    return workflow_run(
        "web-2-0",
        {
            "phase": "RolledBack",
            "result": "RolledBack",
            "workflow": "web",
            "type": "Rolling",
            "progress": "0/1",
            "revisions": {"stable": "registry.example/web:1.0", "new": "registry.example/web:2.0"},
            "startedAt": ago(400),
            "finishedAt": ago(290),
            "rollingBack": True,
            "failure": {"phase": "rollout", "step": "smoke", "error": "JobFailed", "message": message},
            "message": f"rolled back: {message}",
            "workflowSpec": {"type": "Rolling", "phases": [{"name": "rollout", "steps": []}]},
            "phases": [
                phase(
                    "rollout",
                    "Failed",
                    step("deploy", "deploy", "Succeeded", 400, 350),
                    step("smoke", "job", "Failed", 350, 330, error="JobFailed", message=message),
                    step("notify", "notify", "Aborted", end=330),
                    start=400,
                    end=330,
                )
            ],
            "rollback": [
                phase(
                    "rollout",
                    "Succeeded",
                    step("rollback", "rollback", "Succeeded", 330, 290, message="restored registry.example/web:1.0"),
                    start=330,
                    end=290,
                )
            ],
        },
    )


def queued() -> Body:
    return workflow_run(
        "web-3-0",
        {
            "phase": "Queued",
            "workflow": "web",
            "queuePosition": 2,
            "message": "queued behind web-2-0, web-2-1 (same target)",
        },
        created=95,
    )


def waiting_for_a_slot() -> Body:
    return workflow_run(
        "api-3-0",
        {
            "phase": "Queued",
            "workflow": "api",
            "queuePosition": 3,
            "queueReason": "ProgressLimit",
            "message": "waiting for a slot: 5 runs progressing in the cluster, at most 5 at once (position 3)",
        },
        created=95,
    )


def waiting_for_intervention() -> Body:
    return workflow_run(
        "web-canary-1-2",
        {
            "phase": "WaitingForIntervention",
            "workflow": "web-canary",
            "type": "Canary",
            "currentPhase": "canary-30",
            "currentStep": "check-error-rate",
            "progress": "0/2",
            "weight": 30,
            "startedAt": ago(900),
            "workflowSpec": {
                "type": "Canary",
                "phases": [{"name": "canary-30", "weight": 30, "steps": []}, {"name": "full", "weight": 100}],
            },
            "phases": [
                phase(
                    "canary-30",
                    "Running",
                    step("deploy-canary", "deploy", "Succeeded", 900, 880),
                    step(
                        "check-error-rate",
                        "verify",
                        "Failed",
                        880,
                        attempts=3,
                        awaiting="Intervention",
                        deadline=later(25 * 60),
                        error="VerificationFailed",
                        message="0/3 passed, 1 failed (limit 0): result 0.04",
                    ),
                    start=900,
                ),
                phase("full", "Pending", step("promote", "deploy")),
            ],
        },
    )


def regional_run(region: str, status: Body) -> Body:
    return workflow_run(
        f"web-regions-7-{region}", {"workflow": "web-regional", "type": "Rolling", **status}, namespace=region
    )


def pipeline_at_barrier() -> tuple[Body, dict[str, Body]]:
    """A PipelineRun whose region1 run waits at a barrier for region2, which is still rolling out."""
    barrier_spec = {"name": "regions-deployed", "barrier": {"name": "regions-deployed"}}
    wf = {"type": "Rolling", "phases": [{"name": "rollout", "steps": []}, {"name": "wrap-up", "steps": [barrier_spec]}]}
    region1 = regional_run(
        "region1",
        {
            "phase": "WaitingAtBarrier",
            "currentPhase": "wrap-up",
            "currentStep": "regions-deployed",
            "progress": "1/2",
            "startedAt": ago(180),
            "workflowSpec": wf,
            "phases": [
                phase("rollout", "Succeeded", step("deploy", "deploy", "Succeeded", 180, 120), start=180, end=120),
                phase(
                    "wrap-up",
                    "Running",
                    step(
                        "regions-deployed",
                        "barrier",
                        "Waiting",
                        120,
                        awaiting="Barrier",
                        deadline=later(28 * 60),
                        message="waiting at barrier regions-deployed for region2",
                    ),
                    start=120,
                ),
            ],
        },
    )
    region2 = regional_run(
        "region2",
        {
            "phase": "Running",
            "currentPhase": "rollout",
            "currentStep": "deploy",
            "progress": "0/2",
            "startedAt": ago(180),
            "workflowSpec": wf,
            "phases": [
                phase(
                    "rollout",
                    "Running",
                    step(
                        "deploy",
                        "deploy",
                        "Running",
                        180,
                        awaiting="Rollout",
                        message="waiting for region2/web to roll out (1/2 updated)",
                    ),
                    start=180,
                ),
                phase("wrap-up", "Pending", step("regions-deployed", "barrier")),
            ],
        },
    )
    pipeline_run = {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"name": "web-regions-7", "namespace": "shop", "creationTimestamp": ago(400)},
        "spec": {"pipelineRef": {"name": "web-regions"}, "trigger": {"branch": "main", "commit": "4f2c9e1"}},
        "status": {
            "phase": "Running",
            "pipeline": "web-regions",
            "stagesDone": "1/3",
            "startedAt": ago(400),
            "stages": [
                {
                    "name": "approve",
                    "state": "Succeeded",
                    "startedAt": ago(400),
                    "finishedAt": ago(185),
                    "decidedBy": "alice",
                    "message": "approved by alice",
                },
                {
                    "name": "region1",
                    "state": "Running",
                    "workflowRun": "web-regions-7-region1",
                    "namespace": "region1",
                    "startedAt": ago(185),
                },
                {
                    "name": "region2",
                    "state": "Running",
                    "workflowRun": "web-regions-7-region2",
                    "namespace": "region2",
                    "startedAt": ago(185),
                },
            ],
        },
    }
    return pipeline_run, {"region1": region1, "region2": region2}
