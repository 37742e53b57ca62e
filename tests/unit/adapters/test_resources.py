"""Convoy's own resources through the API: LISTs read page by page, a stale status write is a Conflict, a missing
object reads as None."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters import resources


class FakeCustomObjects:
    """The client's CustomObjectsApi over `count` objects, answering LISTs in pages as the API server does."""

    def __init__(self, count: int, *, refuse: int | None = None) -> None:
        self.objects = [{"metadata": {"namespace": "shop", "name": f"r{i}"}} for i in range(count)]
        self.requests: list[dict[str, Any]] = []
        self.refuse = refuse

    async def list_cluster_custom_object(self, group: str, version: str, plural: str, **options: Any) -> Any:
        return self._page(options)

    async def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, **options: Any
    ) -> Any:
        return self._page({**options, "namespace": namespace})

    def _page(self, options: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(options)
        start = int(options.get("_continue") or 0)
        end = start + options["limit"]
        more = end < len(self.objects)
        return {"items": self.objects[start:end], "metadata": {"continue": str(end) if more else ""}}

    async def get_namespaced_custom_object(self, *args: Any) -> Any:
        raise ApiException(status=self.refuse or 404, reason="Not Found")

    async def patch_namespaced_custom_object_status(self, *args: Any, field_manager: str) -> Any:
        assert field_manager == "convoy"
        raise ApiException(status=self.refuse or 409, reason="Conflict")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> FakeCustomObjects:
    api = FakeCustomObjects(getattr(request, "param", 0))
    monkeypatch.setattr(resources, "_custom", lambda: api)
    return api


@pytest.mark.parametrize(
    ("fake", "namespace", "page", "pages"),
    [
        pytest.param(0, None, 500, 1, id="nothing-one-empty-page"),
        pytest.param(7, None, 3, 3, id="seven-in-pages-of-three"),
        pytest.param(6, "shop", 3, 2, id="exact-pages-in-a-namespace"),
        pytest.param(1200, None, 500, 3, id="default-page-size"),
    ],
    indirect=["fake"],
)
async def test_list_all_reads_every_page(fake: FakeCustomObjects, namespace: str | None, page: int, pages: int) -> None:
    items = await resources.list_all("workflowruns", namespace, page=page)

    assert [i["metadata"]["name"] for i in items] == [o["metadata"]["name"] for o in fake.objects]
    assert len(fake.requests) == pages
    assert all(r["limit"] == page for r in fake.requests)
    assert [r.get("_continue") for r in fake.requests[1:]] == [str(page * i) for i in range(1, pages)]


async def test_a_missing_object_reads_as_none(fake: FakeCustomObjects) -> None:
    assert await resources.read("workflowruns", "shop", "gone") is None


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        pytest.param(409, resources.Conflict, id="stale-version-is-a-conflict"),
        pytest.param(403, ApiException, id="forbidden-is-not"),
    ],
)
async def test_a_status_write_from_a_stale_version(
    fake: FakeCustomObjects, status: int, raised: type[Exception]
) -> None:
    fake.refuse = status
    run = {"metadata": {"namespace": "shop", "name": "r1", "resourceVersion": "7"}}
    with pytest.raises(raised):
        await resources.replace_status("workflowruns", run, {"phase": "Running"})
