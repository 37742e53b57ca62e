"""The scheduler: triggers coalesce, one reconcile at a time per object, timers wake objects, failures back off,
and a hold (kopf's peering pause) starts no reconcile until it is released."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from convoy.handlers import peering
from convoy.handlers.scheduler import Key, Scheduler

RUN: Key = ("workflowruns", "shop", "r1")
OTHER: Key = ("workflowruns", "shop", "r2")


class Recorder:
    """A reconcile that records whom it reconciled, optionally slow, failing, or asking to be woken."""

    def __init__(self, *, delay: float = 0.0, fail: int = 0, wake_in: float | None = None) -> None:
        self.calls: list[Key] = []
        self.delay, self.fail, self.wake_in = delay, fail, wake_in
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, key: Key) -> datetime | None:
        self.calls.append(key)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.running -= 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the API server refused")
        if self.wake_in is not None:
            wake = datetime.now(UTC) + timedelta(seconds=self.wake_in)
            self.wake_in = None
            return wake
        return None


async def settle(seconds: float = 0.02) -> None:
    await asyncio.sleep(seconds)


@pytest.mark.parametrize(
    ("triggers", "expected"),
    [
        pytest.param([RUN], [RUN], id="one-trigger-one-reconcile"),
        pytest.param([RUN, RUN, RUN], [RUN], id="triggers-before-it-starts-coalesce"),
        pytest.param([RUN, OTHER], [RUN, OTHER], id="objects-reconcile-independently"),
    ],
)
async def test_triggers_coalesce(triggers: list[Key], expected: list[Key]) -> None:
    reconcile = Recorder(delay=0.01)
    scheduler = Scheduler({"workflowruns": reconcile})
    for key in triggers:
        scheduler.trigger(key)
    await settle(0.1)
    assert sorted(reconcile.calls) == sorted(expected)
    await scheduler.stop()


async def test_triggers_during_a_reconcile_cause_one_more() -> None:
    reconcile = Recorder(delay=0.03)
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.trigger(RUN)
    await settle(0.01)
    scheduler.trigger(RUN)
    scheduler.trigger(RUN)
    await settle(0.15)
    assert reconcile.calls == [RUN, RUN]
    await scheduler.stop()


async def test_one_reconcile_at_a_time_per_object() -> None:
    reconcile = Recorder(delay=0.02)
    scheduler = Scheduler({"workflowruns": reconcile})
    for _ in range(5):
        scheduler.trigger(RUN)
        await settle(0.005)
    await settle(0.1)
    assert reconcile.most_at_once == 1
    await scheduler.stop()


async def test_a_plan_that_asks_to_be_woken_is_reconciled_again() -> None:
    reconcile = Recorder(wake_in=0.0)
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.trigger(RUN)
    await settle(0.15)
    assert reconcile.calls == [RUN, RUN]
    await scheduler.stop()


async def test_a_failed_reconcile_is_retried_after_a_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("convoy.handlers.scheduler.RETRY_DELAYS", (0.01, 0.02))
    reconcile = Recorder(fail=2)
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.trigger(RUN)
    await settle(0.15)
    assert reconcile.calls == [RUN, RUN, RUN]
    await scheduler.stop()


async def test_forgetting_drops_the_timer() -> None:
    reconcile = Recorder()
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.wake_at(RUN, datetime.now(UTC))
    scheduler.forget(RUN)
    await settle(0.1)
    assert reconcile.calls == []


def runs(count: int) -> list[Key]:
    return [("workflowruns", "shop", f"r{i}") for i in range(count)]


def filled(monkeypatch: pytest.MonkeyPatch, slots: int, delay: float, count: int) -> tuple[Recorder, Scheduler]:
    """A scheduler of `slots` slots, with `count` normal triggers of runs whose reconciles take `delay` seconds."""
    monkeypatch.setattr("convoy.handlers.scheduler.AT_ONCE", slots)
    reconcile = Recorder(delay=delay)
    scheduler = Scheduler({"workflowruns": reconcile})
    for key in runs(count):
        scheduler.trigger(key)
    return reconcile, scheduler


async def test_normal_triggers_beyond_the_slots_wait_and_start_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    reconcile, scheduler = filled(monkeypatch, 2, 0.05, 5)
    await settle(0.01)
    assert reconcile.calls == runs(2)
    await settle(0.3)
    assert (reconcile.calls, reconcile.most_at_once) == (runs(5), 2)
    await scheduler.stop()


@pytest.mark.parametrize("cause", ["trigger", "timer"])
async def test_an_urgent_trigger_does_not_wait_for_a_slot(monkeypatch: pytest.MonkeyPatch, cause: str) -> None:
    """A run whose workload just became ready (or whose pause just ended) goes on at once, even while a burst of
    new runs fills every slot."""
    reconcile, scheduler = filled(monkeypatch, 2, 0.1, 4)
    going = ("workflowruns", "shop", "going")
    if cause == "trigger":
        scheduler.trigger(going, urgent=True)
    else:
        scheduler.wake_at(going, datetime.now(UTC))
    await settle(0.08)
    assert reconcile.calls == [*runs(2), going]
    await scheduler.stop()


async def test_a_slow_reconcile_gives_its_slot_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reconcile waiting on a slow receiver holds the queue up for SLOT_SECONDS at most."""
    monkeypatch.setattr("convoy.handlers.scheduler.SLOT_SECONDS", 0.05)
    reconcile, scheduler = filled(monkeypatch, 1, 0.5, 2)
    await settle(0.02)
    assert reconcile.calls == runs(1)
    await settle(0.1)
    assert (reconcile.calls, reconcile.running) == (runs(2), 2)
    await scheduler.stop()


@pytest.mark.parametrize(
    "cause",
    [
        pytest.param("trigger", id="watch-event-while-held"),
        pytest.param("timer", id="timer-firing-while-held"),
    ],
)
async def test_a_held_scheduler_starts_nothing_until_released(cause: str) -> None:
    reconcile = Recorder()
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.hold("peering")
    if cause == "trigger":
        scheduler.trigger(RUN)
    else:
        scheduler.wake_at(RUN, datetime.now(UTC))
    await settle(0.1)
    assert reconcile.calls == []
    scheduler.release("peering")
    await settle()
    assert reconcile.calls == [RUN]
    await scheduler.stop()


async def test_a_hold_stops_an_object_between_cycles() -> None:
    """A reconcile in flight finishes; the trigger that arrived meanwhile waits for the release."""
    reconcile = Recorder(delay=0.03)
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.trigger(RUN)
    await settle(0.01)
    scheduler.trigger(RUN)
    scheduler.hold("peering")
    await settle(0.1)
    assert reconcile.calls == [RUN]
    scheduler.release("peering")
    await settle(0.1)
    assert reconcile.calls == [RUN, RUN]
    await scheduler.stop()


async def test_every_hold_must_be_released() -> None:
    reconcile = Recorder()
    scheduler = Scheduler({"workflowruns": reconcile})
    scheduler.hold("a")
    scheduler.hold("b")
    scheduler.trigger(RUN)
    scheduler.release("a")
    await settle()
    assert (scheduler.held, reconcile.calls) == (True, [])
    scheduler.release("b")
    await settle()
    assert (scheduler.held, reconcile.calls) == (False, [RUN])
    await scheduler.stop()


class KopfToggle:
    def __init__(self, on: bool) -> None:
        self.on = on

    def is_on(self) -> bool:
        return self.on

    def is_off(self) -> bool:
        return not self.on

    async def turn_to(self, state: bool, /) -> None:
        self.on = state


@pytest.mark.parametrize(
    ("initially", "turns", "held"),
    [
        pytest.param(True, [], True, id="kopf-starts-paused"),
        pytest.param(True, [False], False, id="no-higher-peer-resumes"),
        pytest.param(False, [True], True, id="higher-priority-peer-pauses"),
        pytest.param(False, [True, False], False, id="the-higher-peer-left"),
    ],
)
async def test_the_peering_toggle_holds_the_scheduler(initially: bool, turns: list[bool], held: bool) -> None:
    scheduler = Scheduler()
    toggle = peering.FollowedToggle(KopfToggle(initially), scheduler, "peering")
    for state in turns:
        await toggle.turn_to(state)
    assert scheduler.held is held


async def test_follow_wraps_kopfs_peering_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    """kopf calls its processor with the toggle it turns; the scheduler is held from the start (kopf starts a
    replica with mandatory peering paused) and then follows that toggle."""
    seen: list[bool] = []

    async def process_peering_event(*, conflicts_found: peering.Toggle | None = None, **_: object) -> None:
        assert conflicts_found is not None
        await conflicts_found.turn_to(True)
        seen.append(conflicts_found.is_on())

    monkeypatch.setattr(peering.kopf_peering, "process_peering_event", process_peering_event)
    scheduler = Scheduler()
    peering.follow(scheduler)
    assert scheduler.held
    process: Callable[..., Awaitable[None]] = peering.kopf_peering.process_peering_event
    toggle = KopfToggle(False)
    await process(conflicts_found=toggle)
    assert (seen, scheduler.held) == ([True], True)
    await toggle.turn_to(False)  # kopf's own turn, not through the processor: seen at the next event
    await process(conflicts_found=KopfToggle(False))
    assert scheduler.held  # the new toggle was turned on by the processor
