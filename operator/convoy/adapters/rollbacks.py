"""Asking a WorkflowRun to roll back on behalf of a Rollback.

One JSON patch appends the Rollback decision to the run's `spec.decisions` and names the Rollback in the run's
`convoy.dev/rollback` annotation, on the version of the run that was read. The annotation says the decision is
there, so the decision is appended once however often this is called (after a restart, a conflict, a retry).
"""

from __future__ import annotations

from typing import Any

from convoy.adapters.resources import update
from convoy.planner.rollbacks import ANNOTATION

PLURAL = "workflowruns"


async def ensure_rollback_requested(namespace: str, run: str, rollback: str, decision: dict[str, Any]) -> bool:
    """The run carries `decision` and the annotation naming `rollback` (namespace/name); False if it is gone."""

    def ops(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get(ANNOTATION) == rollback:
            return None
        found = [{"op": "add", "path": "/metadata/annotations", "value": {**annotations, ANNOTATION: rollback}}]
        if "decisions" not in (obj.get("spec") or {}):
            found.append({"op": "add", "path": "/spec/decisions", "value": []})
        found.append({"op": "add", "path": "/spec/decisions/-", "value": decision})
        return found

    return await update(PLURAL, namespace, run, ops)
