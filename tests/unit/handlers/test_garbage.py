"""The garbage collector's tuning: a young generation large enough that short-lived objects die in it, what the
process built before it runs frozen out of collections, and every pause timed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from convoy.handlers import garbage


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    if garbage._timed in gc.callbacks:
        gc.callbacks.remove(garbage._timed)


def pauses(generation: int) -> float:
    for metric in garbage.PAUSES.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels == {"generation": str(generation)}:
                return sample.value
    return 0.0


def test_tuning_sets_the_thresholds_freezes_and_times_each_collection(restored: None) -> None:
    garbage.tune()
    garbage.tune()  # twice: still one callback
    before = pauses(2)
    assert gc.get_threshold() == garbage.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert gc.callbacks.count(garbage._timed) == 1
    gc.collect()
    assert pauses(2) == before + 1


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_freezing_collects_the_dead_cycles_first(restored: None) -> None:
    gc.disable()  # no collection but the one under test
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first
        dead = weakref.ref(first)
        del first, second
        assert dead() is not None  # a cycle: only the collector frees it
        garbage.freeze()
        assert dead() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
