"""Holding the scheduler while kopf's peering pauses this replica.

kopf pauses a replica when a live peer of higher (or equal) priority shows up in the peering object: it closes its
watch streams and stops calling handlers. Convoy's own scheduler (handlers/scheduler.py) has timers that kopf does
not know of, so it must be paused by the same decision, not by one of its own (two rules could disagree, and two
replicas would act). kopf keeps that decision in one toggle per peering object (`conflicts_found`), which it hands to
its peering processor; `follow` wraps that processor so every turn of the toggle holds or releases the scheduler.

kopf has no public hook for the pause (1.45): this reaches into `kopf._core.engines.peering` once, at import, and
fails loudly if that changes, rather than silently letting a paused replica act.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kopf._core.engines import peering as kopf_peering

__all__ = ["FollowedToggle", "Toggle", "follow", "kopf_peering"]

from convoy.handlers.scheduler import Scheduler

log = logging.getLogger(__name__)


class Toggle(Protocol):
    def is_on(self) -> bool: ...
    def is_off(self) -> bool: ...
    async def turn_to(self, state: bool, /) -> None: ...


class FollowedToggle:
    """kopf's peering toggle, seen by the scheduler: on (paused) holds it, off releases it."""

    def __init__(self, toggle: Toggle, scheduler: Scheduler, reason: str) -> None:
        self._toggle, self._scheduler, self._reason = toggle, scheduler, reason
        self.sync()

    def is_on(self) -> bool:
        return self._toggle.is_on()

    def is_off(self) -> bool:
        return self._toggle.is_off()

    async def turn_to(self, state: bool, /) -> None:
        await self._toggle.turn_to(state)
        self.sync()

    def sync(self) -> None:
        if self._toggle.is_on():
            if not self._scheduler.held:
                log.info("peering paused this replica (%s): its scheduler holds", self._reason)
            self._scheduler.hold(self._reason)
        else:
            self._scheduler.release(self._reason)


def follow(scheduler: Scheduler) -> None:
    """Make kopf's peering pause hold `scheduler`; held from now until the first peering event says otherwise
    (kopf, too, starts a replica with mandatory peering paused)."""
    original: Callable[..., Awaitable[None]] = kopf_peering.process_peering_event
    if getattr(original, "convoy_follows", False):
        return
    scheduler.hold("peering")

    async def process_peering_event(*, conflicts_found: Toggle | None = None, **kwargs: Any) -> None:
        if conflicts_found is not None:
            conflicts_found = FollowedToggle(conflicts_found, scheduler, f"peering {id(conflicts_found):x}")
            scheduler.release("peering")  # the toggle speaks for the peering from now on
        await original(conflicts_found=conflicts_found, **kwargs)

    process_peering_event.convoy_follows = True  # type: ignore[attr-defined]
    kopf_peering.process_peering_event = process_peering_event
