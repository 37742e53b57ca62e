"""HorizontalPodAutoscalers: which ones scale a canary's target, and the bounds a canary gives them.

A canary carries the HPA of its target through its phases (planner/canary.py): the bounds it had before are kept
on the HPA itself, in an annotation, while they are narrowed, so that a run stopped half-way (aborted) leaves them
for the next run to give back. Reading is the operator's own; setting bounds is done as the tenant.
"""

from __future__ import annotations

import json
from typing import Any

from convoy.adapters.kube import list_items, path, request
from convoy.adapters.owner import RUN, Owner
from convoy.planner.actions import SetAutoscalerBounds
from convoy.planner.observed import Autoscaler

ORIGINAL = "convoy.dev/autoscaler-bounds"
"""On an HPA a canary narrowed: its own bounds, {"minReplicas": N, "maxReplicas": M}."""


def original_bounds(annotations: dict[str, str] | None) -> tuple[int, int] | None:
    """The bounds kept in the annotation; None when there is none, or it is not Convoy's format. Pure."""
    try:
        kept = json.loads((annotations or {})[ORIGINAL])
        low, high = int(kept["minReplicas"]), int(kept["maxReplicas"])
    except (KeyError, TypeError, ValueError):
        return None
    return (low, high) if 1 <= low <= high else None


def to_autoscaler(obj: dict[str, Any]) -> Autoscaler:
    """The planner's view of an HPA (in its JSON form). Pure."""
    spec = obj.get("spec") or {}
    return Autoscaler(
        name=obj["metadata"]["name"],
        min_replicas=int(spec.get("minReplicas") or 1),
        max_replicas=int(spec["maxReplicas"]),
        original=original_bounds(obj["metadata"].get("annotations")),
    )


def scales(obj: dict[str, Any], deployment: str) -> bool:
    """Whether the HPA's scaleTargetRef is the Deployment `deployment` (of its own namespace). Pure."""
    ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
    group = (ref.get("apiVersion") or "").partition("/")[0]
    return ref.get("kind") == "Deployment" and ref.get("name") == deployment and group in ("apps", "extensions")


async def observe(namespace: str, deployments: list[str]) -> dict[str, tuple[Autoscaler, ...]]:
    """The HPAs of `namespace` that scale each of `deployments`, by 'namespace/deployment' (absent: none)."""
    items = await list_items("horizontalpodautoscalers", path("autoscaling/v2", "horizontalpodautoscalers", namespace))
    found = {}
    for deployment in deployments:
        mine = tuple(
            to_autoscaler(i) for i in sorted(items, key=lambda i: i["metadata"]["name"]) if scales(i, deployment)
        )
        if mine:
            found[f"{namespace}/{deployment}"] = mine
    return found


def bounds_patch(owner: Owner, action: SetAutoscalerBounds) -> dict[str, Any]:
    """The merge patch that sets the bounds, and keeps (or drops) the original ones in the annotation. Pure."""
    kept = None
    if action.original is not None:
        kept = json.dumps({"minReplicas": action.original[0], "maxReplicas": action.original[1]})
    return {
        "metadata": {"annotations": {ORIGINAL: kept, RUN: f"{owner.namespace}/{owner.name}"}},
        "spec": {"minReplicas": action.min_replicas, "maxReplicas": action.max_replicas},
    }


async def set_bounds(owner: Owner, action: SetAutoscalerBounds) -> None:
    url = path("autoscaling/v2", "horizontalpodautoscalers", action.namespace, action.name)
    await request("patch", "horizontalpodautoscalers", "PATCH", url, body=bounds_patch(owner, action), patch="merge")
