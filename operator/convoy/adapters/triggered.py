"""Starting WorkflowRuns for GitOps triggers: once per name."""

from __future__ import annotations

from convoy.adapters.kube import create_once, path
from convoy.api.common import GROUP, VERSION


async def create_run(
    *, namespace: str, name: str, workflow: str, variables: dict[str, str], labels: dict[str, str]
) -> bool:
    """True when this call created it; an existing run of that name is left as it is."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkflowRun",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"workflowRef": {"name": workflow}, "variables": variables},
    }
    return await create_once("workflowruns", path(f"{GROUP}/{VERSION}", "workflowruns", namespace), body)
