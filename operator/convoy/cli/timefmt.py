"""Durations and deadlines as the plugin prints them ('45s', '4m10s', '1h2m', '3d4h'). Pure: `now` is given."""

from __future__ import annotations

from datetime import datetime


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as the API server and the operator write them; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def duration(seconds: float) -> str:
    """'45s', '4m10s', '25m', '1h2m' or '3d4h'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return _pair(s // 60, "m", s % 60, "s")
    if s < 86400:
        return _pair(s // 3600, "h", s % 3600 // 60, "m")
    return _pair(s // 86400, "d", s % 86400 // 3600, "h")


def _pair(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}{small}{small_unit}" if small else f"{big}{big_unit}"


def elapsed(started: str | None, finished: str | None, now: datetime) -> str | None:
    """How long something took, or has taken so far when it has not finished; None when it has not started."""
    start = parse_time(started)
    if start is None:
        return None
    end = parse_time(finished) or now
    return duration((end - start).total_seconds())


def until(deadline: str | None, now: datetime) -> str | None:
    """'2025-06-01T12:30:00Z (in 25m0s)', or '... (overdue)' once it has passed."""
    moment = parse_time(deadline)
    if moment is None:
        return None
    left = (moment - now).total_seconds()
    return f"{deadline} ({'in ' + duration(left) if left > 0 else 'overdue'})"
