"""Seals: only a holder of the key makes them, each is bound to every part it seals, and replicas share one key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sealing import use_key

from convoy.adapters import seals


@pytest.fixture(autouse=True)
def key() -> None:
    use_key(b"k" * 32)


@pytest.mark.parametrize(
    ("mark_of", "checked"),
    [
        pytest.param(("decision", "uid-1", "0", "Approve"), ("decision", "uid-1", "0", "Approve"), id="same-parts"),
        pytest.param(("decision", "uid-1", "0", "Approve"), ("decision", "uid-2", "0", "Approve"), id="other-object"),
        pytest.param(("decision", "uid-1", "0", "Approve"), ("decision", "uid-1", "1", "Approve"), id="other-index"),
        pytest.param(("a", "bc"), ("ab", "c"), id="parts-do-not-run-together"),
    ],
)
def test_a_seal_is_valid_only_for_the_parts_it_sealed(mark_of: tuple[str, ...], checked: tuple[str, ...]) -> None:
    assert seals.valid(seals.seal(*mark_of), *checked) is (mark_of == checked)


@pytest.mark.parametrize(
    "mark", [pytest.param(None, id="missing"), pytest.param("", id="empty"), pytest.param("0" * 40, id="guessed")]
)
def test_no_seal_or_a_made_up_one_is_invalid(mark: str | None) -> None:
    assert not seals.valid(mark, "decision", "uid-1")


def test_another_key_makes_other_seals() -> None:
    mark = seals.seal("barrier", "uid-1", "meet", "failed")
    use_key(b"x" * 32)
    assert not seals.valid(mark, "barrier", "uid-1", "meet", "failed")


def test_the_key_file_is_made_once_private_and_then_shared(tmp_path: Path) -> None:
    path = tmp_path / "certs" / "seal.key"
    seals.load(path)
    first = seals.seal("x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    use_key(b"y" * 32)
    seals.load(path)  # a second replica (or a restart) reads the same key
    assert seals.seal("x") == first
    assert [p.name for p in path.parent.iterdir()] == ["seal.key"]


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "seal.key"
    path.write_text("short")
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        seals.load(path)
