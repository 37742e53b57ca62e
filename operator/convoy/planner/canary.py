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
canary is removed. A replica split hands the canary's ReplicaSet over to the stable Deployment, so promotion
starts no pod of the new version again (adapters/handover.py). `total` is the service size of `canary.setup` (the
instances already running, or a fixed count), and its `resizeStrategy` orders each change of pods between the two
Deployments (see resize_now).

Rollback, replica split: proportional, as the reference rolls back (planner/rollback_sizing.py). When the first
rollback step runs, the run fixes in its status, before any pod moves, how many instances each rollback phase
returns to the previous version: each phase's share of what the run deployed, applied to the new-version instances
running then, the last rollback phase taking the rest. A run still in its canary phases has its new instances in
the canary; a run that promoted (a post-deployment rollback, or a failure after the promotion began) has them all in
the stable Deployment, so undoing the promotion phase turns the split around: a canary Deployment takes the new
version's remaining instances, and the stable Deployment gets its previous pod template back with the instances
rolled back so far. Each later rollback phase moves its instances from the canary to the stable; the last removes
the canary. The reference's example, 8 instances deployed by a 10/20/30/40 canary and 15 running at rollback time:

    rollback phase 4: 6 instances -> stable 6 (previous version), canary 9 (new version)
    rollback phase 3: 4 instances -> stable 10, canary 5
    rollback phase 2: 4 instances -> stable 14, canary 1
    rollback phase 1: the rest, 1 -> stable 15, canary removed

Each phase's record in status.rollback (and a Rollback's status.phases) carries `instances` and the `pods` after
it. A traffic-route canary steps back through its phases' weights instead (traffic follows the route, not pods),
and its promotion is undone by restoring the stable's pod template.

Autoscaling (as Flagger's autoscalerRef): the HorizontalPodAutoscaler that scales the target Deployment is
discovered (the one whose scaleTargetRef names it; two make the deploy step fail, as the HPA controller refuses
such a target too) and carried through the phases rather than left to fight the split. Its bounds as found are
recorded in status.autoscaler before anything changes (an HPA a stopped run left narrowed carries its original
bounds in an annotation, and those count). The total follows the HPA: it is kept within the recorded bounds, and
each canary step starts from the instances running then, so what the HPA scaled between phases is what the next
weight divides. The stable's bounds follow the weight: while it runs `stable` of `total` pods the HPA gets the
recorded bounds scaled by that share (never excluding `stable` itself), so it keeps scaling the stable within its
part of the service and does not undo the split; the canary's pods are its share of the total. Promotion and the
end of a rollback give the HPA its recorded bounds back. The HPA is observed data; its bounds change through
SetAutoscalerBounds, performed as the tenant like every change.

    bounds 4..8, total 4, weight 50:  stable 2 -> HPA 2..4; canary 2
    bounds 2..10, total 10, weight 30: stable 7 -> HPA 1..7; canary 3
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from convoy.api.steps import ErrorKind
from convoy.api.workflow import CanarySplit, CanaryStrategy, ResizeStrategy
from convoy.api.workflowrun import AutoscalerBounds, Awaiting, CanaryPods, StepState
from convoy.planner.actions import (
    DeleteDeployment,
    EnsureCopy,
    HandOver,
    PointService,
    RestoreSnapshot,
    ScaleDeployment,
    SetAutoscalerBounds,
    SetImage,
    SetPaused,
    SetRouteWeights,
)
from convoy.planner.cycle import Cycle, Position, clip, target_of
from convoy.planner.observed import Workload
from convoy.planner.rollback_sizing import rollback_sizes
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


def added_per_phase(total: int, weights: Sequence[int]) -> list[int]:
    """The new-version instances each phase of a replica-split canary added, for a service of `total`. Pure.

    total 8, weights 10, 30, 60, 100 -> 1, 2, 2, 3 (the reference's 10/20/30/40 splits)
    """
    added, before = [], 0
    for weight in weights:
        now = split(total, weight)[1]
        added.append(max(0, now - before))
        before = max(before, now)
    return added


def stable_bounds(bounds: tuple[int, int], total: int, stable: int) -> tuple[int, int]:
    """The HPA bounds of a stable Deployment running `stable` of the service's `total` pods: `bounds` scaled by that
    share, rounded outwards, never excluding `stable`; the bounds themselves when the stable runs everything. Pure.

        4..8,  total 4,  stable 2 -> 2..4
        2..10, total 10, stable 7 -> 1..7
        2..10, total 15, stable 6 -> 1..6
    """
    low, high = bounds
    if total <= 0 or stable >= total:
        return low, high
    return max(1, min(stable, low * stable // total)), max(1, stable, math.ceil(high * stable / total))


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


def _resize_strategy(c: Cycle) -> ResizeStrategy:
    setup = _strategy(c).setup
    return setup.resize_strategy if setup is not None else ResizeStrategy.TOGETHER


def _counts(c: Cycle, total: int, weight: int) -> tuple[int, int]:
    strategy = _strategy(c)
    if strategy.split is CanarySplit.TRAFFIC_ROUTE:
        return total, canary_pods(total, weight)
    return split(total, weight, strategy.max_surge)


def _stable(c: Cycle, pos: Position) -> tuple[str, str, Workload | None]:
    namespace, deployment = target_of(c.workflow, pos.phase, c.run.namespace)
    assert deployment is not None
    return namespace, deployment, c.observed.workload(namespace, deployment)


def service_size(c: Cycle, namespace: str, deployment: str, stable: Workload) -> int:
    """How many pods the service runs: fixed in the status by the run's first canary step, which is written before
    any pod moves, so a cycle planned again after a crash or a conflict never sizes from an already shrunk stable.
    Before that, as the reference sizes a new deployment, "the same as the instances already running": the
    stable's, plus the pods of a replica-split canary an earlier run left behind (an aborted run keeps its partial
    state), less the surge that canary was given.

        stable 3 + leftover canary 1, maxSurge 0  -> 4
        stable 9 + leftover canary 3, maxSurge 2  -> 10   (stable + canary = total + min(canary, surge))
    """
    if c.status.canary is not None:
        return c.status.canary.total
    setup = _strategy(c).setup
    if setup is not None and setup.fixed_count is not None:
        return setup.fixed_count  # the reference's "Fixed" instances, whatever runs now
    return _running(c, namespace, deployment, stable)


def _running(c: Cycle, namespace: str, deployment: str, stable: Workload) -> int:
    """The instances of the service running now (see service_size)."""
    strategy = _strategy(c)
    leftover = c.observed.workload(namespace, canary_name(deployment))
    if leftover is None or strategy.split is CanarySplit.TRAFFIC_ROUTE:
        return stable.replicas
    return stable.replicas + leftover.replicas - min(leftover.replicas, strategy.max_surge)


def _total(c: Cycle, pos: Position, namespace: str, deployment: str, stable: Workload) -> int:
    """The service size this step divides. With an HPA, the total follows it: each attempt of a step sizes once from
    the instances running when it begins (recorded with the attempt's key before any pod moves, so later cycles of
    the attempt, which see pods already moving, keep that size), within the HPA's bounds."""
    bounds = c.status.autoscaler
    if bounds is None:
        return service_size(c, namespace, deployment, stable)
    if c.status.canary is None or bounds.sized_by != pos.key:
        total = _running(c, namespace, deployment, stable)
        bounds.sized_by = pos.key
    else:
        total = service_size(c, namespace, deployment, stable)
    return min(max(total, bounds.min_replicas), bounds.max_replicas)


def _find_autoscaler(c: Cycle, pos: Position, namespace: str, deployment: str, *, strict: bool) -> bool:
    """Record the HPA that scales the target, once, with the bounds it had before any canary narrowed it. False
    (and the step failed) when `strict` and several HPAs scale it; a rollback is never stopped by that."""
    found = c.observed.autoscalers_of(namespace, deployment)
    if len(found) > 1:
        if strict:
            names = ", ".join(sorted(a.name for a in found))
            fail(
                pos.record,
                ErrorKind.INVALID,
                f"HorizontalPodAutoscalers {names} all scale Deployment {namespace}/{deployment}: the HPA controller "
                "refuses such a target, and the canary cannot tell whose bounds to carry through its phases; "
                "keep one",
            )
            return False
        return True
    if found and c.status.autoscaler is None:
        low, high = found[0].original or (found[0].min_replicas, found[0].max_replicas)
        c.status.autoscaler = AutoscalerBounds(name=found[0].name, min_replicas=low, max_replicas=high)
    return True


def _bound(c: Cycle, namespace: str, deployment: str, total: int, stable_pods: int) -> None:
    """Give the HPA the stable's share of its bounds (all of them when the stable runs the whole service)."""
    recorded = c.status.autoscaler
    if recorded is None:
        return
    hpa = next((a for a in c.observed.autoscalers_of(namespace, deployment) if a.name == recorded.name), None)
    if hpa is None:
        return  # deleted since: there is nothing left to carry or give back
    original = (recorded.min_replicas, recorded.max_replicas)
    low, high = stable_bounds(original, total, stable_pods)
    keep = original if (low, high) != original else None
    if (hpa.min_replicas, hpa.max_replicas, hpa.original) != (low, high, keep):
        c.act(SetAutoscalerBounds(namespace, recorded.name, low, high, keep))


def deploy(c: Cycle, pos: Position) -> None:
    namespace, deployment, stable = _stable(c, pos)
    if stable is None:
        fail(pos.record, ErrorKind.DEPLOYMENT_FAILED, f"Deployment {namespace}/{deployment} not found: create it")
        return
    artifact = c.workflow.artifact
    assert artifact is not None and pos.step.deploy is not None
    if not _find_autoscaler(c, pos, namespace, deployment, strict=True):
        return
    record_revisions(c, stable=stable.image, new=artifact.image)
    total = _total(c, pos, namespace, deployment, stable)
    weight = _weight(c, pos.phase_index)
    key = applied_key(c, pos, "deploy")
    if weight >= 100:
        _promote(c, pos, namespace, deployment, stable, total, key)
    else:
        stable_pods, canary_count = _counts(c, total, weight)
        pods = CanaryPods(total=total, stable=stable_pods, canary=canary_count)
        progress = f"setting weight {weight}%"
        done = f"weight {weight}%: {stable_pods} stable and {canary_count} canary pods"
        if _set_pods(c, pos, namespace, deployment, stable, pods, weight, key, (progress, done)):
            c.status.weight = weight


def _weight(c: Cycle, phase_index: int) -> int:
    """The weight a phase's deploy step sets (its own, else the phase's)."""
    phase = c.workflow.phases[phase_index]
    step = next((s.deploy for s in phase.steps if s.deploy is not None), None)
    return step.weight if step is not None and step.weight is not None else (phase.weight or 0)


def _set_pods(
    c: Cycle,
    pos: Position,
    namespace: str,
    deployment: str,
    stable: Workload,
    pods: CanaryPods,
    weight: int,
    key: str,
    messages: tuple[str, str],
) -> bool:
    """Ask for `pods` (and the route at `weight`); True, and the step succeeded, once the cluster shows them.
    `messages`: what the step says while it waits, and once done."""
    if not _move_pods(c, pos, namespace, deployment, stable, pods, weight, key, messages[0]):
        return False
    succeed(c, pos.record, messages[1])
    return True


def _move_pods(
    c: Cycle,
    pos: Position,
    namespace: str,
    deployment: str,
    stable: Workload,
    pods: CanaryPods,
    weight: int,
    key: str,
    waiting: str,
) -> bool:
    """Ask for `pods` (and the route at `weight`); True once the cluster shows them, else the step waits saying
    `waiting`. The run's status.canary follows (_record_pods)."""
    artifact, strategy = c.workflow.artifact, _strategy(c)
    assert artifact is not None
    name = canary_name(deployment)
    _record_pods(c, pods)
    canary = c.observed.workload(namespace, name)
    if pods.canary == 0:
        canary_ready = canary is None
    else:
        canary_ready = (
            canary is not None and canary.applied == key and canary.replicas == pods.canary and canary.rolled_out
        )
    stable_ready = stable.replicas == pods.stable and stable.scaled
    move_stable, move_canary = resize_now(
        _resize_strategy(c),
        stable_grows=pods.stable > stable.replicas,
        canary_grows=pods.canary > (canary.replicas if canary is not None else 0),
        stable_ready=stable_ready,
        canary_ready=canary_ready,
    )
    if pods.canary > 0 and move_canary:
        suffix = CANARY_SUFFIX if strategy.split is CanarySplit.TRAFFIC_ROUTE else None
        image, container = artifact.image, artifact.container
        c.act(EnsureCopy(namespace, deployment, name, image, container, pods.canary, (TRACK, "canary"), suffix, key))
    if move_stable:
        _bound(c, namespace, deployment, pods.total, pods.stable)
        c.act(ScaleDeployment(namespace, deployment, pods.stable))
    route_ready = _route(c, namespace, stable, weight)
    if pods.canary == 0 and move_canary:
        c.act(DeleteDeployment(namespace, name))
    if canary_ready and stable_ready and route_ready:
        return True
    pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
    pos.record.message = clip(
        f"{waiting}: waiting for {pods.canary} canary and {pods.stable} stable pods"
        + ("" if route_ready else ", route pending")
    )
    return False


def _record_pods(c: Cycle, pods: CanaryPods) -> None:
    """The run's status.canary follows the pods asked for, except in a post-deployment rollback: there it keeps what
    the deployment ran (the history's phase sizes come from it)."""
    if c.status.post_deployment_rollback is None:
        c.status.canary = pods.model_copy()


def resize_now(
    strategy: ResizeStrategy, *, stable_grows: bool, canary_grows: bool, stable_ready: bool, canary_ready: bool
) -> tuple[bool, bool]:
    """(resize the stable now, resize the canary now) when a change of pods grows one side and shrinks the other
    (canary.setup.resizeStrategy). Together: both at once. NewFirst: the growing side first, the shrinking one once
    the growing one is ready. OldDownFirst: the shrinking side first, the growing one once it is done. Pure.

        NewFirst,     canary 0 -> 2, stable 4 -> 2:  canary now; stable once the canary's pods are ready
        OldDownFirst, canary 0 -> 2, stable 4 -> 2:  stable now; canary once stable runs 2
        NewFirst,     rolling back (canary shrinks): stable grows first, the canary goes once stable is ready
    """
    if strategy is ResizeStrategy.TOGETHER or stable_grows == canary_grows:
        return True, True
    canary_first = canary_grows == (strategy is ResizeStrategy.NEW_FIRST)
    return (canary_ready, True) if canary_first else (True, stable_ready)


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
    """Weight 100: the stable Deployment takes the new template and the HPA its bounds back; once it is rolled
    out, traffic returns to it and the canary goes. A replica split hands its canary's pods over to it first."""
    artifact = c.workflow.artifact
    assert artifact is not None
    if _strategy(c).split is CanarySplit.REPLICAS and not _hand_over(c, pos, namespace, deployment, stable, total, key):
        return
    c.status.canary = CanaryPods(total=total, stable=total, canary=c.status.canary.canary if c.status.canary else 0)
    image, snapshot = artifact.image, snapshot_name(c, pos)
    c.act(SetImage(namespace, deployment, artifact.container, image, snapshot, key, replicas=total))  # one patch
    _bound(c, namespace, deployment, total, total)
    if c.workflow.triggers:
        c.act(SetPaused(namespace, deployment, False))
    if not (stable.applied == key and stable.replicas == total and stable.rolled_out):
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
        pos.record.message = f"promoting: waiting for {total} stable pods with the new version"
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


def _hand_over(
    c: Cycle, pos: Position, namespace: str, deployment: str, stable: Workload, total: int, key: str
) -> bool:
    """Promote a replica split without starting a pod again: hand the canary's ReplicaSet to the stable Deployment
    (adapters/handover.py), which the handover leaves paused and marked with `key`; resume it once it counts those
    pods as its own. True once it is resumed.

    Resized Together (the default), the handover itself moves the pods: the stable's own ReplicaSets go with their
    pods, and the adopted one grows to `total`. The cluster's garbage collector deletes those pods, not the
    ReplicaSet controller, whose rate-limited client then only starts the new ones. NewFirst and OldDownFirst first
    move every pod to the canary in their order, then hand over."""
    if stable.applied == key and not stable.paused:
        return True
    artifact = c.workflow.artifact
    assert artifact is not None
    name = canary_name(deployment)
    copy = c.observed.workload(namespace, name)
    if stable.applied != key:
        pods = CanaryPods(total=total, stable=0, canary=total)
        if _resize_strategy(c) is ResizeStrategy.TOGETHER and copy is not None and copy.replicas > 0:
            _record_pods(c, pods)
        elif not _move_pods(
            c, pos, namespace, deployment, stable, pods, 100, key, "promoting: every pod to the canary"
        ):
            return False
    _bound(c, namespace, deployment, total, total)
    if (copy is not None and not copy.deleting) or stable.replicas != total:
        snapshot = snapshot_name(c, pos)
        c.act(HandOver(namespace, deployment, name, artifact.container, artifact.image, snapshot, key, total))
    elif copy is None and stable.scaled:  # the copy's ReplicaSet orphaned, and the stable counts its pods
        c.act(SetPaused(namespace, deployment, False))
    pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
    pos.record.message = f"promoting: handing the canary's {total} pods over to Deployment {deployment}"
    return False


def repause(c: Cycle) -> None:
    """A triggered canary's stable Deployment waits paused for the next change from git (see Trigger)."""
    if c.workflow.triggers:
        for phase in c.workflow.phases[:1]:
            namespace, deployment = target_of(c.workflow, phase, c.run.namespace)
            if deployment is not None:
                c.act(SetPaused(namespace, deployment, True))


def rollback(c: Cycle, pos: Position) -> None:
    """Undo a canary phase. Replica split: move the phase's share of the new instances back to the previous version
    (see the module's docstring). Traffic-route split: back to the previous phase's weight (0 for the first phase);
    its promotion phase is undone like a rolling deploy, by restoring the stable Deployment's pod template."""
    if _strategy(c).split is CanarySplit.TRAFFIC_ROUTE:
        _route_rollback(c, pos)
        return
    namespace, deployment, stable = _stable(c, pos)
    if stable is None:
        succeed(c, pos.record, f"nothing to undo: Deployment {namespace}/{deployment} not found")
        return
    _find_autoscaler(c, pos, namespace, deployment, strict=False)
    promoted = _promoted(c)
    _size_rollback(c, namespace, deployment, stable, promoted)
    pods, instances = pos.phase_record.pods, pos.phase_record.instances
    assert pods is not None
    if not promoted and not _began_deploying(c, pos.phase_index):
        succeed(c, pos.record, "nothing was deployed in this phase")
        return
    key = applied_key(c, pos, "rollback")
    previous = _weight(c, pos.phase_index - 1) if pos.phase_index > 0 else 0
    done = f"rolled back {instances} instances: {pods.stable} run the previous version, " + (
        f"{pods.canary} canary pods the new one" if pods.canary else "canary removed"
    )
    if promoted and _weight(c, pos.phase_index) >= 100:
        _turn_around(c, pos, namespace, deployment, stable, pods, key, done)
    elif _set_pods(
        c, pos, namespace, deployment, stable, pods, previous, key, (f"rolling back {instances} instances", done)
    ):
        c.status.weight = previous


def _promoted(c: Cycle) -> bool:
    """Whether the new version went into the stable Deployment: the run succeeded (a post-deployment rollback), or
    its promotion phase began deploying before it failed."""
    return c.status.post_deployment_rollback is not None or any(
        _weight(c, i) >= 100 and _began_deploying(c, i) for i in range(len(c.workflow.phases))
    )


def _size_rollback(c: Cycle, namespace: str, deployment: str, stable: Workload, promoted: bool) -> None:
    """Fix, once and before any pod moves, the instances and pods of every rollback phase (the module's docstring):
    the phases' shares of what the run deployed, applied to the new-version instances running now."""
    records = c.status.rollback
    if all(r.pods is not None for r in records):
        return
    surge = _strategy(c).max_surge
    canary = c.observed.workload(namespace, canary_name(deployment))
    if promoted:
        total = new = stable.replicas
    else:
        total = service_size(c, namespace, deployment, stable)
        if c.status.autoscaler is not None:
            bounds = c.status.autoscaler
            total = min(max(_running(c, namespace, deployment, stable), bounds.min_replicas), bounds.max_replicas)
        new = canary.replicas if canary is not None else 0
    index = {p.name: i for i, p in enumerate(c.workflow.phases)}
    deployed_total = c.status.canary.total if c.status.canary is not None else total
    added = added_per_phase(deployed_total, [_weight(c, i) for i in range(len(c.workflow.phases))])

    def share(phase_index: int) -> int:
        """What a phase added: nothing when its deploy step never began, nor an unreached promotion's."""
        reached = _began_deploying(c, phase_index) and (promoted or _weight(c, phase_index) < 100)
        return added[phase_index] if reached else 0

    sizes = rollback_sizes([share(index[r.name]) for r in reversed(records)], new)
    left = new
    for record, size in zip(records, sizes, strict=True):
        left -= size
        record.instances = size
        record.pods = CanaryPods(total=total, stable=max(0, min(total, total - left + surge)), canary=left)


def _began_deploying(c: Cycle, phase_index: int) -> bool:
    if c.status.post_deployment_rollback is not None:
        return True
    phase, record = c.workflow.phases[phase_index], c.status.phases[phase_index]
    return any(
        r.state not in (StepState.PENDING, StepState.SKIPPED)
        for s, r in zip(phase.steps, record.steps, strict=True)
        if s.deploy is not None
    )


def _turn_around(
    c: Cycle,
    pos: Position,
    namespace: str,
    deployment: str,
    stable: Workload,
    pods: CanaryPods,
    key: str,
    message: str,
) -> None:
    """Undo the promotion phase of a run that promoted: first a canary Deployment takes the new version's remaining
    instances (so no capacity is lost), then the stable Deployment gets its previous pod template back, sized to the
    instances rolled back so far."""
    artifact = c.workflow.artifact
    assert artifact is not None
    name = canary_name(deployment)
    canary = c.observed.workload(namespace, name)
    if c.status.post_deployment_rollback is None:
        c.status.canary = pods.model_copy()
    if pods.canary > 0:
        c.act(
            EnsureCopy(
                namespace,
                deployment,
                name,
                artifact.image,
                artifact.container,
                pods.canary,
                (TRACK, "canary"),
                None,
                key,
            )
        )
        canary_ready = (
            canary is not None and canary.applied == key and canary.replicas == pods.canary and canary.rolled_out
        )
    else:
        canary_ready = True
    if not canary_ready:
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
        pos.record.message = f"rolling back: waiting for {pods.canary} canary pods with the new version"
        return
    c.act(RestoreSnapshot(namespace, deployment, snapshot_name(c, pos), key, applied_key(c, pos, "deploy")))
    if stable.paused:
        c.act(SetPaused(namespace, deployment, False))  # a handover stopped half-way left it so
    _bound(c, namespace, deployment, pods.total, pods.stable)
    c.act(ScaleDeployment(namespace, deployment, pods.stable))
    if pods.canary == 0:
        c.act(DeleteDeployment(namespace, name))
    if not (stable.applied == key and stable.replicas == pods.stable and stable.rolled_out):
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
        pos.record.message = f"rolling back: waiting for {pods.stable} stable pods with the previous version"
        return
    c.status.weight = _weight(c, pos.phase_index - 1) if pos.phase_index > 0 else 0
    succeed(c, pos.record, message)


def _route_rollback(c: Cycle, pos: Position) -> None:
    from convoy.planner import steps

    if _weight(c, pos.phase_index) >= 100:
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
    previous = _weight(c, pos.phase_index - 1) if pos.phase_index > 0 else 0
    total = service_size(c, namespace, deployment, stable)
    stable_pods, canary_count = _counts(c, total, previous)
    pods = CanaryPods(total=total, stable=stable_pods, canary=canary_count)
    messages = (
        f"setting weight {previous}%",
        f"weight {previous}%: {stable_pods} stable and {canary_count} canary pods",
    )
    if _set_pods(c, pos, namespace, deployment, stable, pods, previous, applied_key(c, pos, "rollback"), messages):
        c.status.weight = previous
