"""The attack tests' fixtures live in attacks.py (a module of its own, so type checking tells it apart from the
suite's conftest.py); pytest finds them through this import."""

from attacks import attacker, victim  # noqa: F401
