"""The shared API clients and the accounting every call goes through (a metric per verb, resource and outcome).

Two identities make calls. The operator's own reads what it observes and writes Convoy's own objects. Every
change to a tenant's objects is made as the tenant: inside `acting_as(tenant)`, `api()` answers with a client
that impersonates the tenant's ServiceAccount, so Kubernetes RBAC decides what a workflow may touch (as Flux's
`serviceAccountName` and Argo CD's impersonation do). The choice rides on a context variable, so it follows the
task that performs a run's actions and never leaks into another run's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import Counter

T = TypeVar("T")

API_CALLS = Counter(
    "convoy_api_calls_total", "Kubernetes API calls made by the operator.", ["verb", "resource", "code"]
)

# The name every write of the operator carries, so managedFields (and GitOps tools reading them) tell Convoy's
# fields from git's.
FIELD_MANAGER = "convoy"
_api: client.ApiClient | None = None
_tenant_apis: dict[str, client.ApiClient] = {}


@dataclass(frozen=True)
class Tenant:
    """The ServiceAccount a run's changes are made as."""

    namespace: str
    service_account: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


_acting: ContextVar[Tenant | None] = ContextVar("convoy_acting_as", default=None)


@contextmanager
def acting_as(tenant: Tenant) -> Iterator[None]:
    """Calls made through `api()` inside this block impersonate `tenant`."""
    token = _acting.set(tenant)
    try:
        yield
    finally:
        _acting.reset(token)


def acting() -> Tenant | None:
    """Whom the calls of this task impersonate, if anyone (for error messages)."""
    return _acting.get()


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
    for tenant_api in _tenant_apis.values():
        await tenant_api.close()
    _tenant_apis.clear()
    if _api is not None:
        await _api.close()
        _api = None


def own_api() -> client.ApiClient:
    """The operator's own client, even inside `acting_as`: for the records Convoy keeps about its runs (Events)."""
    if _api is None:
        raise RuntimeError("the API client is not connected yet")
    return _api


def api() -> client.ApiClient:
    """The client for this task: the operator's own, or inside `acting_as` one impersonating the tenant."""
    if _api is None:
        raise RuntimeError("the API client is not connected yet")
    tenant = _acting.get()
    if tenant is None:
        return _api
    found = _tenant_apis.get(tenant.username)
    if found is None:
        # The apiserver adds the ServiceAccount's groups itself when the impersonated user is a ServiceAccount.
        found = client.ApiClient(_api.configuration, header_name="Impersonate-User", header_value=tenant.username)
        _tenant_apis[tenant.username] = found
    return found


class ApiError(ApiException):
    """An ApiException that remembers the call it answered and whom it was made as, so a refusal can say who may
    not do what."""

    def __init__(self, error: ApiException, verb: str, resource: str, tenant: Tenant | None) -> None:
        super().__init__(status=error.status, reason=error.reason)
        self.body, self.headers = error.body, error.headers
        self.verb, self.resource, self.tenant = verb, resource, tenant

    @property
    def server_message(self) -> str:
        """The API server's own explanation (the Status object's message), else its reason phrase."""
        try:
            message = json.loads(self.body or "{}").get("message")
        except (ValueError, AttributeError):
            message = None
        return str(message or self.reason or self.status)


async def call(verb: str, resource: str, request: Awaitable[T]) -> T:
    """Await an API request, counting it by outcome."""
    try:
        result = await request
    except ApiException as error:
        API_CALLS.labels(verb, resource, str(error.status)).inc()
        raise ApiError(error, verb, resource, _acting.get()) from error
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
