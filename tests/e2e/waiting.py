"""Polling helper for the e2e tests: clusters converge, so tests wait for a state instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    interval: float = 0.2,
    message: str = "condition was not met",
) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy, and return that (so a
    predicate returning ``X | None`` gives an ``X``).

    Raises AssertionError with ``message`` and the last value returned once ``timeout`` seconds have passed.
    Exceptions raised by ``predicate`` propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (timed out after {timeout:g}s; last value: {value!r})")
        time.sleep(interval)
