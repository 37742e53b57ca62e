"""Seals: HMACs that only the operator can make, over what a record says and which object it belongs to.

A decision's author, a barrier mark and a snapshot are written into objects that tenants can also write. The
admission webhooks keep forged values out while they run; a seal keeps them out even when the webhooks are gone
(deleted by hand, or an API server that skipped them), because nobody without the key can compute one. The key
is a Secret in the operator's namespace (the chart makes it once), or a file the operator generates beside its
webhook certificates when run outside a cluster.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

_key: bytes | None = None


def load(path: Path) -> None:
    """Read the key from `path`, generating it there first (mode 0600) if the file does not exist."""
    global _key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: a replica starting at the same moment
        # either links first or finds the other's complete key, never a half-written one.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise ValueError(f"the seal key in {path} is shorter than 32 bytes")
    _key = key


def seal(*parts: str) -> str:
    """The seal of `parts` (order matters; each part is length-prefixed so no two lists of parts collide)."""
    if _key is None:
        raise RuntimeError("the seal key is not loaded")
    message = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
    return hmac.new(_key, message, hashlib.sha256).hexdigest()[:40]


def valid(mark: str | None, *parts: str) -> bool:
    """Whether `mark` is the seal of `parts`, compared in constant time."""
    return bool(mark) and hmac.compare_digest(str(mark), seal(*parts))
