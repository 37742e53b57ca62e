"""Snapshots: the ConfigMaps a run saves what it changes in (a Deployment's pod template, applied objects), and
restores from when it rolls back.

A snapshot's name is predictable and its namespace is the tenant's, so anyone who may write ConfigMaps there could
pre-create or edit one and have a rollback "restore" what they chose. A snapshot is therefore trusted only when it
is owned by the run (its ownerReference carries the run's uid; a snapshot in another namespace than the run's can
have none) and carries a seal over the run's uid, its name and a digest of its data, which only the operator can
make. An untrusted snapshot is never restored from, and a ConfigMap that already holds a snapshot's name when the
run first saves one stops the run from changing anything it could not put back: either way the step fails with
`Conflict`, whose failure strategies apply (retrying would read the same object again). A snapshot deleted while
the Deployment still runs the change it saved fails the rollback with `NotFound`: the change cannot be put back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from convoy.adapters import seals
from convoy.adapters.kube import create_once, get_or_none, path
from convoy.adapters.owner import RUN, NotOurs, Owner
from convoy.adapters.resources import Conflict

SEAL = "convoy.dev/seal"
"""Annotation on a snapshot: seals.seal("snapshot", run uid, snapshot name, digest of its data)."""


class Lost(Exception):
    """The snapshot of a change that is still in place is gone, so the change cannot be put back."""


def digest(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def manifest(owner: Owner, namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    """The ConfigMap of a snapshot: owned by the run where it can be (same namespace), and sealed."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {RUN: owner.label, "app.kubernetes.io/managed-by": "convoy"},
            "annotations": {SEAL: seals.seal("snapshot", owner.uid, name, digest(data))},
            "ownerReferences": owner.owns_in(namespace),
        },
        "data": data,
    }


def distrust(owner: Owner, configmap: dict[str, Any]) -> str | None:
    """Why `configmap` (in its JSON form) is not a snapshot this run wrote; None when it is."""
    meta = configmap.get("metadata") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace", owner.namespace)
    references = meta.get("ownerReferences") or []
    if namespace == owner.namespace and not any(ref.get("uid") == owner.uid for ref in references):
        return f"it is not owned by {owner.kind} {owner.name} (uid {owner.uid})"
    mark = (meta.get("annotations") or {}).get(SEAL)
    if not mark:
        return f"it has no {SEAL} annotation"
    if not seals.valid(mark, "snapshot", owner.uid, name, digest(dict(configmap.get("data") or {}))):
        return f"its {SEAL} annotation does not match its content"
    return None


async def ensure(owner: Owner, namespace: str, name: str, data: dict[str, str]) -> None:
    """Save `data` as snapshot `name`, once: a snapshot of this run already there is kept as it is (a restart in
    the middle of a deploy must not replace the original with the new version). Raises NotOurs when
    another ConfigMap holds the name."""
    existing = await read(namespace, name)
    if existing is None:
        if await create(manifest(owner, namespace, name, data)):
            return
        existing = await read(namespace, name)  # created by someone else since we looked
        if existing is None:
            raise Conflict(f"ConfigMap {namespace}/{name} appeared and vanished while the snapshot was saved")
    check_ours(owner, existing)


def check_ours(owner: Owner, configmap: dict[str, Any]) -> None:
    """Raise NotOurs unless `configmap`, found under a snapshot's name before a change, is this run's."""
    why = distrust(owner, configmap)
    if why is not None:
        meta = configmap.get("metadata") or {}
        raise NotOurs(
            f"ConfigMap {meta.get('namespace')}/{meta.get('name')} already exists and is not this run's snapshot "
            f"({why}): nothing was changed, since it could not be restored; delete that ConfigMap to deploy"
        )


async def data_of(owner: Owner, namespace: str, name: str) -> dict[str, str] | None:
    """What snapshot `name` saved, None when there is none; raises NotOurs when it is not this run's."""
    existing = await read(namespace, name)
    if existing is None:
        return None
    why = distrust(owner, existing)
    if why is not None:
        raise NotOurs(f"snapshot ConfigMap {namespace}/{name} is not trusted ({why}): nothing was restored")
    return dict(existing.get("data") or {})


async def create(body: dict[str, Any]) -> bool:
    """Create a ConfigMap; False when one of its name exists already."""
    return await create_once("configmaps", path("v1", "configmaps", body["metadata"]["namespace"]), body)


async def read(namespace: str, name: str) -> dict[str, Any] | None:
    """A ConfigMap in its JSON form (camelCase keys), None when it does not exist."""
    return await get_or_none("configmaps", path("v1", "configmaps", namespace, name))
