"""Timestamps as the status stores them (RFC 3339, UTC, seconds) and arithmetic on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from convoy.api.common import seconds


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def after(start: str, duration: str | float) -> datetime:
    """`start` plus a Duration string or a number of seconds."""
    delta = seconds(duration) if isinstance(duration, str) else duration
    return parse(start) + timedelta(seconds=delta)
