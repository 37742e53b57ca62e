"""The seal key for unit tests, loaded the way the operator loads it: from a key file."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from convoy.adapters import seals

_DIR = Path(tempfile.mkdtemp(prefix="convoy-seal-keys-"))


def use_key(key: bytes) -> None:
    """Load `key` (any bytes; a file of 64 hex digits derived from it) as the operator would its seal key."""
    path = _DIR / hashlib.sha256(key).hexdigest()
    if not path.exists():
        path.write_text(hashlib.sha256(key).hexdigest())
    seals.load(path)
