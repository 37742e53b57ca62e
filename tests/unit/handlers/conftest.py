from __future__ import annotations

from collections.abc import Iterator

import pytest

from convoy.adapters import seals


@pytest.fixture(autouse=True)
def seal_key() -> Iterator[None]:
    """Admission seals and checks seals: a key, as the operator loads one at start."""
    seals.use(b"k" * 32)
    yield
