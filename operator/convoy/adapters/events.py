"""Kubernetes Events on Convoy's objects. Each Event's name derives from the planner's key, so an Event is
created once however often the same transition is planned (after a restart, a conflict, a retry)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from convoy.adapters.kube import create_once, path
from convoy.adapters.owner import Owner


def event_name(owner: Owner, key: str) -> str:
    digest = hashlib.sha256(f"{owner.uid}/{key}".encode()).hexdigest()[:16]
    return f"{owner.name[:200]}.{digest}"


async def record_event(owner: Owner, key: str, reason: str, message: str, *, warning: bool = False) -> bool:
    """Create the Event unless it exists; True when this call created it."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(owner, key), "namespace": owner.namespace},
        "involvedObject": {
            "apiVersion": "convoy.dev/v1alpha1",
            "kind": owner.kind,
            "name": owner.name,
            "namespace": owner.namespace,
            "uid": owner.uid,
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": "convoy"},
        "reportingComponent": "convoy.dev/operator",
        "reportingInstance": "convoy",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    return await create_once("events", path("v1", "events", owner.namespace), body, own=True)
