"""Every write to one Deployment, seen by a watch: who made it (the field managers whose `managedFields` entry it
changed) and what it left (replicas, paused, image), so a test can count writes per manager and find one that
undid another's change."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch


@dataclass(frozen=True)
class Write:
    resource_version: str
    # "<manager>" for the object, "<manager> (status)" for the status subresource; "?" when a manager wrote twice
    # within one second (managedFields show seconds) and so cannot be told
    managers: tuple[str, ...]
    replicas: int | None
    paused: bool
    image: str


def _stamps(obj: dict[str, Any]) -> dict[str, str]:
    """Each manager's last write: its entry's operation and time (a manager that only lost fields to another
    keeps its time)."""
    out = {}
    for entry in obj["metadata"].get("managedFields") or []:
        name = entry.get("manager", "?") + (" (status)" if entry.get("subresource") == "status" else "")
        out[name] = f"{entry.get('operation')} {entry.get('time')}"
    return out


def _content(obj: dict[str, Any]) -> str:
    """The object but for its status and bookkeeping: what a write other than a status update changes."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("managedFields", "resourceVersion", "generation")}
    return json.dumps([meta, obj.get("spec")], sort_keys=True)


def _latest(stamps: dict[str, str], *, status: bool) -> tuple[str, ...]:
    """Who wrote again within one second: the one manager (of the status or of the rest) with the latest time,
    or "?" when several share it."""
    kind = {m: v for m, v in stamps.items() if m.endswith(" (status)") == status}
    latest = max((v.split()[-1] for v in kind.values()), default="")
    found = [m for m, v in kind.items() if v.split()[-1] == latest]
    return (found[0],) if len(found) == 1 else ("?",)


class DeploymentWrites:
    """Records the writes to Deployment `name` from `start()` until `stop()`, in order."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.apps = client.AppsV1Api(api)
        self.namespace, self.name = namespace, name
        self.writes: list[Write] = []
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"writes-{name}", daemon=True)
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()  # type: ignore[no-untyped-call]
        self._thread.join(timeout=40)
        if self._error is not None:
            raise AssertionError(f"the watch of Deployment {self.name} failed: {self._error!r}")

    def _run(self) -> None:
        version, seen, before = "", dict[str, str](), ""
        try:
            while not self._stopped.is_set():
                stream = self._watch.stream(  # type: ignore[no-untyped-call]
                    self.apps.list_namespaced_deployment, self.namespace,
                    field_selector=f"metadata.name={self.name}", resource_version=version, timeout_seconds=10,
                    allow_watch_bookmarks=False,
                )  # fmt: skip
                for event in stream:
                    obj = self.apps.api_client.sanitize_for_serialization(event["object"])
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] not in ("ADDED", "MODIFIED") or self._recorded(version):
                        continue
                    stamps, content = _stamps(obj), _content(obj)
                    changed = tuple(sorted(m for m, v in stamps.items() if seen.get(m) != v))
                    if not changed:  # a manager wrote again within the second its entry's time shows
                        changed = _latest(stamps, status=content == before)
                    seen, before = stamps, content
                    spec = obj["spec"]
                    image = spec["template"]["spec"]["containers"][0]["image"]
                    self.writes.append(Write(version, changed, spec.get("replicas"), bool(spec.get("paused")), image))
        except BaseException as error:  # reported by stop()
            if not self._stopped.is_set():
                self._error = error

    def _recorded(self, version: str) -> bool:
        return any(w.resource_version == version for w in self.writes)

    def per_manager(self) -> Counter[str]:
        """How many writes each manager took part in."""
        return Counter(m for w in self.writes for m in w.managers)

    def changes_by(self, manager: str) -> list[tuple[Write, Write]]:
        """The writes `manager` took part in that changed replicas, paused or the image: (before, after) pairs."""
        return [
            (before, after)
            for before, after in zip(self.writes, self.writes[1:], strict=False)
            if manager in after.managers
            and (before.replicas, before.paused, before.image) != (after.replicas, after.paused, after.image)
        ]
