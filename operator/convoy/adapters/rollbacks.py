"""Asking a WorkflowRun to roll back on behalf of a Rollback.

One JSON patch appends the Rollback decision to the run's `spec.decisions` and names the Rollback in the run's
`convoy.dev/rollback` annotation, on the version of the run that was read. The annotation says the decision is
there, so the decision is appended once however often this is called (after a restart, a conflict, a retry).
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters.kube import FIELD_MANAGER, api, call
from convoy.adapters.resources import Conflict, read
from convoy.api.common import GROUP, VERSION
from convoy.planner.rollbacks import ANNOTATION

PLURAL = "workflowruns"


async def ensure_rollback_requested(namespace: str, run: str, rollback: str, decision: dict[str, Any]) -> bool:
    """The run carries `decision` and the annotation naming `rollback` (namespace/name); False if it is gone."""
    for _ in range(5):
        obj = await read(PLURAL, namespace, run)
        if obj is None:
            return False
        meta, spec = obj["metadata"], obj.get("spec") or {}
        annotations = meta.get("annotations") or {}
        if annotations.get(ANNOTATION) == rollback:
            return True
        ops: list[dict[str, Any]] = [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "add", "path": "/metadata/annotations", "value": {**annotations, ANNOTATION: rollback}},
        ]
        if "decisions" not in spec:
            ops.append({"op": "add", "path": "/spec/decisions", "value": []})
        ops.append({"op": "add", "path": "/spec/decisions/-", "value": decision})
        try:
            custom = client.CustomObjectsApi(api())
            await call(
                "patch",
                PLURAL,
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, run, ops, field_manager=FIELD_MANAGER
                ),
            )
            return True
        except ApiException as error:
            if error.status != 409:
                raise
    raise Conflict(f"{PLURAL} {namespace}/{run} kept changing while asking it to roll back")
