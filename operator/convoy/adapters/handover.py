"""Promotion by handover: the stable Deployment takes the canary's ReplicaSet as its own, so the pods that already run
the new version go on running and none is started again, as Argo Rollouts promotes, while the user's Deployment
stays the workload.

The Deployment controller adopts an orphaned ReplicaSet whose labels match its selector, and takes it for its new
ReplicaSet when the pod templates are equal but for the pod-template-hash label: a replica-split copy's template is
the stable's with the new image (copies.py). A paused Deployment starts no ReplicaSet, but it still sizes its one
active ReplicaSet (or else its newest) to spec.replicas, so the steps keep that from touching a canary pod:

1. pause the stable Deployment, put the new image in its template and mark it applied: nothing starts;
2. delete the stable's own ReplicaSets, in the background: left, the newest would be sized to the count set next.
   Their pods, if the planner did not first move every pod to the canary, are the old version's, which the
   promotion removes anyway; the garbage collector deletes them (gracefully, as a scale-down would), which spares
   the ReplicaSet controller's rate-limited client a delete and an event per pod. A rollback restores Convoy's
   snapshot, not that history;
3. set the stable's count to the canary's;
4. delete the copy Deployment, orphaning its ReplicaSet, which the stable adopts and sizes to that count.

Each step looks before it acts, so performing the action again after a crash or a conflict repeats none; step 2
then spares the adopted ReplicaSet, now the stable's own, by its pods of the new image. The planner
resumes the stable once it counts the canary's pods; were the templates to differ after all, the resumed Deployment
rolls out as usual from the canary's pods. A tenant whose role may not list and delete ReplicaSets gets the plain
promotion: the stable resumed at the full count, starting its own pods.
"""

from __future__ import annotations

from typing import Any

from convoy.adapters.kube import ApiError, list_items, path, request
from convoy.adapters.owner import Owner
from convoy.adapters.workloads import container_of, image_patch, patch_deployment, read_snapshotted, to_workload
from convoy.planner.actions import HandOver


async def hand_over(owner: Owner, action: HandOver) -> list[dict[str, Any]]:
    """Perform the steps not yet done; the Deployments as they now are, of those this call changed (the copy marked
    deleting, while its ReplicaSet is orphaned)."""
    stable = await read_snapshotted(owner, action)
    if stable is None:
        return []
    seen = to_workload(stable, action.container)
    changed = []
    if not (seen.paused and seen.image == action.image and seen.applied == action.key):
        patch = image_patch(owner, stable, action)
        if patch is None:
            return []
        patch["spec"]["paused"] = True
        stable = await patch_deployment(action.namespace, action.deployment, patch)
        changed.append(stable)
    try:
        await _delete_history(stable, action)
    except ApiError as error:
        if error.status != 403:
            raise
        resume = {"spec": {"paused": False, "replicas": action.replicas}}
        return [await patch_deployment(action.namespace, action.deployment, resume)]
    if stable["spec"].get("replicas") != action.replicas:
        changed.append(
            await patch_deployment(action.namespace, action.deployment, {"spec": {"replicas": action.replicas}})
        )
    url = path("apps/v1", "deployments", action.namespace, action.copy)
    try:
        deleting = await request("delete", "deployments", "DELETE", url, body={"propagationPolicy": "Orphan"})
    except ApiError as error:
        if error.status != 404:
            raise
    else:
        if deleting.get("kind") == "Deployment":
            changed.append(deleting)
    return changed


async def _delete_history(stable: dict[str, Any], action: HandOver) -> None:
    """Delete the ReplicaSets the stable Deployment controls (step 2), but one that runs pods of the new version:
    the canary's, adopted already if the handover is performed again."""
    meta = stable["metadata"]
    labels = (stable["spec"]["selector"].get("matchLabels") or {}).items()
    url = path("apps/v1", "replicasets", meta["namespace"])
    for rs in await list_items("replicasets", url, labelSelector=",".join(f"{k}={v}" for k, v in sorted(labels))):
        owners = rs["metadata"].get("ownerReferences") or []
        ours = any(o.get("controller") and o.get("uid") == meta["uid"] for o in owners)
        if not ours or _runs_new_version(rs, action):
            continue
        body = {"propagationPolicy": "Background", "preconditions": {"uid": rs["metadata"]["uid"]}}
        try:
            await request("delete", "replicasets", "DELETE", url + "/" + rs["metadata"]["name"], body=body)
        except ApiError as error:
            if error.status not in (404, 409):
                raise


def _runs_new_version(rs: dict[str, Any], action: HandOver) -> bool:
    chosen = container_of(rs["spec"].get("template") or {}, action.container)
    return rs["spec"].get("replicas", 1) > 0 and chosen is not None and chosen.get("image") == action.image
