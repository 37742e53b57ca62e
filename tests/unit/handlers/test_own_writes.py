"""A Workflow's status write comes back as a watch event: that event starts no second reconcile (which would read
the Workflow and list its namespace's runs again for nothing), while anyone else's change to it does."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from adapters.fake_api import FakeApiServer, Sent, fake_api

from convoy.handlers import definitions, runtime
from convoy.handlers.scheduler import Key

__all__ = ["fake_api"]  # the fixture, imported for pytest

WORKFLOWS = "/apis/convoy.dev/v1alpha1/namespaces/shop/workflows"
EXAMPLE = Path(__file__).parents[3] / "examples" / "workflow-basic.yaml"


def workflow() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"] = {"name": "web", "namespace": "shop", "uid": "uid-web", "resourceVersion": "1", "generation": 1}
    return body


@pytest.fixture
def triggered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Key]]:
    seen: list[Key] = []
    monkeypatch.setattr(runtime.SCHEDULER, "trigger", seen.append)
    runtime.OWN_WRITES.clear()
    yield seen
    runtime.OWN_WRITES.clear()


async def test_the_event_of_its_own_status_write_starts_no_reconcile(
    fake_api: FakeApiServer, triggered: list[Key]
) -> None:
    stored = workflow()

    def write_status(sent: Sent) -> tuple[int, Any]:
        stored["status"] = next(op["value"] for op in sent.body if op["path"] == "/status")
        stored["metadata"]["resourceVersion"] = "2"
        return 200, copy.deepcopy(stored)

    fake_api.on("GET", f"{WORKFLOWS}/web", lambda _s: (200, copy.deepcopy(stored)))
    fake_api.on("GET", "/apis/convoy.dev/v1alpha1/namespaces/shop/workflowruns", (200, {"items": []}))
    fake_api.on("PATCH", f"{WORKFLOWS}/web/status", write_status)
    # given a reconcile that wrote the Workflow's status (resourceVersion 2)
    await definitions.reconcile("workflows", "shop", "web")
    assert stored["status"]["conditions"][0]["reason"] == "Accepted"
    # when the watch brings that write back, then nothing is reconciled
    runtime.trigger_unless_own("workflows", copy.deepcopy(stored))
    assert triggered == []
    # when someone else changes the Workflow afterwards, then it is reconciled
    stored["metadata"]["resourceVersion"] = "3"
    runtime.trigger_unless_own("workflows", copy.deepcopy(stored))
    assert triggered == [("workflows", "shop", "web")]
