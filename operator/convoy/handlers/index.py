"""An in-memory index of WorkflowRuns by the workloads they deploy, fed by the watch, for the Queue policy:
one active run per target, later runs wait in creation order.

Creation order is the API server's `creationTimestamp` (which nobody can set, but which counts whole seconds), then,
among runs created in the same second, the moment admission let each in (`convoy.dev/admitted-at`, nanoseconds,
handlers/admission.py), then the name. An admission stamp counts only with its seal: a run without one (created
while the webhooks were bypassed, or with the stamp edited) queues after the sealed runs of its second, so a forged
stamp can only lose a place, never gain one. Three runs c, b, a created in that order in one second queue c, b, a.

A target is a Deployment, keyed 'namespace/name', so runs queue only behind runs of the same workload. A run whose
targets are not known yet (its workflow not resolved) queues behind nothing and makes nobody wait: an unresolvable
run in one namespace must not stall every other namespace. Once it knows its targets it waits like any other, and
behind any run of those targets that has already started, even a later one: two runs never change one workload
at once.

The operator may also cap how many runs progress (have started and not ended: they change workloads) at once,
cluster-wide and per namespace (`--max-progressing-runs`, `--max-progressing-runs-per-namespace`). A run that may
start as far as its targets go then waits for a slot, in the same creation order: `slot_wait` gives its place among
those waiting and why. Runs queued behind a run of their own target take no slot and keep no place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge

from convoy.handlers.admission import admitted
from convoy.planner.observed import SlotWait

QUEUED = Gauge("convoy_queued_runs", "WorkflowRuns waiting for another run of the same target.")


@dataclass
class Entry:
    namespace: str
    name: str
    created: str
    finished: bool
    targets: list[str] | None
    admitted: int | None = None  # nanoseconds, from a sealed admission stamp
    started: bool = False
    queued: bool = False
    waits_for_slot: bool = False
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
            admitted=admitted("WorkflowRun", body),
            started=bool(status.get("startedAt")) or bool(known and known.started),  # an older event cannot un-start it
            queued=status.get("phase") == "Queued",
            waits_for_slot=status.get("queueReason") == "ProgressLimit" and not status.get("result"),
            workflow=(spec.get("workflowRef") or {}).get("name") or "",
            type=status.get("type") or (spec.get("workflow") or {}).get("type") or "",
            phase=status.get("phase") or "Pending",
            weight=status.get("weight"),
        )
        self._count_queued()

    def remove(self, namespace: str, name: str) -> Entry | None:
        """Forget a run; what was known of it (its targets, to wake the runs that waited for it)."""
        gone = self.entries.pop((namespace, name), None)
        self._count_queued()
        return gone

    def _count_queued(self) -> None:
        QUEUED.set(sum(e.queued and not e.finished for e in self.entries.values()))

    def claim(self, namespace: str, name: str, targets: list[str], *, exclusive: bool = True) -> tuple[str, ...]:
        """Start a run on `targets`, unless it queues (`exclusive`: the Queue policy) and another run took one of
        them since the run was observed: the runs it must wait for then, else () and the run counts as started from
        now on. Called between a plan that starts the run and the status write that records it, with no await in
        between, so of two runs planned at the same time only the first to get here starts."""
        ahead = self.ahead_of(namespace, name, targets) if exclusive else ()
        entry = self.entries.get((namespace, name))
        if not ahead and entry is not None:
            entry.targets, entry.started = targets, True
        return ahead

    def set_targets(self, namespace: str, name: str, targets: list[str]) -> None:
        entry = self.entries.get((namespace, name))
        if entry is not None:
            entry.targets = targets

    def ahead_of(self, namespace: str, name: str, targets: list[str]) -> tuple[str, ...]:
        """The unfinished runs a run that has not started waits for: those that deploy one of `targets` and were
        created before it or have started. Runs whose targets are not known yet are not among them. They are named
        'namespace/name', in creation order."""
        me = self.entries.get((namespace, name))
        if me is None:
            return ()
        ahead = [e for e in self._deploying(targets) if e is not me and (e.started or _order(e) < _order(me))]
        return tuple(f"{e.namespace}/{e.name}" for e in sorted(ahead, key=_order))

    def sharing(self, targets: list[str]) -> list[tuple[str, str]]:
        """Unfinished runs known to deploy one of `targets` (to wake them when a run ends; a trigger waits while
        there are any)."""
        return [(e.namespace, e.name) for e in self._deploying(targets)]

    def slot_wait(self, namespace: str, name: str, *, limit: int, per_namespace: int) -> SlotWait | None:
        """Whether a run that has not started, and waits for no run of its targets, must wait for the limit on runs
        progressing at once (0: no limit), and its place among the runs waiting for a slot. The runs that may start
        are the first ones, in creation order, of as many as there are free slots."""
        me = self.entries.get((namespace, name))
        if me is None or me.started or me.finished or not (limit or per_namespace):
            return None
        unstarted = sorted((e for e in self.entries.values() if not e.started and not e.finished), key=_order)
        candidates = [e for e in unstarted if e is me or not self.ahead_of(e.namespace, e.name, e.targets or [])]
        progressing = [e for e in self.entries.values() if e.started and not e.finished]
        waits = []
        for cap, scope, mine in (
            (limit, "in the cluster", lambda e: True),
            (per_namespace, f"in namespace {namespace}", lambda e: e.namespace == namespace),
        ):
            if not cap:
                continue
            busy = sum(map(mine, progressing))
            rank = [e for e in candidates if mine(e)].index(me) + 1
            if rank > cap - busy:
                waits.append((rank - max(cap - busy, 0), busy, cap, scope))
        if not waits:
            return None
        position, busy, cap, scope = max(waits)
        return SlotWait(
            position=position,
            reason=f"waiting for a slot: {busy} runs progressing {scope}, at most {cap} at once (position {position})",
        )

    def waiting_for_slots(self) -> list[tuple[str, str]]:
        """Runs waiting for the limit on runs progressing at once (to wake them when a run ends)."""
        return [(e.namespace, e.name) for e in self.entries.values() if e.waits_for_slot]

    def _deploying(self, targets: list[str]) -> list[Entry]:
        mine = set(targets)
        return [e for e in self.entries.values() if not e.finished and e.targets and mine.intersection(e.targets)]


def _order(entry: Entry) -> tuple[str, bool, int, str, str]:
    """Creation order: the second the API server recorded, then the sealed admission time (runs without one last
    in their second), then the name."""
    return (entry.created, entry.admitted is None, entry.admitted or 0, entry.namespace, entry.name)
