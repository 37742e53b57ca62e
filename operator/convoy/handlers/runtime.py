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
OWN_WRITES: dict[tuple[str, str, str], str] = {}
"""The resourceVersion of the last status write by this process to each run, Workflow and Pipeline, by (plural,
namespace, name): the watch event that brings it back is the operator's own write, and needs no reconcile."""
INDEX = RunIndex()
SIBLINGS = SiblingIndex()
DEPLOYMENTS = DeploymentCache()


def trigger_unless_own(plural: str, body: Any) -> None:
    """Reconcile the object of a watch event, unless the event only brings back this process's own status write,
    which was planned from what the reconcile saw already."""
    key = (plural, body["metadata"]["namespace"], body["metadata"]["name"])
    if OWN_WRITES.pop(key, None) != body["metadata"].get("resourceVersion"):
        SCHEDULER.trigger(key)
