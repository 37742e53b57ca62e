"""Per-object reconcile scheduling: coalesces triggers, runs one reconcile at a time per object, and keeps one
timer per object for the next moment its plan asked to be woken (a pause ending, a timeout, a measurement).

Watch events and timers both land here, so nothing polls: an object is reconciled when something about it
changed or when a time it is waiting for has come.

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

from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)
Key = tuple[str, str, str]  # (plural, namespace, name)
Reconcile = Callable[[Key], Awaitable[datetime | None]]

RECONCILE_SECONDS = Histogram("convoy_reconcile_seconds", "Time one reconcile of an object takes.", ["kind"])
RECONCILE_ERRORS = Counter("convoy_reconcile_errors", "Reconciles that failed and were retried later.", ["kind"])
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


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
                self._start(key)

    def register(self, plural: str, reconcile: Reconcile) -> None:
        """Who reconciles objects of `plural`; each handler module registers its own kind."""
        self._reconcilers[plural] = reconcile

    def trigger(self, key: Key) -> None:
        """Reconcile `key` soon; triggers that arrive while it is being reconciled cause one more pass."""
        self._dirty.add(key)
        if not self._holds:
            self._start(key)

    def _start(self, key: Key) -> None:
        if key not in self._workers:
            self._workers[key] = asyncio.get_running_loop().create_task(self._work(key), context=_own())

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
        self.trigger(key)

    async def _work(self, key: Key) -> None:
        try:
            while key in self._dirty and not self._holds:
                self._dirty.discard(key)
                await self._once(key)
        finally:
            self._workers.pop(key, None)

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
        for timer in self._timers.values():
            timer.cancel()
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
