"""Notifications: a Kubernetes Event always, and a webhook call when one is configured.

The Event is created first and doubles as the claim: when it exists already, the notification was sent by an
earlier cycle (or an operator that died just after), and it is not sent again. The webhook URL is read from its
Secret at the moment of sending and never logged, put in an Event or written to a status.
"""

from __future__ import annotations

import base64
import json
import logging

import aiohttp
from kubernetes_asyncio import client

from convoy.adapters.events import record_event
from convoy.adapters.kube import api, get_or_none
from convoy.adapters.owner import Owner
from convoy.planner.actions import Notify

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10)


async def notify(owner: Owner, action: Notify) -> None:
    if not await record_event(owner, f"{action.key}/claim", "NotificationSent", action.message):
        return
    if action.webhook is None:
        return
    core = client.CoreV1Api(api())
    secret = await get_or_none("secrets", core.read_namespaced_secret(action.webhook.name, owner.namespace))
    encoded = (secret.data or {}).get(action.webhook.key) if secret is not None else None
    if encoded is None:
        await record_event(
            owner,
            f"{action.key}/missing",
            "NotificationFailed",
            f"secret {action.webhook.name} has no key {action.webhook.key}",
            warning=True,
        )
        return
    url = base64.b64decode(encoded).decode().strip()
    body = {"run": owner.name, "namespace": owner.namespace, "kind": owner.kind, "message": action.message}
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(
                url, data=json.dumps(body), headers={"Content-Type": "application/json", "Idempotency-Key": action.key}
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
