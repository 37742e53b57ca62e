"""An in-memory index of WorkflowRuns by the workloads they deploy, fed by the watch, for the Queue policy:
one active run per target, later runs wait in creation order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge

QUEUED = Gauge("convoy_queued_runs", "WorkflowRuns waiting for another run of the same target.")


@dataclass
class Entry:
    namespace: str
    name: str
    created: str
    finished: bool
    targets: list[str] | None
    queued: bool = False
    # What the run metrics report (handlers/metrics.py). An inline workflow has no name to report (the status
    # names it after the run, and run names would make the series unbounded).
    workflow: str = ""
    type: str = ""
    phase: str = "Pending"
    weight: int | None = None


@dataclass
class RunIndex:
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)

    def observe(self, body: dict[str, Any]) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        key = (meta["namespace"], meta["name"])
        known = self.entries.get(key)
        targets = status.get("targets") or (known.targets if known else None)
        spec = body.get("spec") or {}
        self.entries[key] = Entry(
            namespace=key[0],
            name=key[1],
            created=meta.get("creationTimestamp", ""),
            finished=bool(status.get("result")),
            targets=targets,
            queued=status.get("phase") == "Queued",
            workflow=(spec.get("workflowRef") or {}).get("name") or "",
            type=status.get("type") or (spec.get("workflow") or {}).get("type") or "",
            phase=status.get("phase") or "Pending",
            weight=status.get("weight"),
        )
        self._count_queued()

    def remove(self, namespace: str, name: str) -> None:
        self.entries.pop((namespace, name), None)
        self._count_queued()

    def _count_queued(self) -> None:
        QUEUED.set(sum(e.queued and not e.finished for e in self.entries.values()))

    def set_targets(self, namespace: str, name: str, targets: list[str]) -> None:
        entry = self.entries.get((namespace, name))
        if entry is not None:
            entry.targets = targets

    def ahead_of(self, namespace: str, name: str, targets: list[str]) -> tuple[str, ...]:
        """Unfinished runs created before this one that deploy one of `targets` — or whose targets are not known
        yet, to be safe. They are named 'namespace/name'."""
        me = self.entries.get((namespace, name))
        if me is None:
            return ()
        mine = set(targets)
        ahead = [
            e
            for e in self.entries.values()
            if not e.finished
            and (e.created, e.namespace, e.name) < (me.created, me.namespace, me.name)
            and (e.targets is None or mine.intersection(e.targets))
        ]
        return tuple(f"{e.namespace}/{e.name}" for e in sorted(ahead, key=lambda e: (e.created, e.name)))

    def sharing(self, targets: list[str]) -> list[tuple[str, str]]:
        """Unfinished runs that deploy one of `targets` (to wake them when a run ends)."""
        mine = set(targets)
        return [
            (e.namespace, e.name)
            for e in self.entries.values()
            if not e.finished and (e.targets is None or mine.intersection(e.targets))
        ]
