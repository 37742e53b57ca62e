"""Basic workflows: objects applied as they are (server-side apply, field manager `convoy`), and put back.

Before the first apply of a run, each object's current state — or its absence — is saved in a snapshot
ConfigMap owned by the run and sealed (adapters/snapshots.py). Restoring applies the saved objects again and
deletes the ones that did not exist.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient

from convoy.adapters import snapshots
from convoy.adapters.kube import FIELD_MANAGER, ApiError, acting, api, call
from convoy.adapters.owner import APPLIED, RUN, Owner
from convoy.planner.actions import ApplyManifests, RestoreSnapshot

_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
_dynamic: dict[str, DynamicClient] = {}


async def _client() -> DynamicClient:
    """A dynamic client over this task's API client: the tenant's, inside `acting_as`, so applies are theirs."""
    tenant = acting()
    who = tenant.username if tenant else ""
    if who not in _dynamic:
        _dynamic[who] = await DynamicClient(api())
    return _dynamic[who]


async def _resource(manifest: dict[str, Any]) -> Any:
    dynamic = await _client()
    return await dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])


def _checked(result: Any, verb: str, resource: str) -> dict[str, Any] | None:
    """The object of a dynamic-client answer; None for 404. The client returns failures as Status objects: they
    are raised as the ApiError any other call raises, so a refusal fails the step like any other."""
    body: dict[str, Any] = result.to_dict() if hasattr(result, "to_dict") else dict(result or {})
    if body.get("kind") == "Status" and body.get("status") == "Failure":
        if body.get("code") == 404:
            return None
        error = ApiException(status=body.get("code"), reason=body.get("reason"))
        error.body = json.dumps(body).encode()
        raise ApiError(error, verb, resource, acting())
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
    existing = await snapshots.read(action.namespace, action.snapshot)
    if existing is not None:
        # Saved by an earlier cycle: what the objects were before the run, not what it has applied since.
        snapshots.check_ours(owner, existing)
        return
    dynamic = await _client()
    saved = []
    for manifest in action.manifests:
        resource = await _resource(manifest)
        name = manifest["metadata"]["name"]
        reading = dynamic.get(resource, name=name, namespace=action.namespace)
        current = _checked(await call("get", resource.name, reading), "get", resource.name)
        existing = None if current is None else _saved(current)
        saved.append({"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "name": name, "object": existing})
    await snapshots.ensure(owner, action.namespace, action.snapshot, {"objects": json.dumps(saved, sort_keys=True)})


async def apply_manifests(owner: Owner, action: ApplyManifests) -> None:
    await _snapshot(owner, action)
    dynamic = await _client()
    marks = {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}
    for manifest in action.manifests:
        resource = await _resource(manifest)
        body = _placed(manifest, action.namespace, marks)
        applying = dynamic.server_side_apply(resource, body=body, field_manager=FIELD_MANAGER, force_conflicts=True)
        _checked(await call("apply", resource.name, applying), "apply", resource.name)


async def restore_manifests(owner: Owner, action: RestoreSnapshot, snapshot: dict[str, str]) -> None:
    dynamic = await _client()
    marks = {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}
    for saved in json.loads(snapshot["objects"]):
        resource = await _resource(saved)
        if saved["object"] is None:
            deleting = dynamic.delete(resource, name=saved["name"], namespace=action.namespace)
            _checked(await call("delete", resource.name, deleting), "delete", resource.name)
            continue
        body = _placed(saved["object"], action.namespace, marks)
        applying = dynamic.server_side_apply(resource, body=body, field_manager=FIELD_MANAGER, force_conflicts=True)
        _checked(await call("apply", resource.name, applying), "apply", resource.name)
