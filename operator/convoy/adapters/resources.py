"""Convoy's own resources: reading them, patching their status (with optimistic concurrency), annotating them."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters.kube import api, call, get_or_none
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


async def list_all(plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
    if namespace is None:
        result = await call("list", plural, _custom().list_cluster_custom_object(GROUP, VERSION, plural))
    else:
        result = await call("list", plural, _custom().list_namespaced_custom_object(GROUP, VERSION, namespace, plural))
    return list(result.get("items", []))


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
                GROUP, VERSION, meta["namespace"], plural, meta["name"], ops
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
                "patch", plural, _custom().patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, ops)
            )
            return
        except ApiException as error:
            if error.status != 409:
                raise
    raise Conflict(f"{plural} {namespace}/{name} kept changing while annotating it")
