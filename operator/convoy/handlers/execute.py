"""Performing a plan's actions through the adapters; measurement results come back for the next plan.

Every action that touches a tenant's objects is performed as the tenant's ServiceAccount; only the run's own
Events and barrier marks are written as the operator. A refusal that retrying cannot change (RBAC, validation, a
missing object) comes back as a `Refusal` for the planner to fail the step with; anything else (a conflict,
throttling, an API server restarting) is raised, and the reconcile is tried again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from convoy.adapters import (
    autoscalers,
    copies,
    events,
    handover,
    jobs,
    manifests,
    measure,
    notify,
    resources,
    seals,
    services,
    snapshots,
    workloads,
)
from convoy.adapters.kube import ApiError, Tenant, acting, acting_as
from convoy.adapters.owner import NotOurs, Owner
from convoy.adapters.routes import ROUTER
from convoy.api.steps import ErrorKind
from convoy.handlers.runtime import DEPLOYMENTS
from convoy.planner.actions import (
    Action,
    ApplyManifests,
    DeleteDeployment,
    DeleteJob,
    EnsureCopy,
    EnsureJob,
    HandOver,
    MarkBarrier,
    Measure,
    Notify,
    PointService,
    RecordEvent,
    RestoreSnapshot,
    ScaleDeployment,
    SetAutoscalerBounds,
    SetImage,
    SetPaused,
    SetRouteWeights,
)
from convoy.planner.barriers import BARRIER_PREFIX, mark_value
from convoy.planner.observed import Measurement, Refusal

log = logging.getLogger(__name__)


PERMANENT = {
    400: ErrorKind.INVALID,
    403: ErrorKind.FORBIDDEN,
    404: ErrorKind.NOT_FOUND,
    405: ErrorKind.INVALID,
    422: ErrorKind.INVALID,
}
OPERATOR_OWN = (RecordEvent, MarkBarrier)
CONFIRMED_AFTER = timedelta(seconds=5)
"""A refusal counts as permanent once it has lasted this long: an API server that has just started answers 403
to everyone until its RBAC caches are loaded."""
_FORGOTTEN_AFTER = timedelta(minutes=2)
_first_refused: dict[tuple[str, str, str], datetime] = {}
"""When each refusal was first met, by (run uid, verb, resource); gone once it counted, or when it is old."""


def _now() -> datetime:
    return datetime.now(UTC)


async def perform_or_refuse(
    owner: Owner, tenant: Tenant, action: Action, measurements: dict[str, Measurement]
) -> Refusal | None:
    """Perform `action` (as `tenant` unless it writes only the run's own records); a permanent refusal is
    returned, not raised."""
    try:
        if isinstance(action, OPERATOR_OWN):
            await perform(owner, action, measurements)
        else:
            with acting_as(tenant):
                await perform(owner, action, measurements)
    except ApiError as error:
        refusal = lasting_refusal(owner.uid, error)
        if refusal is None:
            raise
        log.warning("%s %s/%s: %s", owner.kind, owner.namespace, owner.name, refusal.message)
        return refusal
    except NotOurs as untrusted:
        # Someone else's ConfigMap holds the snapshot's name: reading it again will not make it the run's.
        log.warning("%s %s/%s: %s", owner.kind, owner.namespace, owner.name, untrusted)
        return Refusal(ErrorKind.CONFLICT, str(untrusted))
    except snapshots.Lost as lost:
        log.warning("%s %s/%s: %s", owner.kind, owner.namespace, owner.name, lost)
        return Refusal(ErrorKind.NOT_FOUND, str(lost))
    return None


def lasting_refusal(uid: str, error: ApiError) -> Refusal | None:
    """What a refused call of the object `uid` means for the step that made it, once the refusal is permanent and
    has lasted (CONFIRMED_AFTER); None while trying again may still succeed."""
    refusal = refusal_of(error)
    return refusal if refusal is not None and _lasted(uid, error) else None


def _lasted(uid: str, error: ApiError) -> bool:
    """Whether the same call was refused at least CONFIRMED_AFTER ago, and not much longer: until then the
    reconcile is tried again as after any transient error (after 1, 2 and 5 s)."""
    now, key = _now(), (uid, error.verb, error.resource)
    for stale in [k for k, t in _first_refused.items() if now - t > _FORGOTTEN_AFTER]:
        del _first_refused[stale]
    first = _first_refused.setdefault(key, now)
    if now - first < CONFIRMED_AFTER:
        return False
    del _first_refused[key]
    return True


def refusal_of(error: ApiError) -> Refusal | None:
    """What a refused call means for the step that made it, or None when trying again may succeed."""
    kind = PERMANENT.get(error.status or 0)
    if kind is None:
        return None
    who = f"ServiceAccount {error.tenant.namespace}/{error.tenant.service_account}" if error.tenant else "Convoy"
    if kind is ErrorKind.FORBIDDEN:
        message = f"{who} may not {error.verb} {error.resource}: {error.server_message}"
    else:
        message = f"{error.verb} {error.resource} as {who} was refused ({error.status}): {error.server_message}"
    return Refusal(kind, message)


def _secrets_namespace(owner: Owner) -> str:
    """Secrets a workflow names (check headers, webhook URLs) live beside the Workflow, whose ServiceAccount
    reads them: the namespace of the tenant acted as."""
    tenant = acting()
    return tenant.namespace if tenant is not None else owner.namespace


async def perform(owner: Owner, action: Action, measurements: dict[str, Measurement]) -> None:
    match action:
        case SetImage():
            _seen(await workloads.set_image(owner, action))
        case ApplyManifests():
            await manifests.apply_manifests(owner, action)
        case RestoreSnapshot():
            await workloads.restore_snapshot(owner, action)
        case EnsureJob():
            await jobs.ensure_job(owner, action)
        case DeleteJob():
            await jobs.delete_job(action)
        case Measure():
            measurements[action.key] = await measure.measure(action.check, _secrets_namespace(owner))
        case Notify():
            await notify.notify(owner, action)
        case RecordEvent():
            await events.record_event(owner, action.key, action.reason, action.message, warning=action.warning)
        case MarkBarrier():
            # sealed for this run's uid: a copied or hand-written mark counts for nothing (handlers/barriers.py)
            sealed = mark_value(action.state, seals.seal("barrier", owner.uid, action.name, action.state))
            await resources.annotate(
                "workflowruns", owner.namespace, owner.name, {BARRIER_PREFIX + action.name: sealed}
            )
        case EnsureCopy():
            _seen(await copies.ensure_copy(owner, action, DEPLOYMENTS.body(action.namespace, action.name)))
        case HandOver():
            for changed in await handover.hand_over(owner, action):
                _seen(changed)
        case SetPaused():
            await workloads.set_paused(owner, action)
        case ScaleDeployment():
            _seen(await copies.scale(owner, action, DEPLOYMENTS.body(action.namespace, action.name)))
        case DeleteDeployment():
            await copies.delete(action)
        case PointService():
            await services.point_service(owner, action)
        case SetRouteWeights():
            await ROUTER.set_weights(action)
        case SetAutoscalerBounds():
            await autoscalers.set_bounds(owner, action)
        case _:
            raise NotImplementedError(f"no adapter performs {type(action).__name__}")


def _seen(patched: dict[str, Any] | None) -> None:
    """What a patch answered is the Deployment as it now is: the next action on it starts from that, not from the
    watch event still on its way. A Deployment that the answer shows being deleted may be gone by now, its watch
    event already seen: it is taken only while the cache still holds it, never brought back."""
    if patched is None:
        return
    meta = patched["metadata"]
    if "deletionTimestamp" not in meta or DEPLOYMENTS.body(meta["namespace"], meta["name"]) is not None:
        DEPLOYMENTS.remember(patched)
