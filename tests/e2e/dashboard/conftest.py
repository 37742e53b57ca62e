"""The dashboard tests' fixtures live in browser.py (a module of its own, so type checking tells it apart from the
suite's conftest.py) and test_pipelines.py (the regions); pytest finds them through this import."""

from browser import chromium, page  # noqa: F401
from test_pipelines import regions  # noqa: F401
