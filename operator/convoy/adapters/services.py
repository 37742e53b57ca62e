"""Services: pointing a Service's selector at a set of pods (the canary Service; blue/green swaps)."""

from __future__ import annotations

from kubernetes_asyncio import client

from convoy.adapters.kube import FIELD_MANAGER, api, call, get_or_none
from convoy.adapters.owner import RUN, Owner
from convoy.planner.actions import PointService


async def selector(namespace: str, name: str) -> dict[str, str] | None:
    core = client.CoreV1Api(api())
    service = await get_or_none("services", core.read_namespaced_service(name, namespace))
    return None if service is None else dict(service.spec.selector or {})


async def point_service(owner: Owner, action: PointService) -> None:
    wanted = dict(action.selector)
    if await selector(action.namespace, action.service) == wanted:
        return
    core = client.CoreV1Api(api())
    ops = [
        {"op": "replace", "path": "/spec/selector", "value": wanted},
        {"op": "add", "path": "/metadata/annotations", "value": {RUN: f"{owner.namespace}/{owner.name}"}},
    ]
    current = await get_or_none("services", core.read_namespaced_service(action.service, action.namespace))
    if current is not None and current.metadata.annotations:
        ops[1]["value"] = {**current.metadata.annotations, RUN: f"{owner.namespace}/{owner.name}"}
    await call(
        "patch",
        "services",
        core.patch_namespaced_service(action.service, action.namespace, ops, field_manager=FIELD_MANAGER),
    )
