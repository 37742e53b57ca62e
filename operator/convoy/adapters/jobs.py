"""Batch Jobs of job steps and job verifications: created once by name, owned by the run, observed by label."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from convoy.adapters.kube import create_once, get_or_none, list_items, path, request
from convoy.adapters.owner import NotOurs, Owner
from convoy.planner.actions import DeleteJob, EnsureJob
from convoy.planner.cycle import label_value
from convoy.planner.observed import JobResult


def job_body(owner: Owner, action: EnsureJob) -> dict[str, Any]:
    """The Job manifest: the step's pod template, with Never as the default restart policy and the run's labels."""
    template = copy.deepcopy(action.template)
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("labels", {}).update(action.labels)
    spec = template.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": action.name,
            "namespace": action.namespace,
            "labels": dict(action.labels),
            "ownerReferences": owner.owns_in(action.namespace),
        },
        "spec": {"backoffLimit": action.backoff_limit, "template": template, "ttlSecondsAfterFinished": 86400},
    }


async def ensure_job(owner: Owner, action: EnsureJob) -> None:
    """Create the step's Job once; a Job already under its name must be this run's (else NotOurs)."""
    if await create_once("jobs", path("batch/v1", "jobs", action.namespace), job_body(owner, action)):
        return
    found = await get_or_none("jobs", path("batch/v1", "jobs", action.namespace, action.name))
    if found is not None and not owner.owns(found):
        raise NotOurs(
            f"Job {action.namespace}/{action.name} already exists and was not created by this run: nothing was "
            "run; delete that Job, or rename the step"
        )


async def delete_job(action: DeleteJob) -> None:
    url = path("batch/v1", "jobs", action.namespace, action.name)
    await request("delete", "jobs", "DELETE", url, body={"propagationPolicy": "Background"})


def to_result(job: dict[str, Any]) -> JobResult:
    conditions = (job.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return JobResult(succeeded=True)
        if condition.get("type") in ("Failed", "FailureTarget"):
            return JobResult(failed=True, message=condition.get("message") or condition.get("reason") or "")
    return JobResult()


def termination_messages(pods: list[dict[str, Any]], jobs: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Job name → the termination messages of its succeeded pod's containers, in the pod spec's container order
    (the newest succeeded pod, should a retried Job have several), for pods owned by `jobs` (name → uid). Pure."""
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            continue
        refs = pod["metadata"].get("ownerReferences") or []
        owner = next((r["name"] for r in refs if r.get("kind") == "Job" and jobs.get(r["name"]) == r.get("uid")), None)
        if owner is None:
            continue
        statuses = {s.get("name"): s for s in pod["status"].get("containerStatuses") or []}
        messages = tuple(
            ((statuses.get(container["name"]) or {}).get("state") or {}).get("terminated", {}).get("message") or ""
            for container in (pod.get("spec") or {}).get("containers") or []
        )
        created = pod["metadata"].get("creationTimestamp") or ""
        if owner not in found or created >= found[owner][0]:
            found[owner] = (created, messages)
    return {job: messages for job, (_, messages) in found.items()}


async def observe(owner: Owner) -> dict[str, JobResult]:
    """The Jobs of a run, by name: only those it owns (by uid: a label or a name anyone may copy). A Job that
    succeeded comes with its pod's termination messages (its outputs), read with one list of the run's pods, and
    only while a succeeded Job is there to read them for."""
    selector = f"convoy.dev/run={label_value(owner.name)}"
    listed = await list_items("jobs", path("batch/v1", "jobs", owner.namespace), labelSelector=selector)
    owned = [item for item in listed if owner.owns(item)]
    results = {item["metadata"]["name"]: to_result(item) for item in owned}
    if not any(result.succeeded for result in results.values()):
        return results
    pods = await list_items("pods", path("v1", "pods", owner.namespace), labelSelector=selector)
    uids = {item["metadata"]["name"]: item["metadata"]["uid"] for item in owned}
    messages = termination_messages(pods, uids)
    return {
        name: replace(result, termination_messages=messages.get(name)) if result.succeeded else result
        for name, result in results.items()
    }
