"""Per-object reconcile scheduling: coalesces triggers, runs one reconcile at a time per object, and keeps one
timer per object for the next moment its plan asked to be woken (a pause ending, a timeout, a measurement).

Watch events and timers both land here, so nothing polls: an object is reconciled when something about it
changed or when a time it is waiting for has come.

Triggers come in two kinds. An urgent one (a watched workload of a run changed, a timer came due) starts its
reconcile at once: it is a run going on to its next step. A normal one (an object's own event: a run created, a
definition listed at startup) waits for one of `AT_ONCE` slots, in order. A burst of new objects (a thousand runs
applied at once, ten thousand Workflows at startup) then queues behind a few reconciles, instead of sharing the
event loop with all of them while the runs already going wait their turn in every round. A reconcile holds its
slot for `SLOT_SECONDS` at most, so a slow receiver of a notification or a slow metrics query never holds
the queue up.

The scheduler can be held (`hold`/`release`): while any hold is on, triggers and timers only mark objects dirty and
no reconcile starts (one in flight finishes its cycle). kopf's peering holds it on a replica that a higher-priority
peer paused (handlers/peering.py), so a standby never acts on a timer of its own; released, it reconciles every
object that was triggered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)
Key = tuple[str, str, str]  # (plural, namespace, name)
Reconcile = Callable[[Key], Awaitable[datetime | None]]

RECONCILE_SECONDS = Histogram("convoy_reconcile_seconds", "Time one reconcile of an object takes.", ["kind"])
RECONCILE_ERRORS = Counter("convoy_reconcile_errors", "Reconciles that failed and were retried later.", ["kind"])
WAITING = Gauge("convoy_reconciles_waiting", "Objects triggered and waiting for a slot to be reconciled.")
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
AT_ONCE = 64
"""Reconciles started by normal triggers that may run at once."""
SLOT_SECONDS = 1.0
"""How long a reconcile holds its slot at most (then it goes on beside the others)."""


def _own() -> contextvars.Context:
    """An empty context for each reconcile and timer: none inherits the impersonation (adapters/kube.py) of the
    code that triggered it."""
    return contextvars.Context()


class Scheduler:
    def __init__(self, reconcilers: dict[str, Reconcile] | None = None) -> None:
        self._reconcilers = dict(reconcilers or {})
        self._dirty: set[Key] = set()
        self._workers: dict[Key, asyncio.Task[None]] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._failures: dict[Key, int] = {}
        self._holds: set[str] = set()
        self._waiting: dict[Key, None] = {}  # normal triggers waiting for a slot, the oldest first
        self._slots = 0  # slots held

    @property
    def held(self) -> bool:
        return bool(self._holds)

    def hold(self, reason: str) -> None:
        """Start no reconcile until every hold is released."""
        self._holds.add(reason)

    def release(self, reason: str) -> None:
        self._holds.discard(reason)
        if not self._holds:
            for key in list(self._dirty):
                self._start(key, urgent=False)

    def register(self, plural: str, reconcile: Reconcile) -> None:
        """Who reconciles objects of `plural`; each handler module registers its own kind."""
        self._reconcilers[plural] = reconcile

    def trigger(self, key: Key, *, urgent: bool = False) -> None:
        """Reconcile `key` soon (`urgent`: now, without waiting for a slot); triggers that arrive while it is being
        reconciled cause one more pass."""
        self._dirty.add(key)
        if not self._holds:
            self._start(key, urgent=urgent)

    def _start(self, key: Key, *, urgent: bool) -> None:
        if key in self._workers:
            return
        if urgent or self._slots < AT_ONCE:
            self._waiting.pop(key, None)
            self._launch(key, slot=not urgent)
        else:
            self._waiting[key] = None
        WAITING.set(len(self._waiting))

    def _launch(self, key: Key, *, slot: bool) -> None:
        self._slots += slot
        self._workers[key] = asyncio.get_running_loop().create_task(self._work(key, slot), context=_own())

    def _free_slots(self) -> None:
        while self._waiting and self._slots < AT_ONCE and not self._holds:
            key = next(iter(self._waiting))
            del self._waiting[key]
            if key not in self._workers:
                self._launch(key, slot=True)
        WAITING.set(len(self._waiting))

    def wake_at(self, key: Key, moment: datetime) -> None:
        delay = max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.05
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key, context=_own())

    def forget(self, key: Key) -> None:
        """Drop the timer of `key` (it was reconciled with nothing to wait for, or deleted)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.trigger(key, urgent=True)

    async def _work(self, key: Key, slot: bool) -> None:
        held = [slot]

        def give_back() -> None:
            if held[0]:
                held[0] = False
                self._slots -= 1
                self._free_slots()

        if slot:
            timeout = asyncio.get_running_loop().call_later(SLOT_SECONDS, give_back)
        try:
            while key in self._dirty and not self._holds:
                self._dirty.discard(key)
                await self._once(key)
        finally:
            self._workers.pop(key, None)
            if slot:
                timeout.cancel()
                give_back()

    async def _once(self, key: Key) -> None:
        reconcile = self._reconcilers[key[0]]
        try:
            with RECONCILE_SECONDS.labels(key[0]).time():
                wake = await reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            RECONCILE_ERRORS.labels(key[0]).inc()
            failures = self._failures.get(key, 0)
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            self._failures[key] = failures + 1
            log.exception("reconcile of %s %s/%s failed; again in %.0fs", *key, delay)
            self.forget(key)
            self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key, context=_own())
            return
        self._failures.pop(key, None)
        if wake is not None:
            self.wake_at(key, wake)
        else:
            self.forget(key)

    async def stop(self) -> None:
        self._waiting.clear()
        for timer in self._timers.values():
            timer.cancel()
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
