"""Copies of a Deployment: the canary beside the stable one, the blue and green colors.

A copy takes the source's spec with the new image and its own pod count. Without a suffix its pod template is
the source's with the new image and nothing else, selector included: one Service selects both in proportion to
pod counts, and the stable Deployment can take the copy's ReplicaSet as its own when it promotes (handover.py).
Until then that ReplicaSet belongs to the copy, so the source Deployment never adopts it. With a suffix the
source selector's label values get it ('-canary', '-green') and the pods the copy's label: Services that select
the source never select the copy, and only a Service Convoy points at it does. Copies have no owner: a color is
the live application once swapped, and a canary is removed by its run.
"""

from __future__ import annotations

import copy
from typing import Any

from convoy.adapters.kube import ApiError, create_once, path, request
from convoy.adapters.owner import APPLIED, RUN, Owner
from convoy.adapters.workloads import fulfils, patch_deployment, read_deployment
from convoy.planner.actions import DeleteDeployment, EnsureCopy, ScaleDeployment


def copy_body(owner: Owner, action: EnsureCopy, source: dict[str, Any]) -> dict[str, Any]:
    """The copy's Deployment built from the source's. Pure."""
    spec = copy.deepcopy(source["spec"])
    template = spec["template"]
    if action.suffix:
        selector = {k: f"{v}{action.suffix}" for k, v in (spec["selector"].get("matchLabels") or {}).items()}
        selector[action.label[0]] = action.label[1]
        template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), **selector}
        spec["selector"] = {"matchLabels": selector}
    containers = template["spec"]["containers"]
    target = next((c for c in containers if c["name"] == action.container), containers[0])
    target["image"] = action.image
    spec["replicas"] = action.replicas
    spec.pop("paused", None)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": action.name,
            "namespace": action.namespace,
            "labels": {**(source["metadata"].get("labels") or {}), action.label[0]: action.label[1]},
            "annotations": {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"},
        },
        "spec": spec,
    }


async def ensure_copy(owner: Owner, action: EnsureCopy, seen: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Create the copy, or set its image and count; the copy as it now is, when this call changed it. `seen` is the
    copy as a watch last showed it, read instead of asking the API server again: nothing of it reaches the tenant
    but its container's name, and the patch is the tenant's, so RBAC still decides. The source is always read as
    the tenant: what is copied must be what the tenant may read."""
    current = seen or await read_deployment(action.namespace, action.name)
    if current is None:
        source = await read_deployment(action.namespace, action.source)
        if source is not None:
            url = path("apps/v1", "deployments", action.namespace)
            await create_once("deployments", url, copy_body(owner, action, source))
        return None
    if fulfils(current, action):
        return None
    containers = current["spec"]["template"]["spec"]["containers"]
    target = next((c for c in containers if c["name"] == action.container), containers[0])
    patch = {
        "metadata": {"annotations": {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}},
        "spec": {
            "replicas": action.replicas,
            "template": {"spec": {"containers": [{"name": target["name"], "image": action.image}]}},
        },
    }
    return await patch_deployment(action.namespace, action.name, patch)


async def scale(owner: Owner, action: ScaleDeployment, seen: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Set the count; the Deployment as it now is, when this call changed it (`seen`: as in `ensure_copy`)."""
    current = seen or await read_deployment(action.namespace, action.name)
    if current is None or fulfils(current, action):
        return None
    marks = {"metadata": {"annotations": {RUN: f"{owner.namespace}/{owner.name}"}}}
    return await patch_deployment(action.namespace, action.name, {**marks, "spec": {"replicas": action.replicas}})


async def delete(action: DeleteDeployment) -> None:
    url = path("apps/v1", "deployments", action.namespace, action.name)
    try:
        await request("delete", "deployments", "DELETE", url, body={"propagationPolicy": "Background"})
    except ApiError as error:
        if error.status != 404:
            raise
