"""The GitOps tests' fixtures live in flux.py (a module of its own, so type checking tells it apart from the
suite's conftest.py); pytest finds them through this import."""

from flux import flux, gitops  # noqa: F401
