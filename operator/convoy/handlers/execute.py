"""Performing a plan's actions through the adapters; measurement results come back for the next plan."""

from __future__ import annotations

from convoy.adapters import copies, events, jobs, manifests, measure, notify, resources, services, workloads
from convoy.adapters.owner import Owner
from convoy.adapters.routes import ROUTER
from convoy.planner.actions import (
    Action,
    ApplyManifests,
    DeleteDeployment,
    DeleteJob,
    EnsureCopy,
    EnsureJob,
    MarkBarrier,
    Measure,
    Notify,
    PointService,
    RecordEvent,
    RestoreSnapshot,
    ScaleDeployment,
    SetImage,
    SetPaused,
    SetRouteWeights,
)
from convoy.planner.observed import Measurement

BARRIER_PREFIX = "barrier.convoy.dev/"


async def perform(owner: Owner, action: Action, measurements: dict[str, Measurement]) -> None:
    match action:
        case SetImage():
            await workloads.set_image(owner, action)
        case ApplyManifests():
            await manifests.apply_manifests(owner, action)
        case RestoreSnapshot():
            await workloads.restore_snapshot(owner, action)
        case EnsureJob():
            await jobs.ensure_job(owner, action)
        case DeleteJob():
            await jobs.delete_job(action)
        case Measure():
            measurements[action.key] = await measure.measure(action.check)
        case Notify():
            await notify.notify(owner, action)
        case RecordEvent():
            await events.record_event(owner, action.key, action.reason, action.message, warning=action.warning)
        case MarkBarrier():
            await resources.annotate(
                "workflowruns", owner.namespace, owner.name, {BARRIER_PREFIX + action.name: action.state}
            )
        case EnsureCopy():
            await copies.ensure_copy(owner, action)
        case SetPaused():
            await workloads.set_paused(owner, action)
        case ScaleDeployment():
            await copies.scale(owner, action)
        case DeleteDeployment():
            await copies.delete(action)
        case PointService():
            await services.point_service(owner, action)
        case SetRouteWeights():
            await ROUTER.set_weights(action)
        case _:
            raise NotImplementedError(f"no adapter performs {type(action).__name__}")
