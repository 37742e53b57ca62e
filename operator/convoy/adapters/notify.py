"""Notifications: a Kubernetes Event always, and a webhook call when one is configured. Delivered at least once.

The message is sent first, and an Event recorded after it claims it as sent: a notification whose claim exists
was delivered by an earlier cycle and is not sent again. An operator that dies between the send and the claim
(or the run's status write) sends it again on its next cycle, with the same `Idempotency-Key` header and
`idempotencyKey` field, so the receiver can tell the repeat from a new notification. A webhook that fails is not
claimed, and a warning Event says so; the run goes on (a notification that could not be delivered is no reason to
roll a deployment back), and only a cycle that plans the same notification again (after a crash before its status
write) tries it again. The webhook URL is read from its Secret at the moment of sending and never logged, put in
an Event or written to a status.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging

import aiohttp

from convoy.adapters.events import event_name, record_event
from convoy.adapters.kube import acting, get_or_none, path
from convoy.adapters.owner import Owner
from convoy.api.common import SecretKeyRef
from convoy.planner.actions import Notify

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10)


def claim_key(action: Notify) -> str:
    return f"{action.key}/claim"


def idempotency_key(owner: Owner, action: Notify) -> str:
    """The same for every delivery of one notification, and different for a new run that reuses a name."""
    return f"{owner.uid}/{action.key}"


async def claimed(owner: Owner, action: Notify) -> bool:
    """Whether an earlier cycle delivered the notification (its claim Event exists)."""
    url = path("v1", "events", owner.namespace, event_name(owner, claim_key(action)))
    return await get_or_none("events", url, own=True) is not None


async def notify(owner: Owner, action: Notify) -> None:
    if await claimed(owner, action):
        return
    if action.webhook is None or await _deliver(owner, action):
        await record_event(owner, claim_key(action), "NotificationSent", action.message)


async def webhook_url(owner: Owner, webhook: SecretKeyRef) -> str | None:
    """The webhook's URL from its Secret, None when the Secret or its key is missing or is not text."""
    tenant = acting()  # the Secret lives beside the Workflow, whose ServiceAccount reads it
    home = tenant.namespace if tenant is not None else owner.namespace
    secret = await get_or_none("secrets", path("v1", "secrets", home, webhook.name))
    encoded = (secret.get("data") or {}).get(webhook.key) if secret is not None else None
    try:
        return None if encoded is None else base64.b64decode(encoded).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        return None


async def _deliver(owner: Owner, action: Notify) -> bool:
    """Post the message to the webhook; True when it answered 2xx. A failure is recorded as a warning Event."""
    assert action.webhook is not None
    url = await webhook_url(owner, action.webhook)
    if url is None:
        await record_event(
            owner,
            f"{action.key}/missing",
            "NotificationFailed",
            f"secret {action.webhook.name} has no key {action.webhook.key} holding a URL as text",
            warning=True,
        )
        return False
    key = idempotency_key(owner, action)
    body = {
        "run": owner.name,
        "namespace": owner.namespace,
        "kind": owner.kind,
        "message": action.message,
        "idempotencyKey": key,
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(
                url, data=json.dumps(body), headers={"Content-Type": "application/json", "Idempotency-Key": key}
            ) as response,
        ):
            ok, status = response.status < 300, str(response.status)
    except (aiohttp.ClientError, TimeoutError) as error:
        ok, status = False, type(error).__name__
    if not ok:
        log.warning("notification webhook of %s/%s failed: %s", owner.namespace, owner.name, status)
        await record_event(
            owner,
            f"{action.key}/failed",
            "NotificationFailed",
            f"webhook from secret {action.webhook.name} answered {status}",
            warning=True,
        )
    return ok
