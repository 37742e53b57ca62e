"""The operator process's shared state: the one scheduler every handler module registers its kinds with, the
index of WorkflowRuns by target, and the index of stage runs by PipelineRun. Created once per process, at import."""

from __future__ import annotations

from convoy.handlers.index import RunIndex
from convoy.handlers.scheduler import Scheduler
from convoy.handlers.siblings import SiblingIndex

SCHEDULER = Scheduler()
INDEX = RunIndex()
SIBLINGS = SiblingIndex()
