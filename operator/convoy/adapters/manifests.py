"""Basic workflows: objects applied as they are (server-side apply, field manager `convoy`), and put back.

Before the first apply of a run, each object's current state — or its absence — is saved in a snapshot
ConfigMap owned by the run and sealed (adapters/snapshots.py). Restoring applies the saved objects again and
deletes the ones that did not exist.
"""

from __future__ import annotations

import json
from typing import Any

from convoy.adapters import snapshots
from convoy.adapters.kube import ApiError, acting, get_or_none, path, request
from convoy.adapters.owner import APPLIED, RUN, Owner
from convoy.planner.actions import ApplyManifests, RestoreSnapshot

_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
_kinds: dict[str, dict[str, tuple[str, bool]]] = {}
"""By apiVersion: kind -> (plural, namespaced), from the API server's discovery, asked once per apiVersion."""


async def _url(manifest: dict[str, Any], namespace: str, name: str) -> tuple[str, str]:
    """The URL of the manifest's object, and its resource's plural."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    if api_version not in _kinds:
        root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        listed = await get_or_none("discovery", root, own=True)
        _kinds[api_version] = {
            r["kind"]: (r["name"], bool(r.get("namespaced")))
            for r in (listed or {}).get("resources") or []
            if "/" not in r["name"]
        }
    found = _kinds[api_version].get(kind)
    if found is None:
        del _kinds[api_version]  # asked again next time: the CRD may be installed by then
        status = {"kind": "Status", "message": f"the API server serves no {kind} in {api_version}"}
        raise ApiError(404, "NotFound", json.dumps(status), "apply", kind, acting())
    plural, namespaced = found
    return path(api_version, plural, namespace if namespaced else None, name), plural


async def _apply(body: dict[str, Any], namespace: str) -> None:
    url, plural = await _url(body, namespace, body["metadata"]["name"])
    await request("apply", plural, "PATCH", url, body=body, patch="apply", params={"force": "true"})


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
    saved = []
    for manifest in action.manifests:
        name = manifest["metadata"]["name"]
        url, plural = await _url(manifest, action.namespace, name)
        current = await get_or_none(plural, url)
        existing = None if current is None else _saved(current)
        saved.append({"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "name": name, "object": existing})
    await snapshots.ensure(owner, action.namespace, action.snapshot, {"objects": json.dumps(saved, sort_keys=True)})


async def apply_manifests(owner: Owner, action: ApplyManifests) -> None:
    await _snapshot(owner, action)
    marks = {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}
    for manifest in action.manifests:
        await _apply(_placed(manifest, action.namespace, marks), action.namespace)


async def restore_manifests(owner: Owner, action: RestoreSnapshot, snapshot: dict[str, str]) -> None:
    marks = {APPLIED: action.key, RUN: f"{owner.namespace}/{owner.name}"}
    for saved in json.loads(snapshot["objects"]):
        if saved["object"] is None:
            url, plural = await _url(saved, action.namespace, saved["name"])
            try:
                await request("delete", plural, "DELETE", url)
            except ApiError as error:
                if error.status != 404:
                    raise
            continue
        await _apply(_placed(saved["object"], action.namespace, marks), action.namespace)
