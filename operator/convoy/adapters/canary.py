"""The canary Deployment: a copy of the stable one with the new image, its own selector and pod count.

Replica split: the canary's pods keep the stable pods' labels (plus `convoy.dev/track: canary`), so the target
Service sends them traffic in proportion to pod counts; their own ReplicaSet owns them, so the stable
Deployment never adopts them. Traffic-route split: the stable selector's label values get '-canary', so the
stable Service never selects them and only the canary Service (pointed at them by Convoy) does.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters.kube import api, call, create_once
from convoy.adapters.owner import APPLIED, RUN, Owner
from convoy.adapters.workloads import read_deployment
from convoy.planner.actions import DeleteDeployment, EnsureCanary, ScaleDeployment
from convoy.planner.canary import CANARY_SUFFIX, TRACK


def canary_body(owner: Owner, action: EnsureCanary, stable: dict[str, Any]) -> dict[str, Any]:
    """The canary Deployment built from the stable one. Pure."""
    spec = copy.deepcopy(stable["spec"])
    selector = dict(spec["selector"].get("matchLabels") or {})
    if action.relabel:
        selector = {k: f"{v}{CANARY_SUFFIX}" for k, v in selector.items()}
    selector[TRACK] = "canary"
    template = spec["template"]
    labels = {**(template["metadata"].get("labels") or {}), **selector}
    template["metadata"]["labels"] = labels
    containers = template["spec"]["containers"]
    target = next((c for c in containers if c["name"] == action.container), containers[0])
    target["image"] = action.image
    spec.update({"replicas": action.replicas, "selector": {"matchLabels": selector}, "template": template})
    spec.pop("paused", None)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": action.name,
            "namespace": action.namespace,
            "labels": {**(stable["metadata"].get("labels") or {}), TRACK: "canary"},
            "annotations": {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"},
            "ownerReferences": owner.owns_in(action.namespace),
        },
        "spec": spec,
    }


async def ensure_canary(owner: Owner, action: EnsureCanary) -> None:
    apps = client.AppsV1Api(api())
    current = await read_deployment(action.namespace, action.name)
    if current is None:
        stable = await read_deployment(action.namespace, action.stable)
        if stable is not None:
            body = cast(client.V1Deployment, canary_body(owner, action, stable))
            await create_once("deployments", apps.create_namespaced_deployment(action.namespace, body))
        return
    containers = current["spec"]["template"]["spec"]["containers"]
    target = next((c for c in containers if c["name"] == action.container), containers[0])
    annotations = current["metadata"].get("annotations") or {}
    if (
        current["spec"].get("replicas") == action.replicas
        and target["image"] == action.image
        and annotations.get(APPLIED) == action.key
    ):
        return
    patch = {
        "metadata": {"annotations": {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}},
        "spec": {
            "replicas": action.replicas,
            "template": {"spec": {"containers": [{"name": target["name"], "image": action.image}]}},
        },
    }
    await call("patch", "deployments", apps.patch_namespaced_deployment(action.name, action.namespace, patch))


async def scale(owner: Owner, action: ScaleDeployment) -> None:
    current = await read_deployment(action.namespace, action.name)
    if current is None or current["spec"].get("replicas") == action.replicas:
        return
    apps = client.AppsV1Api(api())
    patch = {
        "metadata": {"annotations": {RUN: f"{owner.namespace}/{owner.name}"}},
        "spec": {"replicas": action.replicas},
    }
    await call("patch", "deployments", apps.patch_namespaced_deployment(action.name, action.namespace, patch))


async def delete(action: DeleteDeployment) -> None:
    apps = client.AppsV1Api(api())
    try:
        await call(
            "delete",
            "deployments",
            apps.delete_namespaced_deployment(action.name, action.namespace, propagation_policy="Background"),
        )
    except ApiException as error:
        if error.status != 404:
            raise
