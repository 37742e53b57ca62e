"""The operator process's shared state: the one scheduler every handler module registers its kinds with, and
the index of WorkflowRuns by target. Created once per process, at import."""

from __future__ import annotations

from convoy.handlers.index import RunIndex
from convoy.handlers.scheduler import Scheduler

SCHEDULER = Scheduler()
INDEX = RunIndex()
