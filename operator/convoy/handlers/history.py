"""The revision history of each Workflow (`status.history`), written by the Workflow's own reconcile.

Why there, and not by the WorkflowRun handler right after a run's final status patch: the history is derived from
the runs (planner/history.py merges the finished runs into what the status holds), so a write lost to a crash or
a conflict between the run's patch and the Workflow's is simply made again by the next reconcile of the Workflow,
and nothing has to be replayed. The run handler stays about one run. A run that ends (or is rolled back after
it succeeded) triggers a reconcile of its Workflow (handlers/operator.py), and kopf lists every Workflow when the
operator starts, so runs that finished while it was down are merged then. The history lives in the Workflow's
status, so it survives restarts and the deletion of the runs it names: that is what lets the same reconcile delete
finished runs beyond the Workflow's `runHistoryLimit` (after their deployments are in the stored history).

Runs are listed in the Workflow's namespace: a run of this Workflow from another namespace (a cross-namespace
`workflowRef`) is not part of its history.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from convoy.adapters import resources
from convoy.api.history import Revision, WorkflowStatus
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.history import RunView, merge, surplus
from convoy.planner.rollbacks import ANNOTATION as ROLLBACK_ANNOTATION

log = logging.getLogger(__name__)
DEFAULT_LIMIT = WorkflowSpec.model_fields["revision_history_limit"].default


def view(body: dict[str, Any]) -> RunView | None:
    """A listed WorkflowRun as the planner reads it; None when its spec or status cannot be read."""
    meta = body["metadata"]
    try:
        spec = WorkflowRunSpec.model_validate(body.get("spec") or {})
        status = WorkflowRunStatus.model_validate(body.get("status") or {})
    except ValidationError:
        log.warning(
            "workflowrun %s/%s is unreadable: left out of histories and rollbacks", meta["namespace"], meta["name"]
        )
        return None
    return RunView(
        meta["name"], meta["namespace"], spec, status, dict(meta.get("annotations") or {}), meta.get("uid", "")
    )


async def runs_in(namespace: str) -> list[RunView]:
    return [v for v in (view(body) for body in await resources.list_all("workflowruns", namespace)) if v is not None]


def recorded(body: dict[str, Any]) -> list[Revision]:
    """The history a Workflow's status holds (empty when there is none, or it cannot be read)."""
    try:
        return WorkflowStatus.model_validate(body.get("status") or {}).history
    except ValidationError:
        return []


def workflow_spec(body: dict[str, Any]) -> WorkflowSpec | InvalidSpec:
    try:
        spec = parse_spec("Workflow", body.get("spec"))
    except InvalidSpec as invalid:
        return invalid
    assert isinstance(spec, WorkflowSpec)
    return spec


async def with_history(body: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The Workflow's status (wire form) with its history brought up to date from the namespace's runs."""
    meta = body["metadata"]
    spec = workflow_spec(body)
    limit = spec.revision_history_limit if isinstance(spec, WorkflowSpec) else DEFAULT_LIMIT
    mine = [r for r in await runs_in(meta["namespace"]) if r.runs(meta["namespace"], meta["name"])]
    entries = merge(recorded(body), mine, limit)
    if isinstance(spec, WorkflowSpec) and spec.run_history_limit is not None:
        await _collect(mine, spec.run_history_limit, recorded(body))
    return {**status, "history": [e.to_wire() for e in entries]} if entries else status


async def _collect(runs: list[RunView], keep: int, history: list[Revision]) -> None:
    """Delete the finished runs beyond `runHistoryLimit`. Only runs whose deployment the stored history already
    holds go, so a crash between this and the status write loses nothing: the next reconcile writes the entries,
    and the one after deletes their runs."""
    followed = frozenset(r.name for r in runs if ROLLBACK_ANNOTATION in r.annotations)
    for run in surplus(runs, keep=keep, history=history, followed=followed):
        if await resources.delete("workflowruns", run.namespace, run.name, run.uid):
            log.info(
                "workflowrun %s/%s deleted: beyond its Workflow's runHistoryLimit (%d)", run.namespace, run.name, keep
            )


def ended_with_workflow(body: dict[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the Workflow whose history a run event may change: the run has a result and runs a
    Workflow by reference."""
    ref = (body.get("spec") or {}).get("workflowRef") or {}
    if not (body.get("status") or {}).get("result") or not ref.get("name"):
        return None
    return ref.get("namespace") or body["metadata"]["namespace"], ref["name"]
