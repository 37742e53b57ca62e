"""The WorkflowRuns of pipeline stages: created once by name, found by label in every namespace, told to abort."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from convoy.adapters.kube import api, call, create_once
from convoy.adapters.owner import Owner
from convoy.adapters.resources import Conflict, read
from convoy.api.common import GROUP, VERSION
from convoy.planner.stages import AbortStageRun, CreateStageRun

PLURAL = "workflowruns"


def _custom() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api())


async def list_labelled(labels: dict[str, str], namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every WorkflowRun that carries all of `labels`: in any namespace, or in each of `namespaces` (an operator
    that watches some namespaces only may list only there)."""
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    if not namespaces:
        result = await call(
            "list", PLURAL, _custom().list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector=selector)
        )
        return list(result.get("items", []))
    found: list[dict[str, Any]] = []
    for namespace in namespaces:
        request = _custom().list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, label_selector=selector)
        found.extend((await call("list", PLURAL, request)).get("items", []))
    return found


async def ensure_stage_run(owner: Owner, action: CreateStageRun) -> None:
    body = copy.deepcopy(action.manifest)
    if action.owned:
        body["metadata"]["ownerReferences"] = [owner.reference()]
    namespace = body["metadata"]["namespace"]
    await create_once(PLURAL, _custom().create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body))


async def abort_stage_run(action: AbortStageRun) -> None:
    """Append an Abort decision, unless the run is gone, has finished, or was told to abort already. The patch
    applies only to the version that was read (409 otherwise), so two writers never both append."""
    for _ in range(5):
        obj = await read(PLURAL, action.namespace, action.name)
        if obj is None or (obj.get("status") or {}).get("result"):
            return
        decisions = (obj.get("spec") or {}).get("decisions")
        if any(d.get("action") == "Abort" for d in decisions or []):
            return
        ops: list[dict[str, Any]] = [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": obj["metadata"]["resourceVersion"]}
        ]
        if decisions is None:
            ops.append({"op": "add", "path": "/spec/decisions", "value": []})
        ops.append({"op": "add", "path": "/spec/decisions/-", "value": {"action": "Abort", "reason": action.reason}})
        try:
            await call(
                "patch",
                PLURAL,
                _custom().patch_namespaced_custom_object(GROUP, VERSION, action.namespace, PLURAL, action.name, ops),
            )
            return
        except ApiException as error:
            if error.status != 409:  # 409: the run changed since it was read
                raise
    raise Conflict(f"{PLURAL} {action.namespace}/{action.name} kept changing while aborting it")
