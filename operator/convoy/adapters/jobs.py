"""Batch Jobs of job steps and job verifications: created once by name, owned by the run, observed by label."""

from __future__ import annotations

import copy
from typing import Any, cast

from kubernetes_asyncio import client

from convoy.adapters.kube import api, call, create_once
from convoy.adapters.owner import Owner
from convoy.planner.actions import DeleteJob, EnsureJob
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
    batch = client.BatchV1Api(api())
    body = cast(client.V1Job, job_body(owner, action))  # the client serializes plain dicts as they are
    await create_once("jobs", batch.create_namespaced_job(action.namespace, body))


async def delete_job(action: DeleteJob) -> None:
    batch = client.BatchV1Api(api())
    await call(
        "delete", "jobs", batch.delete_namespaced_job(action.name, action.namespace, propagation_policy="Background")
    )


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


async def observe(namespace: str, run: str) -> dict[str, JobResult]:
    """The Jobs of a run, by name."""
    batch = client.BatchV1Api(api())
    jobs = await call("list", "jobs", batch.list_namespaced_job(namespace, label_selector=f"convoy.dev/run={run}"))
    raw = api().sanitize_for_serialization(jobs)
    return {item["metadata"]["name"]: to_result(item) for item in raw.get("items", [])}
