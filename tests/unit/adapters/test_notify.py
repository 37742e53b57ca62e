"""Notifications are delivered at least once: sent first, claimed after (an Event), never sent again once claimed,
and every delivery of one notification carries the same idempotency key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from convoy.adapters import notify
from convoy.adapters.owner import Owner
from convoy.api.common import SecretKeyRef
from convoy.planner.actions import Notify

OWNER = Owner("WorkflowRun", "web-1", "shop", "uid-1")
HOOK = SecretKeyRef(name="hook", key="url")


class Receiver:
    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.headers.get("Idempotency-Key", ""), json.loads(await request.text())))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = TestServer(app)
    await server.start_server()
    hook.url = str(server.make_url("/hook"))
    try:
        yield hook
    finally:
        await server.close()


class Recorded:
    """The Events `notify` writes, by key, in order; the claim check reads them."""

    def __init__(self) -> None:
        self.events: dict[str, str] = {}
        self.log: list[str] = []


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Recorded:
    recorded = Recorded()

    async def record_event(owner: Owner, key: str, reason: str, message: str, *, warning: bool = False) -> bool:
        recorded.log.append(f"event {reason}")
        created = key not in recorded.events
        recorded.events.setdefault(key, reason)
        return created

    async def claimed(owner: Owner, action: Notify) -> bool:
        return notify.claim_key(action) in recorded.events

    async def webhook_url(owner: Owner, webhook: SecretKeyRef) -> str | None:
        return receiver.url if webhook.name == "hook" else None

    monkeypatch.setattr(notify, "record_event", record_event)
    monkeypatch.setattr(notify, "claimed", claimed)
    monkeypatch.setattr(notify, "webhook_url", webhook_url)
    return recorded


ACTION = Notify("shop/web-1/rollout/deploy/tell/1", "hello", HOOK)


async def test_sent_then_claimed_and_not_sent_again(receiver: Receiver, events: Recorded) -> None:
    await notify.notify(OWNER, ACTION)
    await notify.notify(OWNER, ACTION)

    assert [body["message"] for _, body in receiver.received] == ["hello"]
    assert events.events == {notify.claim_key(ACTION): "NotificationSent"}


async def test_a_crash_before_the_claim_sends_again_with_the_same_key(receiver: Receiver, events: Recorded) -> None:
    await notify.notify(OWNER, ACTION)
    events.events.clear()  # the operator died after sending, before its claim was recorded

    await notify.notify(OWNER, ACTION)

    keys = [key for key, _ in receiver.received]
    assert len(keys) == 2 and keys[0] == keys[1] == "uid-1/shop/web-1/rollout/deploy/tell/1"
    assert [body["idempotencyKey"] for _, body in receiver.received] == keys


async def test_a_new_run_of_the_same_name_has_a_new_key(receiver: Receiver, events: Recorded) -> None:
    await notify.notify(OWNER, ACTION)
    events.events.clear()

    await notify.notify(Owner("WorkflowRun", "web-1", "shop", "uid-2"), ACTION)

    assert len({key for key, _ in receiver.received}) == 2


@pytest.mark.parametrize(
    ("status", "webhook", "reasons"),
    [
        pytest.param(500, HOOK, ["NotificationFailed"], id="webhook-error-not-claimed"),
        pytest.param(200, SecretKeyRef(name="gone", key="url"), ["NotificationFailed"], id="secret-missing"),
        pytest.param(200, None, ["NotificationSent"], id="event-only"),
    ],
)
async def test_what_is_claimed(
    receiver: Receiver, events: Recorded, status: int, webhook: SecretKeyRef | None, reasons: list[str]
) -> None:
    receiver.status = status

    await notify.notify(OWNER, Notify(ACTION.key, "hello", webhook))

    assert list(events.events.values()) == reasons


async def test_a_failed_delivery_is_tried_again_and_claimed_once_it_succeeds(
    receiver: Receiver, events: Recorded
) -> None:
    receiver.status = 503
    await notify.notify(OWNER, ACTION)
    receiver.status = 200

    await notify.notify(OWNER, ACTION)
    await notify.notify(OWNER, ACTION)

    assert len(receiver.received) == 2
    assert notify.claim_key(ACTION) in events.events
