"""Canary workflows, natively: a canary Deployment beside the stable one, sized for each phase's weight.

Replica split (default): both Deployments are behind the target Service, so traffic follows pod counts.

    canary = ceil(total * weight / 100)       never 0 at a weight above 0
    stable = min(total, total - canary + maxSurge)

    total 10, maxSurge 0:  10% -> 9 stable + 1 canary; 30% -> 7 + 3; 60% -> 4 + 6
    total 4,  maxSurge 0:  10% -> 3 + 1;  50% -> 2 + 2
    total 10, maxSurge 2:  30% -> 9 + 3 (12 pods: the surge keeps stable's capacity)

Traffic-route split: stable keeps all `total` pods, the canary gets `ceil(total * weight / 100)`, and the
HTTPRoute's weights decide the traffic. The last phase (weight 100) promotes: the new pod template goes into the
stable Deployment (after a snapshot), stable is scaled back to `total`, traffic returns to stable, and the
canary is removed. Rolling a phase back returns to the previous phase's weight; the first phase's rollback
removes the canary. That is the reference's per-phase rollback sizing for a run that owns its pod counts: see
planner/rollback_sizing.py.
"""

from __future__ import annotations

import math

from convoy.api.steps import ErrorKind
from convoy.api.workflow import CanarySplit, CanaryStrategy
from convoy.api.workflowrun import Awaiting, CanaryPods, StepState
from convoy.planner.actions import (
    DeleteDeployment,
    EnsureCopy,
    PointService,
    ScaleDeployment,
    SetImage,
    SetPaused,
    SetRouteWeights,
)
from convoy.planner.cycle import Cycle, Position, clip, target_of
from convoy.planner.observed import Workload
from convoy.planner.steps import applied_key, fail, record_revisions, snapshot_name, succeed

CANARY_SUFFIX = "-canary"
TRACK = "convoy.dev/track"


def split(total: int, weight: int, max_surge: int = 0) -> tuple[int, int]:
    """(stable, canary) pod counts of a replica split at `weight` percent. Pure; see the module's examples."""
    if weight <= 0:
        return total, 0
    if weight >= 100:
        return 0, total
    canary = max(1, math.ceil(total * weight / 100))
    return min(total, total - canary + max_surge), canary


def canary_pods(total: int, weight: int) -> int:
    """Canary pods of a traffic-route split: enough to serve its share, at least one."""
    return 0 if weight <= 0 else max(1, math.ceil(total * weight / 100))


def canary_name(deployment: str) -> str:
    return deployment[: 63 - len(CANARY_SUFFIX)] + CANARY_SUFFIX


def copy_selector(source: dict[str, str], suffix: str, label: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """The selector of a copy's pods whose labels got `suffix` (see EnsureCopy)."""
    relabeled = {k: f"{v}{suffix}" for k, v in source.items()}
    return tuple(sorted({**relabeled, label[0]: label[1]}.items()))


def canary_selector(stable_selector: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The selector of the canary's pods in a traffic-route split (the stable values with '-canary')."""
    return copy_selector(stable_selector, CANARY_SUFFIX, (TRACK, "canary"))


def _strategy(c: Cycle) -> CanaryStrategy:
    return c.workflow.canary or CanaryStrategy()


def _counts(c: Cycle, total: int, weight: int) -> tuple[int, int]:
    strategy = _strategy(c)
    if strategy.split is CanarySplit.TRAFFIC_ROUTE:
        return total, canary_pods(total, weight)
    return split(total, weight, strategy.max_surge)


def _stable(c: Cycle, pos: Position) -> tuple[str, str, Workload | None]:
    namespace, deployment = target_of(c.workflow, pos.phase, c.run.namespace)
    assert deployment is not None
    return namespace, deployment, c.observed.workload(namespace, deployment)


def deploy(c: Cycle, pos: Position) -> None:
    namespace, deployment, stable = _stable(c, pos)
    if stable is None:
        fail(pos.record, ErrorKind.DEPLOYMENT_FAILED, f"Deployment {namespace}/{deployment} not found: create it")
        return
    artifact = c.workflow.artifact
    assert artifact is not None and pos.step.deploy is not None
    record_revisions(c, stable=stable.image, new=artifact.image)
    total = c.status.canary.total if c.status.canary else stable.replicas
    weight = pos.step.deploy.weight if pos.step.deploy.weight is not None else (pos.phase.weight or 0)
    key = applied_key(c, pos, "deploy")
    if weight >= 100:
        _promote(c, pos, namespace, deployment, stable, total, key)
    else:
        _set_weight(c, pos, namespace, deployment, stable, total, weight, key)


def _set_weight(
    c: Cycle, pos: Position, namespace: str, deployment: str, stable: Workload, total: int, weight: int, key: str
) -> None:
    artifact, strategy = c.workflow.artifact, _strategy(c)
    assert artifact is not None
    stable_pods, canary_count = _counts(c, total, weight)
    name = canary_name(deployment)
    c.status.canary = CanaryPods(total=total, stable=stable_pods, canary=canary_count)
    if canary_count > 0:
        suffix = CANARY_SUFFIX if strategy.split is CanarySplit.TRAFFIC_ROUTE else None
        image, container = artifact.image, artifact.container
        c.act(EnsureCopy(namespace, deployment, name, image, container, canary_count, (TRACK, "canary"), suffix, key))
    c.act(ScaleDeployment(namespace, deployment, stable_pods))
    route_ready = _route(c, namespace, stable, weight)
    canary = c.observed.workload(namespace, name)
    if canary_count == 0:
        c.act(DeleteDeployment(namespace, name))
        canary_ready = canary is None
    else:
        canary_ready = (
            canary is not None and canary.applied == key and canary.replicas == canary_count and canary.rolled_out
        )
    stable_ready = stable.replicas == stable_pods and stable.scaled
    if canary_ready and stable_ready and route_ready:
        c.status.weight = weight
        succeed(c, pos.record, f"weight {weight}%: {stable_pods} stable and {canary_count} canary pods")
        return
    pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
    ready = canary.available_replicas if canary is not None else 0
    pos.record.message = clip(
        f"setting weight {weight}%: canary {ready}/{canary_count} available, "
        f"stable {stable.available_replicas}/{stable_pods} available" + ("" if route_ready else ", route pending")
    )


def _route(c: Cycle, namespace: str, stable: Workload, weight: int) -> bool:
    """Ask for the route weights of a traffic-route split; True when the route shows them (or there is none)."""
    strategy = _strategy(c)
    route = strategy.traffic_route
    if strategy.split is not CanarySplit.TRAFFIC_ROUTE or route is None:
        return True
    if weight > 0:
        c.act(PointService(namespace, route.canary_service, canary_selector(dict(stable.selector))))
    headers = tuple((h.name, h.value) for h in route.header_match) if weight > 0 else ()
    c.act(SetRouteWeights(namespace, route.http_route, route.stable_service, route.canary_service, weight, headers))
    seen = c.observed.route(namespace, route.http_route)
    return (
        seen is not None
        and seen.weights.get(route.canary_service, 0) == weight
        and seen.weights.get(route.stable_service) == 100 - weight
    )


def _promote(c: Cycle, pos: Position, namespace: str, deployment: str, stable: Workload, total: int, key: str) -> None:
    """Weight 100: the stable Deployment takes the new template; once it is rolled out, traffic returns to it
    and the canary goes."""
    artifact = c.workflow.artifact
    assert artifact is not None
    c.status.canary = CanaryPods(total=total, stable=total, canary=c.status.canary.canary if c.status.canary else 0)
    c.act(SetImage(namespace, deployment, artifact.container, artifact.image, snapshot_name(c, pos), key))
    c.act(ScaleDeployment(namespace, deployment, total))
    if c.workflow.triggers:
        c.act(SetPaused(namespace, deployment, False))
    if not (stable.applied == key and stable.replicas == total and stable.rolled_out):
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
        pos.record.message = clip(
            f"promoting: stable {stable.available_replicas}/{total} available with the new version"
        )
        return
    route_ready = _route(c, namespace, stable, 0)
    name = canary_name(deployment)
    c.act(DeleteDeployment(namespace, name))
    if not route_ready or c.observed.workload(namespace, name) is not None:
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.TRAFFIC
        pos.record.message = "promoted: returning traffic to stable and removing the canary"
        return
    c.status.weight = 100
    c.status.canary = CanaryPods(total=total, stable=total, canary=0)
    succeed(c, pos.record, f"promoted: {total} stable pods run the new version, canary removed")


def repause(c: Cycle) -> None:
    """A triggered canary's stable Deployment waits paused for the next change from git (see Trigger)."""
    if c.workflow.triggers:
        for phase in c.workflow.phases[:1]:
            namespace, deployment = target_of(c.workflow, phase, c.run.namespace)
            if deployment is not None:
                c.act(SetPaused(namespace, deployment, True))


def rollback(c: Cycle, pos: Position) -> None:
    """Undo a canary phase: back to the previous phase's weight (0 for the first phase). The promotion phase is
    undone like a rolling deploy, by restoring the stable Deployment's pod template."""
    from convoy.planner import steps

    if (pos.phase.weight or 0) >= 100:
        steps.rollback(c, pos)
        return
    deployed = c.status.phases[pos.phase_index]
    if all(r.state is StepState.PENDING for r in deployed.steps):
        succeed(c, pos.record, "nothing was deployed in this phase")
        return
    namespace, deployment, stable = _stable(c, pos)
    name = canary_name(deployment)
    if stable is None or (c.observed.workload(namespace, name) is None and c.status.weight in (0, 100, None)):
        succeed(c, pos.record, "nothing to undo: the canary is gone")
        return
    previous = c.workflow.phases[pos.phase_index - 1].weight or 0 if pos.phase_index > 0 else 0
    total = c.status.canary.total if c.status.canary else stable.replicas
    _set_weight(c, pos, namespace, deployment, stable, total, previous, applied_key(c, pos, "rollback"))
