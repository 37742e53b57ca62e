"""Services: pointing a Service's selector at a set of pods (the canary Service; blue/green swaps)."""

from __future__ import annotations

from convoy.adapters.kube import get_or_none, path, request
from convoy.adapters.owner import RUN, Owner
from convoy.planner.actions import PointService


async def selector(namespace: str, name: str) -> dict[str, str] | None:
    service = await get_or_none("services", path("v1", "services", namespace, name))
    return None if service is None else dict((service.get("spec") or {}).get("selector") or {})


async def point_service(owner: Owner, action: PointService) -> None:
    wanted = dict(action.selector)
    if await selector(action.namespace, action.service) == wanted:
        return
    url = path("v1", "services", action.namespace, action.service)
    ops = [
        {"op": "replace", "path": "/spec/selector", "value": wanted},
        {"op": "add", "path": "/metadata/annotations", "value": {RUN: f"{owner.namespace}/{owner.name}"}},
    ]
    current = await get_or_none("services", url)
    annotations = (current or {}).get("metadata", {}).get("annotations")
    if annotations:
        ops[1]["value"] = {**annotations, RUN: f"{owner.namespace}/{owner.name}"}
    await request("patch", "services", "PATCH", url, body=ops, patch="json")
