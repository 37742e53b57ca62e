"""Starting WorkflowRuns for GitOps triggers: once per name."""

from __future__ import annotations

from kubernetes_asyncio import client

from convoy.adapters.kube import FIELD_MANAGER, api, create_once
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
    custom = client.CustomObjectsApi(api())
    return await create_once(
        "workflowruns",
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "workflowruns", body, field_manager=FIELD_MANAGER
        ),
    )
