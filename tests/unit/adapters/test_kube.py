"""Every call goes through `kube.request`: it carries the field manager and, inside `acting_as`, the tenant's
impersonation header; a refusal comes back as an ApiError that knows the verb, the resource and whom the call was
made as, and the handlers turn a permanent one into a step failure (the planner's simulation takes it from there:
tests/unit/planner/test_api_refusals.py)."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters import kube
from convoy.adapters.owner import Owner
from convoy.api.steps import ErrorKind
from convoy.handlers.execute import perform_or_refuse, refusal_of
from convoy.planner.actions import RestoreSnapshot

from .fake_api import FakeApiServer, fake_api, status

__all__ = ["fake_api"]  # the fixture, imported for pytest

TENANT = kube.Tenant("shop", "convoy-runner")
URL = "/apis/apps/v1/namespaces/shop/deployments/web"


async def refusal(fake: FakeApiServer, code: int, *, tenant: bool = True) -> kube.ApiError:
    fake.on("PATCH", URL, status(code, "deployments is refused"))
    try:
        if tenant:
            with kube.acting_as(TENANT):
                await kube.request("patch", "deployments", "PATCH", URL, body={})
        else:
            await kube.request("patch", "deployments", "PATCH", URL, body={})
    except kube.ApiError as error:
        return error
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("args", "url"),
    [
        pytest.param(("v1", "pods", "shop"), "/api/v1/namespaces/shop/pods", id="core-collection"),
        pytest.param(("apps/v1", "deployments", "shop", "web"), URL, id="object"),
        pytest.param(("convoy.dev/v1alpha1", "workflowruns", None), "/apis/convoy.dev/v1alpha1/workflowruns", id="all"),
        pytest.param(
            ("convoy.dev/v1alpha1", "workflowruns", "shop", "r", "status"),
            "/apis/convoy.dev/v1alpha1/namespaces/shop/workflowruns/r/status",
            id="subresource",
        ),
    ],
)
def test_paths(args: tuple[Any, ...], url: str) -> None:
    assert kube.path(*args) == url


async def test_a_write_as_the_tenant_carries_its_identity_and_the_field_manager(fake_api: FakeApiServer) -> None:
    fake_api.on("PATCH", URL, (200, {"metadata": {"name": "web"}}))
    with kube.acting_as(TENANT):
        answer = await kube.request("patch", "deployments", "PATCH", URL, body={"spec": {"replicas": 2}})
        await kube.request("patch", "deployments", "PATCH", URL, body=[], patch="json", own=True)
    assert answer == {"metadata": {"name": "web"}}
    tenant, own = fake_api.sent
    assert tenant.headers == {
        "Impersonate-User": "system:serviceaccount:shop:convoy-runner",
        "Content-Type": "application/strategic-merge-patch+json",
    }
    assert tenant.params == {"fieldManager": "convoy"} and tenant.body == {"spec": {"replicas": 2}}
    assert own.headers == {"Content-Type": "application/json-patch+json"}


async def test_a_read_carries_no_field_manager_and_absence_is_none(fake_api: FakeApiServer) -> None:
    assert await kube.get_or_none("deployments", URL) is None
    assert fake_api.sent[0].params == {} and fake_api.sent[0].body is None


@pytest.mark.parametrize(
    ("code", "created"), [pytest.param(201, True, id="created"), pytest.param(409, False, id="exists")]
)
async def test_create_once(fake_api: FakeApiServer, code: int, created: bool) -> None:
    fake_api.on("POST", "/api/v1/namespaces/shop/configmaps", (code, {}))
    assert await kube.create_once("configmaps", "/api/v1/namespaces/shop/configmaps", {"metadata": {}}) is created


async def test_an_error_remembers_the_call_and_the_tenant(fake_api: FakeApiServer) -> None:
    error = await refusal(fake_api, 403)
    assert (error.status, error.verb, error.resource, error.tenant) == (403, "patch", "deployments", TENANT)
    assert error.server_message == "deployments is refused"


@pytest.mark.parametrize(
    ("code", "kind", "names"),
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
async def test_permanent_refusals_become_step_failures(
    fake_api: FakeApiServer, code: int, kind: ErrorKind | None, names: str
) -> None:
    found = refusal_of(await refusal(fake_api, code))
    if kind is None:
        assert found is None
    else:
        assert found is not None
        assert found.error is kind
        assert names in found.message


async def test_the_operators_own_refusal_names_convoy(fake_api: FakeApiServer) -> None:
    found = refusal_of(await refusal(fake_api, 403, tenant=False))
    assert found is not None and found.message.startswith("Convoy may not patch deployments")


RESTORE = RestoreSnapshot("shop", "web", "web-2-promote-snapshot", "web-2/promote/rollback", "web-2/promote/deploy")
RESTORER = Owner("WorkflowRun", "web-2", "shop", "uid-1")


def deployment(applied: str | None) -> dict[str, Any]:
    return {"metadata": {"name": "web", "annotations": {} if applied is None else {"convoy.dev/applied": applied}}}


@pytest.mark.parametrize(
    "applied",
    [
        pytest.param(None, id="never-marked"),
        pytest.param("web-1/promote/deploy", id="marked-by-an-earlier-run"),
        pytest.param("web-2/canary/deploy", id="marked-by-another-phase"),
    ],
)
async def test_a_restore_without_a_snapshot_marks_the_untouched_deployment(
    fake_api: FakeApiServer, applied: str | None
) -> None:
    # given a step whose set-image failed before it saved its snapshot (so before it changed anything)
    fake_api.on("GET", URL, (200, deployment(applied)))
    fake_api.on("PATCH", URL, (200, deployment("web-2/promote/rollback")))
    # when its rollback restores the snapshot
    refused = await perform_or_refuse(RESTORER, TENANT, RESTORE, {})
    # then the template is left alone and the Deployment is marked restored, so the rollback goes on
    assert refused is None
    read_snapshot, read_deployment, patch = fake_api.sent
    assert read_snapshot.path == "/api/v1/namespaces/shop/configmaps/web-2-promote-snapshot"
    assert (read_deployment.method, read_deployment.path) == ("GET", URL)
    assert patch.body == {
        "metadata": {"annotations": {"convoy.dev/applied": "web-2/promote/rollback", "convoy.dev/run": "shop/web-2"}}
    }


async def test_a_deleted_snapshot_of_a_change_in_place_fails_the_rollback(fake_api: FakeApiServer) -> None:
    # given a Deployment that still runs the phase's change, whose snapshot someone deleted
    fake_api.on("GET", URL, (200, deployment("web-2/promote/deploy")))
    # when the phase's rollback restores the snapshot
    refused = await perform_or_refuse(RESTORER, TENANT, RESTORE, {})
    # then the step fails with NotFound, saying what is lost, and the Deployment is not marked restored
    assert refused is not None and refused.error is ErrorKind.NOT_FOUND
    assert refused.message.startswith(
        "snapshot ConfigMap shop/web-2-promote-snapshot was deleted while Deployment shop/web still runs"
    )
    assert [sent.method for sent in fake_api.sent] == ["GET", "GET"]
