"""The operator process's shared state: the one scheduler every handler module registers its kinds with, the
index of WorkflowRuns by target, and the index of stage runs by PipelineRun. Created once per process, at import."""

from __future__ import annotations

from typing import Any

from convoy.handlers.cache import DeploymentCache
from convoy.handlers.index import RunIndex
from convoy.handlers.scheduler import Scheduler
from convoy.handlers.siblings import SiblingIndex

SCHEDULER = Scheduler()
RUNS: dict[tuple[str, str], dict[str, Any]] = {}
"""Each unfinished WorkflowRun as the watch (or the operator's own status write) last showed it, by (namespace,
name): a reconcile starts from it instead of reading the run again; a conflict on its status write reads afresh."""
OWN_WRITES: dict[tuple[str, str], str] = {}
"""The resourceVersion of each run's last status write by this process, by (namespace, name): the watch event that
brings it back is the operator's own write, and needs no reconcile."""
INDEX = RunIndex()
SIBLINGS = SiblingIndex()
DEPLOYMENTS = DeploymentCache()
