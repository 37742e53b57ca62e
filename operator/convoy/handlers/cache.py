"""What the watches have shown of the objects runs observe, so a reconcile reads memory instead of the API server
(as an informer's cache does). Fed only by the Deployment watch the operator keeps anyway (GitOps triggers watch
every Deployment it may see); a miss (an object not seen yet, right after a start, or outside the watched
namespaces) is read from the API server, and not remembered: only a watch keeps an entry fresh.

Absence is remembered too, in a watched namespace: a Deployment the watch saw deleted, or one a read found missing
while no event of it arrived, is absent until the watch shows it (a canary copy before it is created and after it is
removed would otherwise be read on every cycle).

The cache is as fresh as the last watch event, which is what triggers the reconcile that reads it: a change the
operator made is seen when its event arrives, and the planner, whose actions are idempotent, only waits for it.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

from convoy.adapters import workloads
from convoy.handlers import config
from convoy.planner.actions import Action, DeleteDeployment, EnsureCopy, ScaleDeployment, SetImage, SetPaused
from convoy.planner.observed import Workload

READS = Counter("convoy_cache_reads_total", "Observations of Deployments, by where they came from.", ["source"])
_DROPPED = ("managedFields",)
ABSENT_LIMIT = 10_000
"""Absences remembered at most (the oldest are forgotten first, and then read again when asked for)."""

Key = tuple[str, str]


class DeploymentCache:
    def __init__(self) -> None:
        self._bodies: dict[Key, dict[str, Any]] = {}
        self._signatures: dict[Key, tuple[Any, ...]] = {}  # of the last watch event, not of a patch's answer
        self._absent: dict[Key, None] = {}  # ordered: the oldest first
        self._reading: dict[Key, list[int]] = {}  # reads in flight, events seen meanwhile

    def observe(self, body: dict[str, Any], *, deleted: bool = False) -> bool:
        """Take a watch event; whether the planner would see the Deployment differently than at the last event
        (workloads.signature), which is when the run it belongs to has something new to plan from."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        self.remember(body, deleted=deleted)
        before = self._signatures.pop(key, None)
        if deleted:
            return True
        self._signatures[key] = workloads.signature(body)
        return self._signatures[key] != before

    def remember(self, body: dict[str, Any], *, deleted: bool = False) -> None:
        """Take the Deployment as it now is (a watch event, or the answer to the operator's own patch, which the
        next action on it starts from while its watch event is still on its way)."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self._reading:
            self._reading[key][1] += 1
        if deleted:
            self._bodies.pop(key, None)
            self._remember_absent(key)
            return
        self._absent.pop(key, None)
        self._bodies[key] = {**body, "metadata": {k: v for k, v in meta.items() if k not in _DROPPED}}

    async def workload(self, namespace: str, name: str, container: str | None) -> Workload | None:
        """The Deployment as last seen, else as read now (None when it does not exist)."""
        key = (namespace, name)
        body = self._bodies.get(key)
        if body is not None or key in self._absent:
            READS.labels("cache").inc()
            return None if body is None else workloads.to_workload(body, container)
        READS.labels("api").inc()
        flight = self._reading.setdefault(key, [0, 0])
        flight[0] += 1
        try:
            read = await workloads.read_deployment(namespace, name)
        finally:
            flight[0] -= 1
            if not flight[0]:
                del self._reading[key]
        if read is None and not flight[1]:  # an event during the read may be newer than its answer
            self._remember_absent(key)
        return None if read is None else workloads.to_workload(read, container)

    def body(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Deployment as the watch last showed it; None when it was not seen."""
        return self._bodies.get((namespace, name))

    def _remember_absent(self, key: Key) -> None:
        namespaces = config.current.namespaces
        if namespaces and key[0] not in namespaces:
            return  # no watch there would tell when it appears
        self._absent[key] = None
        while len(self._absent) > ABSENT_LIMIT:
            del self._absent[next(iter(self._absent))]

    def satisfied(self, action: Action) -> bool:
        """Whether the Deployment, as last seen, already is what `action` asks for, so performing it would only read
        it again (a step waiting for a rollout asks for the same change on every cycle). Unknown: not satisfied."""
        if isinstance(action, DeleteDeployment):
            return (action.namespace, action.name) in self._absent
        if not isinstance(action, SetImage | EnsureCopy | ScaleDeployment | SetPaused):
            return False
        name = action.deployment if isinstance(action, SetImage) else action.name
        body = self._bodies.get((action.namespace, name))
        return body is not None and workloads.fulfils(body, action)
