"""The one way to the API server, and the accounting every call goes through (a metric per verb, resource and
outcome).

Two identities make calls. The operator's own reads what it observes and writes Convoy's own objects. Every
change to a tenant's objects is made as the tenant: inside `acting_as(tenant)`, a request carries the
`Impersonate-User` header of the tenant's ServiceAccount, so Kubernetes RBAC decides what a workflow may touch (as
Flux's `serviceAccountName` and Argo CD's impersonation do). The choice rides on a context variable, so it follows
the task that performs a run's actions and never leaks into another run's.

Requests and answers are plain JSON: no typed client models. Turning every answer into generated classes (and
back) was most of the operator's CPU, and importing those classes most of its memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import kopf
from prometheus_client import Counter

API_CALLS = Counter(
    "convoy_api_calls_total", "Kubernetes API calls made by the operator.", ["verb", "resource", "code"]
)

FIELD_MANAGER = "convoy"
"""The name every write of the operator carries, so managedFields (and GitOps tools reading them) tell Convoy's
fields from git's."""

PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
TIMEOUT = aiohttp.ClientTimeout(total=60)

Body = dict[str, Any]


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
    """Requests made inside this block impersonate `tenant` (unless they are the operator's own)."""
    token = _acting.set(tenant)
    try:
        yield
    finally:
        _acting.reset(token)


def acting() -> Tenant | None:
    """Whom the calls of this task impersonate, if anyone (for error messages)."""
    return _acting.get()


class ApiError(Exception):
    """A refused request, remembering the call it answered and whom it was made as, so a refusal can say who may
    not do what."""

    def __init__(self, status: int, reason: str, body: str, verb: str, resource: str, tenant: Tenant | None) -> None:
        super().__init__(f"{verb} {resource}: {status} {reason}")
        self.status, self.reason, self.body = status, reason, body
        self.verb, self.resource, self.tenant = verb, resource, tenant

    @property
    def server_message(self) -> str:
        """The API server's own explanation (the Status object's message), else its reason phrase."""
        try:
            message = json.loads(self.body or "{}").get("message")
        except (ValueError, AttributeError):
            message = None
        return str(message or self.reason or self.status)


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    text: str


class Transport(Protocol):
    """Sends one request to the API server (a path below its root) and reads the whole answer."""

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str], headers: Mapping[str, str], data: str | None
    ) -> Answer: ...

    async def close(self) -> None: ...


class Session:
    """The API server at the address and with the credentials of a kopf login: the in-cluster ServiceAccount,
    else the kubeconfig (as kopf itself logs in when no client library is installed). An answer 401 logs in again
    once, as a projected ServiceAccount token is rotated under a running pod."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._server = ""

    def login(self) -> None:
        settings = kopf.OperatorSettings()
        info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
        if info is None:
            raise RuntimeError("no credentials: not in a pod, and neither KUBECONFIG nor ~/.kube/config is there")
        self._server = info.server.rstrip("/")
        headers = {**info.as_http_headers(), "User-Agent": f"{FIELD_MANAGER}/operator", "Accept": "application/json"}
        connector = aiohttp.TCPConnector(ssl=info.as_ssl_context(), limit=64)
        self._session = aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=TIMEOUT, proxy=info.proxy_url, trust_env=info.trust_env
        )

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str], headers: Mapping[str, str], data: str | None
    ) -> Answer:
        for attempt in range(2):
            if self._session is None:
                self.login()
            assert self._session is not None
            async with self._session.request(
                method, self._server + path, params=params, headers=headers, data=data
            ) as response:
                answer = Answer(response.status, response.reason or "", await response.text())
            if answer.status != 401 or attempt:
                return answer
            await self.close()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


_transport: Transport | None = None


async def connect() -> None:
    """Log in now, so a missing credential fails the start rather than the first reconcile."""
    global _transport
    if _transport is None:
        session = Session()
        session.login()
        _transport = session


async def close() -> None:
    global _transport
    if _transport is not None:
        await _transport.close()
        _transport = None


def path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
    """The URL path of a collection or an object: `api_version` is `v1` (the core group) or `group/version`."""
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    where = f"/namespaces/{namespace}" if namespace else ""
    return root + where + f"/{plural}" + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


async def request(
    verb: str,
    resource: str,
    method: str,
    url: str,
    *,
    body: Any = None,
    params: Mapping[str, str] | None = None,
    patch: str = "strategic",
    own: bool = False,
) -> Any:
    """Send a request as this task's tenant (or as the operator, when `own`); the answer's JSON. A refusal raises
    ApiError; every request is counted by verb, resource and outcome."""
    if _transport is None:
        raise RuntimeError("the API client is not connected yet")
    tenant = None if own else _acting.get()
    headers: dict[str, str] = {}
    if tenant is not None:
        # The apiserver adds the ServiceAccount's groups itself when the impersonated user is a ServiceAccount.
        headers["Impersonate-User"] = tenant.username
    query = dict(params or {})
    if method in ("POST", "PUT", "PATCH"):
        query["fieldManager"] = FIELD_MANAGER
    data = None if body is None else json.dumps(body)
    if data is not None:
        headers["Content-Type"] = PATCH_TYPES[patch] if method == "PATCH" else "application/json"
    try:
        answer = await _transport.send(method, url, params=query, headers=headers, data=data)
    except (TimeoutError, aiohttp.ClientError):
        API_CALLS.labels(verb, resource, "error").inc()
        raise
    if answer.status >= 400:
        API_CALLS.labels(verb, resource, str(answer.status)).inc()
        raise ApiError(answer.status, answer.reason, answer.text, verb, resource, tenant)
    API_CALLS.labels(verb, resource, "ok").inc()
    return json.loads(answer.text) if answer.text else None


async def get_or_none(resource: str, url: str, *, own: bool = False) -> Body | None:
    """A read that treats 404 as absence."""
    try:
        found: Body = await request("get", resource, "GET", url, own=own)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    return found


async def create_once(resource: str, url: str, body: Body, *, own: bool = False) -> bool:
    """A create that treats 409 AlreadyExists as done; True when this call created it."""
    try:
        await request("create", resource, "POST", url, body=body, own=own)
    except ApiError as error:
        if error.status == 409:
            return False
        raise
    return True


async def list_items(resource: str, url: str, **params: str) -> list[Body]:
    """The items of one LIST (callers that may meet many objects page through `limit`/`continue` themselves)."""
    listed: Body = await request("list", resource, "GET", url, params=params)
    items: list[Body] = listed.get("items") or []
    return items
