"""Deployments: what the planner observes of them, and the changes a Rolling or MultiService run makes.

Before the first change a run makes to a Deployment, its pod template is saved in a ConfigMap (the snapshot),
owned by the run and sealed; a rollback puts that template back. The snapshot is written once and never
overwritten, so a restart in the middle of a deploy cannot replace the original with the new version; a snapshot
the run did not write is never used (adapters/snapshots.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from typing import Any

from convoy.adapters import snapshots
from convoy.adapters.kube import get_or_none, path, request
from convoy.adapters.manifests import restore_manifests
from convoy.adapters.owner import APPLIED, RUN, Owner
from convoy.planner.actions import EnsureCopy, HandOver, RestoreSnapshot, ScaleDeployment, SetImage, SetPaused
from convoy.planner.observed import Workload

TEMPLATE_HASH = "convoy.dev/template-hash"
"""The pod template a trigger last saw. Convoy's own template changes update it in the same patch, so only a
change made by someone else — a GitOps sync — starts a triggered run."""


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


def container_of(template: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    containers: list[dict[str, Any]] = template.get("spec", {}).get("containers", [])
    if name is None:
        return containers[0] if containers else None
    return next((c for c in containers if c.get("name") == name), None)


def to_workload(obj: dict[str, Any], container: str | None) -> Workload:
    """The planner's view of a Deployment (in its JSON form)."""
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    chosen = container_of(spec.get("template", {}), container)
    conditions = status.get("conditions") or []
    return Workload(
        namespace=meta["namespace"],
        name=meta["name"],
        generation=meta.get("generation", 1),
        observed_generation=status.get("observedGeneration", 0),
        replicas=spec.get("replicas", 1),
        status_replicas=status.get("replicas", 0),
        updated_replicas=status.get("updatedReplicas", 0),
        ready_replicas=status.get("readyReplicas", 0),
        available_replicas=status.get("availableReplicas", 0),
        image=chosen.get("image") if chosen else None,
        applied=(meta.get("annotations") or {}).get(APPLIED),
        selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
        paused=bool(spec.get("paused")),
        deleting="deletionTimestamp" in meta,
        progress_deadline_exceeded=any(
            c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded" for c in conditions
        ),
    )


def signature(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What the planner can tell apart of a Deployment: `to_workload`'s fields, but the pod counts only as whether it
    is scaled and rolled out (a pod becoming ready half-way changes no plan), every container's image (whichever one
    a run follows), and the run that marked it. Watch events of one signature need not wake that run twice."""
    seen = to_workload(obj, None)
    template = (obj.get("spec") or {}).get("template") or {}
    images = tuple((c.get("name"), c.get("image")) for c in (template.get("spec") or {}).get("containers") or [])
    plain = replace(
        seen,
        generation=0,
        observed_generation=0,
        status_replicas=0,
        updated_replicas=0,
        ready_replicas=0,
        available_replicas=0,
        image=None,
    )
    return plain, seen.scaled, seen.rolled_out, images, (obj["metadata"].get("annotations") or {}).get(RUN)


def fulfils(body: dict[str, Any], action: SetImage | EnsureCopy | ScaleDeployment | SetPaused) -> bool:
    """Whether the Deployment `body` already is what `action` asks for, so performing it would change nothing: the
    one check the adapters make after a read and the Deployment cache makes without one. Pure."""
    spec = body.get("spec") or {}
    match action:
        case ScaleDeployment():
            return spec.get("replicas") == action.replicas
        case SetPaused():
            return bool(spec.get("paused")) is action.paused
        case _:
            seen = to_workload(body, action.container)
            return (seen.image, seen.applied) == (action.image, action.key) and action.replicas in (None, seen.replicas)


async def read_deployment(namespace: str, name: str) -> dict[str, Any] | None:
    return await get_or_none("deployments", path("apps/v1", "deployments", namespace, name))


async def patch_deployment(namespace: str, name: str, patch: Any, kind: str = "strategic") -> dict[str, Any]:
    """Patch a Deployment (a strategic merge patch, unless `kind` says otherwise); the Deployment as it now is."""
    url = path("apps/v1", "deployments", namespace, name)
    patched: dict[str, Any] = await request("patch", "deployments", "PATCH", url, body=patch, patch=kind)
    return patched


async def _ensure_snapshot(owner: Owner, namespace: str, snapshot: str, deployment: dict[str, Any]) -> None:
    data = {
        "deployment": deployment["metadata"]["name"],
        "template": json.dumps(deployment["spec"]["template"], sort_keys=True),
    }
    await snapshots.ensure(owner, namespace, snapshot, data)


def _marks(owner: Owner, key: str) -> dict[str, Any]:
    return {"metadata": {"annotations": {APPLIED: key, RUN: f"{owner.namespace}/{owner.name}"}}}


def image_patch(owner: Owner, deployment: dict[str, Any], action: SetImage | HandOver) -> dict[str, Any] | None:
    """The patch that puts the action's image into the Deployment's template and marks it applied, with the template
    hash a trigger compares (so Convoy's own change starts no run); None without the container. Pure."""
    target = container_of(deployment["spec"]["template"], action.container)
    if target is None:
        return None
    patch = _marks(owner, action.key)
    patch["spec"] = {"template": {"spec": {"containers": [{"name": target["name"], "image": action.image}]}}}
    changed = copy.deepcopy(deployment["spec"]["template"])
    next(c for c in changed["spec"]["containers"] if c["name"] == target["name"])["image"] = action.image
    patch["metadata"]["annotations"][TEMPLATE_HASH] = template_hash(changed)
    return patch


async def read_snapshotted(owner: Owner, action: SetImage | HandOver) -> dict[str, Any] | None:
    """The Deployment `action` changes, once its pod template is saved in the action's snapshot; None when it is
    gone (the planner sees it missing and fails the step with a message). It is read as the tenant, never taken from
    the operator's cache: its template goes into a snapshot the tenant can read."""
    deployment = await read_deployment(action.namespace, action.deployment)
    if deployment is not None:
        await _ensure_snapshot(owner, action.namespace, action.snapshot, deployment)
    return deployment


async def set_image(owner: Owner, action: SetImage) -> dict[str, Any] | None:
    """Set the image (and the count, in the same patch); the Deployment as it now is, when it was patched."""
    deployment = await read_snapshotted(owner, action)
    if deployment is None or fulfils(deployment, action):
        return None
    patch = image_patch(owner, deployment, action)
    if patch is None:
        return None
    if action.replicas is not None:
        patch["spec"]["replicas"] = action.replicas
    return await patch_deployment(action.namespace, action.deployment, patch)


async def restore_snapshot(owner: Owner, action: RestoreSnapshot) -> None:
    saved = await snapshots.data_of(owner, action.namespace, action.snapshot)
    if saved is None:
        if action.deployment is not None:
            await _mark_unchanged(owner, action, action.deployment)
        return
    if "objects" in saved:
        await restore_manifests(owner, action, saved)
        return
    if action.deployment is None:
        return
    deployment = await read_deployment(action.namespace, action.deployment)
    if deployment is None or (deployment["metadata"].get("annotations") or {}).get(APPLIED) == action.key:
        return
    template = json.loads(saved["template"])
    ops = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {
                **(deployment["metadata"].get("annotations") or {}),
                APPLIED: action.key,
                RUN: f"{owner.namespace}/{owner.name}",
                TEMPLATE_HASH: template_hash(template),
            },
        },
    ]
    await patch_deployment(action.namespace, action.deployment, ops, "json")


async def _mark_unchanged(owner: Owner, action: RestoreSnapshot, name: str) -> None:
    """No snapshot: a step saves one before it changes the template (set_image, hand_over), so either the step
    changed nothing, and the Deployment is marked restored for the planner to go on, or someone deleted the
    snapshot, and the Deployment still carries the step's mark: then Lost, since nothing can put its template back."""
    deployment = await read_deployment(action.namespace, name)
    if deployment is None:
        return
    if (deployment["metadata"].get("annotations") or {}).get(APPLIED) == action.undoes:
        raise snapshots.Lost(
            f"snapshot ConfigMap {action.namespace}/{action.snapshot} was deleted while Deployment "
            f"{action.namespace}/{name} still runs this phase's change ({APPLIED}: {action.undoes}): its previous "
            "pod template is lost and nothing was restored; put it back by hand (kubectl rollout undo keeps the "
            "Deployment's own history)"
        )
    await patch_deployment(action.namespace, name, _marks(owner, action.key))


async def set_paused(owner: Owner, action: SetPaused) -> None:
    current = await read_deployment(action.namespace, action.name)
    if current is None or fulfils(current, action):
        return
    patch = {"metadata": {"annotations": {RUN: f"{owner.namespace}/{owner.name}"}}, "spec": {"paused": action.paused}}
    await patch_deployment(action.namespace, action.name, patch)


async def mark_template(namespace: str, name: str, digest: str) -> None:
    """Record that a trigger has seen this pod template."""
    await patch_deployment(namespace, name, {"metadata": {"annotations": {TEMPLATE_HASH: digest}}})
