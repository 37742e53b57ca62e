"""Performing a plan's actions through the adapters; measurement results come back for the next plan."""

from __future__ import annotations

from convoy.adapters import events, jobs, manifests, measure, notify, resources, workloads
from convoy.adapters.owner import Owner
from convoy.planner.actions import (
    Action,
    ApplyManifests,
    DeleteJob,
    EnsureJob,
    MarkBarrier,
    Measure,
    Notify,
    RecordEvent,
    RestoreSnapshot,
    SetImage,
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
        case _:
            raise NotImplementedError(f"no adapter performs {type(action).__name__}")
