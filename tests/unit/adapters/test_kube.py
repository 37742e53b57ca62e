"""Every call goes through `kube.call`: a refusal comes back as an ApiError that knows the verb, the resource and
whom the call was made as, and the handlers turn a permanent one into a step failure (the planner's simulation
takes it from there: tests/unit/planner/test_api_refusals.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters import kube
from convoy.api.steps import ErrorKind
from convoy.handlers.execute import refusal_of

TENANT = kube.Tenant("shop", "convoy-runner")


async def refused(status: int, message: str | None = None) -> Any:
    error = ApiException(status=status, reason="Refused")
    error.body = json.dumps({"kind": "Status", "message": message}).encode() if message else None
    raise error


async def answered() -> str:
    return "ok"


async def refusal(status: int, verb: str = "patch", resource: str = "deployments", *, tenant: bool = True) -> Any:
    try:
        if tenant:
            with kube.acting_as(TENANT):
                await kube.call(verb, resource, refused(status, f"{resource} is refused"))
        else:
            await kube.call(verb, resource, refused(status, f"{resource} is refused"))
    except kube.ApiError as error:
        return error
    raise AssertionError("no error")


async def test_call_answers_what_the_request_returned() -> None:
    assert await kube.call("get", "deployments", answered()) == "ok"


async def test_an_error_remembers_the_call_and_the_tenant() -> None:
    error = await refusal(403)
    assert (error.status, error.verb, error.resource, error.tenant) == (403, "patch", "deployments", TENANT)
    assert error.server_message == "deployments is refused"


@pytest.mark.parametrize(
    ("status", "kind", "names"),
    [
        pytest.param(403, ErrorKind.FORBIDDEN, "ServiceAccount shop/convoy-runner may not patch", id="403-forbidden"),
        pytest.param(422, ErrorKind.INVALID, "(422)", id="422-invalid"),
        pytest.param(400, ErrorKind.INVALID, "(400)", id="400-invalid"),
        pytest.param(404, ErrorKind.NOT_FOUND, "(404)", id="404-not-found"),
        pytest.param(409, None, "", id="409-try-again"),
        pytest.param(429, None, "", id="429-throttled-try-again"),
        pytest.param(500, None, "", id="500-try-again"),
    ],
)
async def test_permanent_refusals_become_step_failures(status: int, kind: ErrorKind | None, names: str) -> None:
    found = refusal_of(await refusal(status))
    if kind is None:
        assert found is None
    else:
        assert found is not None
        assert found.error is kind
        assert names in found.message
