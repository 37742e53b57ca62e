"""What the GitOps tests commit: a Deployment and its Service, Convoy's Workflows and runs, as plain manifests
without a namespace (the Kustomization sets it)."""

from __future__ import annotations

from typing import Any

API = "convoy.dev/v1alpha1"
REPLICAS = 4


def image(version: str) -> str:
    return f"registry.example/web:{version}"


def convoy(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def deployment(version: str, name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image(version)}]},
            },
        },
    }


def service(name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def job(name: str, *, fails: bool) -> dict[str, Any]:
    """A Job step; kwok ends its pod with exit code 3 when it `fails`."""
    annotations = {"convoy.dev/fake-exit-code": "3"} if fails else {}
    template = {
        "metadata": {"annotations": annotations},
        "spec": {"containers": [{"name": name, "image": "registry.example/check:1"}]},
    }
    return {"name": name, "job": {"template": template}}


HOLD = "12s"  # each canary phase holds this long: Flux reconciles several times meanwhile


def triggered_canary(*, verification_fails: bool = False) -> dict[str, Any]:
    """A Canary of Deployment `web` started by git changing its pod template: 25% and 50% held for HOLD each
    (the 50% phase verified by a Job), then promotion. A failed verification rolls back."""
    verify = job("verify", fails=verification_fails)
    return convoy(
        "Workflow",
        "web",
        {
            "type": "Canary",
            "target": {"deployment": "web", "service": "web"},
            "artifact": {"image": "${workflow.variables.image}"},
            "variables": [{"name": "image", "required": True}],
            "triggers": [{"source": "PodTemplate", "imageVariable": "image"}],
            "failureStrategies": [{"errors": ["Any"], "action": "Rollback"}],
            "phases": [
                {"name": "canary-25", "weight": 25, "steps": [{"name": "shift", "deploy": {}},
                                                               {"name": "hold", "pause": {"duration": HOLD}}]},
                {"name": "canary-50", "weight": 50, "steps": [{"name": "shift", "deploy": {}},
                                                               {"name": "hold", "pause": {"duration": HOLD}},
                                                               verify]},
                {"name": "full", "weight": 100, "steps": [{"name": "promote", "deploy": {}}]},
            ],
        },
    )  # fmt: skip


def build_workflow(name: str = "work") -> dict[str, Any]:
    """A Build workflow: one Job that takes `seconds`, after one that fails when `fail` is true (then it aborts)."""
    fail = job("fail", fails=True) | {"when": "${workflow.variables.fail} == true"}
    work = job("work", fails=False)
    work["job"]["template"]["metadata"]["annotations"]["convoy.dev/fake-duration"] = "${workflow.variables.seconds}"
    return convoy(
        "Workflow",
        name,
        {
            "type": "Build",
            "variables": [{"name": "seconds", "default": "4s"}, {"name": "fail", "default": "false"}],
            "phases": [{"name": "work", "steps": [fail, work]}],
            "failureStrategies": [{"errors": ["Any"], "action": "Abort"}],
        },
    )


def workflow_run(name: str, workflow: str = "work", **variables: str) -> dict[str, Any]:
    return convoy("WorkflowRun", name, {"workflowRef": {"name": workflow}, "variables": variables})


def pipeline(name: str = "release", workflow: str = "work") -> dict[str, Any]:
    """Two stages in order, each a run of `workflow`."""
    stages = [
        {"name": "build", "workflow": {"workflowRef": {"name": workflow}, "variables": {"seconds": "1s"}}},
        {"name": "test", "requires": ["build"],
         "workflow": {"workflowRef": {"name": workflow}, "variables": {"seconds": "1s"}}},
    ]  # fmt: skip
    return convoy("Pipeline", name, {"stages": stages})


def pipeline_run(name: str, pipeline: str = "release") -> dict[str, Any]:
    return convoy("PipelineRun", name, {"pipelineRef": {"name": pipeline}})
