"""Runs as admission sees them, and the two webhooks applied in order (mutating, then validating)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from convoy.api.validation import FieldError
from convoy.handlers.admission import problems, stamp_patch

Obj = dict[str, Any]
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
UID = "0b7a6c1e-1111-2222-3333-444455556666"


def merge(body: Mapping[str, Any], patch: Mapping[str, Any]) -> Obj:
    """A JSON merge patch applied to a copy of `body`."""
    out = copy.deepcopy(dict(body))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def created(kind: str, body: Obj, user: Obj) -> Obj:
    """`body` as stored after a CREATE by `user` went through the mutating webhook (and the API server gave it a
    uid)."""
    stored = merge(body, stamp_patch(kind, body, None, user, NOW))
    stored["metadata"].setdefault("uid", UID)
    return stored


def updated(kind: str, old: Obj, new: Obj, user: Obj) -> Obj:
    """`new` after the mutating webhook saw an UPDATE of `old` to it."""
    return merge(new, stamp_patch(kind, new, old, user, NOW))


def appended(kind: str, old: Obj, user: Obj, *decisions: Obj) -> Obj:
    new = copy.deepcopy(old)
    new["spec"]["decisions"] = [*old["spec"].get("decisions", []), *decisions]
    return updated(kind, old, new, user)


def messages(found: list[FieldError]) -> list[str]:
    return [str(e) for e in found]


def check(kind: str, new: Obj, old: Obj | None, user: Obj) -> list[str]:
    return messages(problems(kind, new, old, user))
