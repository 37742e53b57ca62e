"""Convoy's own resources through the API: LISTs read page by page, a stale status write is a Conflict, a missing
object reads as None."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters import kube, resources

from .fake_api import FakeApiServer, Sent, fake_api, status

__all__ = ["fake_api"]  # the fixture, imported for pytest


def paged(count: int) -> Any:
    """Answers LISTs over `count` objects in pages, as the API server does."""
    objects = [{"metadata": {"namespace": "shop", "name": f"r{i}"}} for i in range(count)]

    def answer(sent: Sent) -> tuple[int, Any]:
        start = int(sent.params.get("continue") or 0)
        end = start + int(sent.params["limit"])
        more = end < len(objects)
        return 200, {"items": objects[start:end], "metadata": {"continue": str(end) if more else ""}}

    return objects, answer


@pytest.mark.parametrize(
    ("count", "namespace", "page", "pages"),
    [
        pytest.param(0, None, 500, 1, id="nothing-one-empty-page"),
        pytest.param(7, None, 3, 3, id="seven-in-pages-of-three"),
        pytest.param(6, "shop", 3, 2, id="exact-pages-in-a-namespace"),
        pytest.param(1200, None, 500, 3, id="default-page-size"),
    ],
)
async def test_list_all_reads_every_page(
    fake_api: FakeApiServer, count: int, namespace: str | None, page: int, pages: int
) -> None:
    objects, answer = paged(count)
    fake_api.on("GET", "/apis/convoy.dev/v1alpha1/*", answer)

    items = await resources.list_all("workflowruns", namespace, page=page)

    assert items == objects
    assert len(fake_api.sent) == pages
    where = f"/namespaces/{namespace}" if namespace else ""
    assert {s.path for s in fake_api.sent} == {f"/apis/convoy.dev/v1alpha1{where}/workflowruns"}
    assert all(s.params["limit"] == str(page) for s in fake_api.sent)
    assert [s.params.get("continue") for s in fake_api.sent[1:]] == [str(page * i) for i in range(1, pages)]


async def test_a_missing_object_reads_as_none(fake_api: FakeApiServer) -> None:
    assert await resources.read("workflowruns", "shop", "gone") is None


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        pytest.param(409, resources.Conflict, id="stale-version-is-a-conflict"),
        pytest.param(403, kube.ApiError, id="forbidden-is-not"),
    ],
)
async def test_a_status_write_from_a_stale_version(fake_api: FakeApiServer, code: int, raised: type[Exception]) -> None:
    fake_api.on("PATCH", "/apis/convoy.dev/v1alpha1/namespaces/shop/workflowruns/r1/status", status(code))
    run = {"metadata": {"namespace": "shop", "name": "r1", "resourceVersion": "7"}}
    with pytest.raises(raised):
        await resources.replace_status("workflowruns", run, {"phase": "Running"})
    (sent,) = fake_api.sent
    assert sent.headers["Content-Type"] == "application/json-patch+json"
    assert sent.params == {"fieldManager": "convoy"}
    assert sent.body[0] == {"op": "replace", "path": "/metadata/resourceVersion", "value": "7"}


@pytest.mark.parametrize("conflicts", [pytest.param(0, id="first-try"), pytest.param(2, id="again-after-conflicts")])
async def test_an_update_patches_the_version_it_read(fake_api: FakeApiServer, conflicts: int) -> None:
    versions = iter(range(1, 10))
    fake_api.on("GET", "/apis/convoy.dev/v1alpha1/namespaces/shop/workflowruns/r1", lambda _: (200, run()))
    refusals = iter([status(409)] * conflicts)

    def run() -> dict[str, Any]:
        return {"metadata": {"name": "r1", "namespace": "shop", "resourceVersion": str(next(versions))}}

    fake_api.on(
        "PATCH", "/apis/convoy.dev/v1alpha1/namespaces/shop/workflowruns/r1", lambda _: next(refusals, (200, {}))
    )

    assert await resources.update("workflowruns", "shop", "r1", lambda obj: [{"op": "add", "path": "/x", "value": 1}])

    patches = [s for s in fake_api.sent if s.method == "PATCH"]
    assert len(patches) == conflicts + 1
    assert [p.body[0]["value"] for p in patches] == [str(i) for i in range(1, conflicts + 2)]


async def test_an_update_with_nothing_to_change_sends_no_patch(fake_api: FakeApiServer) -> None:
    fake_api.on("GET", "/apis/convoy.dev/v1alpha1/namespaces/shop/workflowruns/r1", (200, {"metadata": {}}))
    assert await resources.update("workflowruns", "shop", "r1", lambda obj: None)
    assert [s.method for s in fake_api.sent] == ["GET"]
