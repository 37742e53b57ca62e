from __future__ import annotations

from collections.abc import Iterator

import pytest
from sealing import use_key


@pytest.fixture(autouse=True)
def seal_key() -> Iterator[None]:
    """Admission seals and checks seals: a key, as the operator loads one at start."""
    use_key(b"k" * 32)
    yield
