"""Convoy's own resources: reading them, patching their status (with optimistic concurrency), annotating them."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters.kube import FIELD_MANAGER, api, call, get_or_none
from convoy.api.common import GROUP, VERSION


class Conflict(Exception):
    """The object changed since it was read; plan again from fresh state."""


def _custom() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api())


async def read(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    obj: dict[str, Any] | None = await get_or_none(
        plural, _custom().get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    )
    return obj


PAGE = 500
"""Objects per LIST page: a page is one bounded response, however many objects there are (10,000 Workflows with
history would otherwise be one response of hundreds of megabytes, held at once)."""


async def list_all(plural: str, namespace: str | None = None, *, page: int = PAGE) -> list[dict[str, Any]]:
    """Every object of `plural` (in `namespace`, or cluster-wide), read page by page."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        options: dict[str, Any] = {"limit": page}
        if token:
            options["_continue"] = token
        if namespace is None:
            request = _custom().list_cluster_custom_object(GROUP, VERSION, plural, **options)
        else:
            request = _custom().list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **options)
        result = await call("list", plural, request)
        items.extend(result.get("items", []))
        token = (result.get("metadata") or {}).get("continue")
        if not token:
            return items


async def delete(plural: str, namespace: str, name: str, uid: str) -> bool:
    """Delete the object if it is still the one that was read (same uid); False when it is gone already."""
    body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid), propagation_policy="Background")
    try:
        await call(
            "delete",
            plural,
            _custom().delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, body=body),
        )
    except ApiException as error:
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
    try:
        result = await call(
            "patch",
            f"{plural}/status",
            _custom().patch_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], plural, meta["name"], ops, field_manager=FIELD_MANAGER
            ),
        )
    except ApiException as error:
        if error.status == 409:
            raise Conflict(f"{plural} {meta['namespace']}/{meta['name']} changed") from None
        raise
    return result  # type: ignore[no-any-return]


async def annotate(plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
    """Add annotations (merged with the existing ones) unless they are there already."""
    for _ in range(5):
        obj = await read(plural, namespace, name)
        if obj is None:
            return
        current = obj["metadata"].get("annotations") or {}
        if all(current.get(k) == v for k, v in annotations.items()):
            return
        ops = [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": obj["metadata"]["resourceVersion"]},
            {"op": "add", "path": "/metadata/annotations", "value": {**current, **annotations}},
        ]
        try:
            await call(
                "patch",
                plural,
                _custom().patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name, ops, field_manager=FIELD_MANAGER
                ),
            )
            return
        except ApiException as error:
            if error.status != 409:
                raise
    raise Conflict(f"{plural} {namespace}/{name} kept changing while annotating it")
