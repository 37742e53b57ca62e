"""The WorkflowRuns of pipeline stages: created once by name with a seal that says which PipelineRun and stage
they were created for, read back by name and recognised by that seal, told to abort."""

from __future__ import annotations

import copy
from typing import Any

from convoy.adapters import seals
from convoy.adapters.kube import ApiError, path, request
from convoy.adapters.owner import Owner
from convoy.adapters.resources import API_VERSION, update
from convoy.planner.stages import AbortStageRun, CreateStageRun

PLURAL = "workflowruns"
STAGE_SEAL = "convoy.dev/stage-seal"
"""Annotation on a stage's run: the seal over the PipelineRun's uid and the stage's name. Owner references cannot
cross namespaces, and anyone who may create a WorkflowRun can write one; only Convoy can make this."""


def stage_seal_parts(pipeline_run_uid: str, stage: str, meta: dict[str, Any]) -> tuple[str, ...]:
    """What a stage seal covers: the PipelineRun, the stage, and where the run is and its name, so a seal copied
    onto another run (another name, another namespace) is worth nothing."""
    return ("stage", pipeline_run_uid, stage, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def created_for(body: dict[str, Any], pipeline_run: Owner, stage: str) -> bool:
    """Whether Convoy created this WorkflowRun for `stage` of `pipeline_run`: it carries the seal over the
    PipelineRun's uid and the stage, and, in the PipelineRun's namespace, the PipelineRun owns it."""
    meta = body["metadata"]
    if not seals.valid(
        (meta.get("annotations") or {}).get(STAGE_SEAL), *stage_seal_parts(pipeline_run.uid, stage, meta)
    ):
        return False
    if meta["namespace"] != pipeline_run.namespace:
        return True
    return any(ref.get("uid") == pipeline_run.uid for ref in meta.get("ownerReferences") or [])


async def ensure_stage_run(owner: Owner, action: CreateStageRun) -> str | None:
    """Create the stage's run; its uid, or None when a run of that name exists already (the PipelineRun reads it
    next cycle, and adopts it only if it was created for it)."""
    body = copy.deepcopy(action.manifest)
    stage = body["spec"]["pipelineRunRef"]["stage"]
    body["metadata"].setdefault("annotations", {})[STAGE_SEAL] = seals.seal(
        *stage_seal_parts(owner.uid, stage, body["metadata"])
    )
    if action.owned:
        body["metadata"]["ownerReferences"] = [owner.reference()]
    namespace = body["metadata"]["namespace"]
    try:
        created = await request("create", PLURAL, "POST", path(API_VERSION, PLURAL, namespace), body=body)
    except ApiError as error:
        if error.status == 409:
            return None
        raise
    return str(created["metadata"]["uid"])


async def abort_stage_run(action: AbortStageRun) -> None:
    """Append an Abort decision, unless the run is gone, has finished, or was told to abort already. The patch
    applies only to the version that was read (409 otherwise), so two writers never both append."""

    def ops(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
        decisions = (obj.get("spec") or {}).get("decisions")
        if (obj.get("status") or {}).get("result") or any(d.get("action") == "Abort" for d in decisions or []):
            return None
        found: list[dict[str, Any]] = (
            [] if decisions is not None else [{"op": "add", "path": "/spec/decisions", "value": []}]
        )
        found.append({"op": "add", "path": "/spec/decisions/-", "value": {"action": "Abort", "reason": action.reason}})
        return found

    await update(PLURAL, action.namespace, action.name, ops)
