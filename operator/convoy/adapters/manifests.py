"""Basic workflows: objects applied as they are (server-side apply, field manager `convoy`), and put back.

Before the first apply of a run, each object's current state — or its absence — is saved in a snapshot
ConfigMap owned by the run. Restoring applies the saved objects again and deletes the ones that did not exist.
"""

from __future__ import annotations

import json
from typing import Any, cast

from kubernetes_asyncio import client
from kubernetes_asyncio.dynamic import DynamicClient

from convoy.adapters.kube import api, call, create_once, get_or_none
from convoy.adapters.owner import APPLIED, RUN, Owner
from convoy.planner.actions import ApplyManifests, RestoreSnapshot

FIELD_MANAGER = "convoy"
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
_dynamic: DynamicClient | None = None


async def _client() -> DynamicClient:
    global _dynamic
    if _dynamic is None:
        _dynamic = await DynamicClient(api())
    return _dynamic


async def _resource(manifest: dict[str, Any]) -> Any:
    dynamic = await _client()
    return await dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])


class ApiFailure(Exception):
    """A failure the dynamic client returned (as a Status object) instead of raising."""


def _checked(result: Any) -> dict[str, Any] | None:
    """The object of a dynamic-client answer; None for 404. The client returns failures as Status objects."""
    body: dict[str, Any] = result.to_dict() if hasattr(result, "to_dict") else dict(result or {})
    if body.get("kind") == "Status" and body.get("status") == "Failure":
        if body.get("code") == 404:
            return None
        raise ApiFailure(f"{body.get('code')} {body.get('reason')}: {body.get('message')}")
    return body


def _placed(manifest: dict[str, Any], namespace: str, marks: dict[str, str]) -> dict[str, Any]:
    meta = dict(manifest.get("metadata") or {})
    meta["namespace"] = namespace
    meta["annotations"] = {**(meta.get("annotations") or {}), **marks}
    return {**manifest, "metadata": meta}


def _saved(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as it can be applied again: without status and the fields the server owns."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in _SERVER_FIELDS}
    return {k: v for k, v in obj.items() if k != "status"} | {"metadata": meta}


async def _snapshot(owner: Owner, action: ApplyManifests) -> None:
    core = client.CoreV1Api(api())
    if await get_or_none("configmaps", core.read_namespaced_config_map(action.snapshot, action.namespace)):
        return
    dynamic = await _client()
    saved = []
    for manifest in action.manifests:
        resource = await _resource(manifest)
        name = manifest["metadata"]["name"]
        current = _checked(
            await call("get", resource.name, dynamic.get(resource, name=name, namespace=action.namespace))
        )
        existing = None if current is None else _saved(current)
        saved.append({"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "name": name, "object": existing})
    body = {
        "metadata": {
            "name": action.snapshot,
            "namespace": action.namespace,
            "labels": {RUN: owner.label, "app.kubernetes.io/managed-by": "convoy"},
            "ownerReferences": owner.owns_in(action.namespace),
        },
        "data": {"objects": json.dumps(saved, sort_keys=True)},
    }
    await create_once("configmaps", core.create_namespaced_config_map(action.namespace, cast(client.V1ConfigMap, body)))


async def apply_manifests(owner: Owner, action: ApplyManifests) -> None:
    await _snapshot(owner, action)
    dynamic = await _client()
    marks = {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}
    for manifest in action.manifests:
        resource = await _resource(manifest)
        body = _placed(manifest, action.namespace, marks)
        _checked(
            await call(
                "apply",
                resource.name,
                dynamic.server_side_apply(resource, body=body, field_manager=FIELD_MANAGER, force_conflicts=True),
            )
        )


async def restore_manifests(owner: Owner, action: RestoreSnapshot, snapshot: dict[str, str]) -> None:
    dynamic = await _client()
    marks = {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}
    for saved in json.loads(snapshot["objects"]):
        resource = await _resource(saved)
        if saved["object"] is None:
            deleting = dynamic.delete(resource, name=saved["name"], namespace=action.namespace)
            _checked(await call("delete", resource.name, deleting))
            continue
        body = _placed(saved["object"], action.namespace, marks)
        applying = dynamic.server_side_apply(resource, body=body, field_manager=FIELD_MANAGER, force_conflicts=True)
        _checked(await call("apply", resource.name, applying))
