"""Kubernetes Events on Convoy's objects. Each Event's name derives from the planner's key, so an Event is
created once however often the same transition is planned (after a restart, a conflict, a retry)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from kubernetes_asyncio import client

from convoy.adapters.kube import FIELD_MANAGER, create_once, own_api
from convoy.adapters.owner import Owner


def event_name(owner: Owner, key: str) -> str:
    digest = hashlib.sha256(f"{owner.uid}/{key}".encode()).hexdigest()[:16]
    return f"{owner.name[:200]}.{digest}"


async def record_event(owner: Owner, key: str, reason: str, message: str, *, warning: bool = False) -> bool:
    """Create the Event unless it exists; True when this call created it."""
    now = datetime.now(UTC)
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=event_name(owner, key), namespace=owner.namespace),
        involved_object=client.V1ObjectReference(
            api_version="convoy.dev/v1alpha1",
            kind=owner.kind,
            name=owner.name,
            namespace=owner.namespace,
            uid=owner.uid,
        ),
        reason=reason,
        message=message[:1024],
        type="Warning" if warning else "Normal",
        source=client.V1EventSource(component="convoy"),
        reporting_component="convoy.dev/operator",
        reporting_instance="convoy",
        first_timestamp=now,
        last_timestamp=now,
        count=1,
    )
    return await create_once(
        "events",
        client.CoreV1Api(own_api()).create_namespaced_event(owner.namespace, body, field_manager=FIELD_MANAGER),
    )
