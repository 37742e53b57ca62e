"""Convoy's own resources: reading them, patching their status (with optimistic concurrency), annotating them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convoy.adapters.kube import ApiError, get_or_none, path, request
from convoy.api.common import GROUP, VERSION

API_VERSION = f"{GROUP}/{VERSION}"


class Conflict(Exception):
    """The object changed since it was read; plan again from fresh state."""


async def read(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    return await get_or_none(plural, path(API_VERSION, plural, namespace, name))


PAGE = 500
"""Objects per LIST page: a page is one bounded response, however many objects there are (10,000 Workflows with
history would otherwise be one response of hundreds of megabytes, held at once)."""


async def list_all(plural: str, namespace: str | None = None, *, page: int = PAGE) -> list[dict[str, Any]]:
    """Every object of `plural` (in `namespace`, or cluster-wide), read page by page."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        options = {"limit": str(page)}
        if token:
            options["continue"] = token
        result = await request("list", plural, "GET", path(API_VERSION, plural, namespace), params=options)
        items.extend(result.get("items") or [])
        token = (result.get("metadata") or {}).get("continue")
        if not token:
            return items


async def delete(plural: str, namespace: str, name: str, uid: str) -> bool:
    """Delete the object if it is still the one that was read (same uid); False when it is gone already."""
    body = {"preconditions": {"uid": uid}, "propagationPolicy": "Background"}
    try:
        await request("delete", plural, "DELETE", path(API_VERSION, plural, namespace, name), body=body)
    except ApiError as error:
        if error.status in (404, 409):  # gone, or replaced by a new object of the same name
            return False
        raise
    return True


async def replace_status(plural: str, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """Write the whole status in one patch, only if the object is still at the version that was planned from."""
    meta = obj["metadata"]
    ops = [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
        {"op": "add", "path": "/status", "value": status},
    ]
    url = path(API_VERSION, plural, meta["namespace"], meta["name"], "status")
    try:
        result: dict[str, Any] = await request("patch", f"{plural}/status", "PATCH", url, body=ops, patch="json")
    except ApiError as error:
        if error.status == 409:
            raise Conflict(f"{plural} {meta['namespace']}/{meta['name']} changed") from None
        raise
    return result


async def update(
    plural: str, namespace: str, name: str, ops_for: Callable[[dict[str, Any]], list[dict[str, Any]] | None]
) -> bool:
    """Read the object, and apply the JSON patch `ops_for` makes of it (None: nothing to change) to that version
    only; read and try again when it changed in between. False when the object is gone."""
    for _ in range(5):
        obj = await read(plural, namespace, name)
        if obj is None:
            return False
        ops = ops_for(obj)
        if ops is None:
            return True
        precondition = {
            "op": "replace",
            "path": "/metadata/resourceVersion",
            "value": obj["metadata"]["resourceVersion"],
        }
        url = path(API_VERSION, plural, namespace, name)
        try:
            await request("patch", plural, "PATCH", url, body=[precondition, *ops], patch="json")
            return True
        except ApiError as error:
            if error.status != 409:
                raise
    raise Conflict(f"{plural} {namespace}/{name} kept changing while it was being patched")


async def annotate(plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
    """Add annotations (merged with the existing ones) unless they are there already."""

    def ops(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
        current = obj["metadata"].get("annotations") or {}
        if all(current.get(k) == v for k, v in annotations.items()):
            return None
        return [{"op": "add", "path": "/metadata/annotations", "value": {**current, **annotations}}]

    await update(plural, namespace, name, ops)
