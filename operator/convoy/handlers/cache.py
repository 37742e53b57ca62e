"""What the watches have shown of the objects runs observe, so a reconcile reads memory instead of the API server
(as an informer's cache does). Fed only by the Deployment watch the operator keeps anyway (GitOps triggers watch
every Deployment it may see); a miss (an object not seen yet, right after a start, or outside the watched
namespaces) is read from the API server, and not remembered: only a watch keeps an entry fresh.

The cache is as fresh as the last watch event, which is what triggers the reconcile that reads it: a change the
operator made is seen when its event arrives, and the planner, whose actions are idempotent, only waits for it.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

from convoy.adapters import workloads
from convoy.planner.actions import Action, EnsureCopy, ScaleDeployment, SetImage, SetPaused
from convoy.planner.observed import Workload

READS = Counter("convoy_cache_reads_total", "Observations of Deployments, by where they came from.", ["source"])
_DROPPED = ("managedFields",)


class DeploymentCache:
    def __init__(self) -> None:
        self._bodies: dict[tuple[str, str], dict[str, Any]] = {}

    def observe(self, body: dict[str, Any], *, deleted: bool = False) -> None:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        if deleted:
            self._bodies.pop(key, None)
            return
        self._bodies[key] = {**body, "metadata": {k: v for k, v in meta.items() if k not in _DROPPED}}

    async def workload(self, namespace: str, name: str, container: str | None) -> Workload | None:
        """The Deployment as last seen, else as read now (None when it does not exist)."""
        body = self._bodies.get((namespace, name))
        if body is not None:
            READS.labels("cache").inc()
            return workloads.to_workload(body, container)
        READS.labels("api").inc()
        read = await workloads.read_deployment(namespace, name)
        return None if read is None else workloads.to_workload(read, container)

    def satisfied(self, action: Action) -> bool:
        """Whether the Deployment, as last seen, already is what `action` asks for, so performing it would only read
        it again (a step waiting for a rollout asks for the same change on every cycle). Unknown: not satisfied."""
        if not isinstance(action, SetImage | EnsureCopy | ScaleDeployment | SetPaused):
            return False
        name = action.deployment if isinstance(action, SetImage) else action.name
        body = self._bodies.get((action.namespace, name))
        return body is not None and workloads.fulfils(body, action)
