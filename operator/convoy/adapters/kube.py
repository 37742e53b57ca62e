"""The shared API client and the accounting every call goes through (a metric per verb, resource and outcome)."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import Any, TypeVar

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import Counter

T = TypeVar("T")

API_CALLS = Counter(
    "convoy_api_calls_total", "Kubernetes API calls made by the operator.", ["verb", "resource", "code"]
)

_api: client.ApiClient | None = None


async def connect() -> client.ApiClient:
    """The process-wide API client: in-cluster credentials when running in a pod, the kubeconfig otherwise."""
    global _api
    if _api is None:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            await config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        _api = client.ApiClient()
    return _api


async def close() -> None:
    global _api
    if _api is not None:
        await _api.close()
        _api = None


def api() -> client.ApiClient:
    if _api is None:
        raise RuntimeError("the API client is not connected yet")
    return _api


async def call(verb: str, resource: str, request: Awaitable[T]) -> T:
    """Await an API request, counting it by outcome."""
    try:
        result = await request
    except ApiException as error:
        API_CALLS.labels(verb, resource, str(error.status)).inc()
        raise
    except Exception:
        API_CALLS.labels(verb, resource, "error").inc()
        raise
    API_CALLS.labels(verb, resource, "ok").inc()
    return result


async def get_or_none(resource: str, request: Awaitable[T]) -> T | None:
    """A read that treats 404 as absence."""
    try:
        return await call("get", resource, request)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


async def create_once(resource: str, request: Awaitable[Any]) -> bool:
    """A create that treats 409 AlreadyExists as done; True when this call created it."""
    try:
        await call("create", resource, request)
    except ApiException as error:
        if error.status == 409:
            return False
        raise
    return True
