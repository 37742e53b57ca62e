"""The garbage collector's settings for the operator's one event loop, and a histogram of its pauses.

CPython's defaults (a young collection every 700 allocations) promote to the oldest generation every object that
lives a few milliseconds, and an event loop holding a thousand runs in flight has many: watch events' bodies,
requests waiting for their answers. A full collection follows whenever that generation grew by a quarter, and it
stops the loop. Measured with 10,000 Workflows and 1,000 active runs: four full collections a second, 150-500 ms
each, two thirds of the operator's CPU, and every step that became ready meanwhile waited for them.

So the young generation holds 50,000 objects, most of which die in it (10,000 lowered the peak RSS of a hundred
rollouts by 6 MiB, but brought bench-scale's p99 per step from 38 ms to 1.3 s), and full collections are five times rarer than CPython's default. What lives as long as the
process is frozen out of every collection: the modules and handlers at start, and what the first two minutes built
(the watches' memory of every object, the caches), which made a full collection of that operator take 40-90 ms
instead of 150.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

THRESHOLDS = (50_000, 20, 100)
SETTLED_AFTER = 120.0
"""Seconds after start when what the operator holds is mostly what it will hold (then frozen: `freeze`)."""
PAUSES = Histogram(
    "convoy_gc_pause_seconds",
    "Time the garbage collector stopped the operator, by generation collected.",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
_started: list[float] = [0.0]


def tune() -> None:
    """Set the thresholds, freeze what the process has built so far, and time every collection from now on."""
    gc.set_threshold(*THRESHOLDS)
    gc.collect()
    gc.freeze()
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


def freeze() -> None:
    """Take every object alive now out of the collections to come. It is still freed when nothing refers to it;
    only a reference cycle among such objects would outlive the process's start, and they are long-lived. The
    cycles already dead are collected first: frozen, they would be kept for good."""
    gc.collect()
    gc.freeze()


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - _started[0])
