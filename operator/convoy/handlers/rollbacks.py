"""Reconciling a Rollback: decide once whether it may go ahead, ask its run to roll back, then follow that run.

1. Pending: the rules of planner/rollbacks.py pick the run (or refuse, and the Rollback ends Refused). The choice is
   written to the status first, so that a restart never picks twice.
2. Running: the run gets a Rollback decision and the `convoy.dev/rollback` annotation naming this Rollback
   (adapters/rollbacks.py, once). The run's planner does the work: a run in flight stops and undoes the phases it
   started; a run that succeeded reopens into a post-deployment rollback. The annotation makes every event of the
   run wake this Rollback (handlers/operator.py), and each pass mirrors the run's rollback records and result.
3. Succeeded or Failed once the run ends RolledBack, or fails, is aborted or vanishes; Refused and both of these
   are final.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from convoy.adapters import events, resources, rollbacks
from convoy.adapters.owner import Owner
from convoy.api.rollback import RollbackPhase, RollbackSpec, RollbackStatus
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.api.workflow import WorkflowSpec
from convoy.handlers import admission, history
from convoy.planner.history import RunView
from convoy.planner.rollbacks import (
    FINAL,
    Refusal,
    accepted,
    choose,
    decision,
    progress,
    refused,
    workflow_name,
)
from convoy.planner.rollbacks import events as phase_events

log = logging.getLogger(__name__)
PLURAL = "rollbacks"
MAX_CONFLICTS = 5


async def reconcile(namespace: str, name: str) -> None:
    for _ in range(MAX_CONFLICTS):
        body = await resources.read(PLURAL, namespace, name)
        if body is None:
            return
        try:
            await _reconcile_once(body)
            return
        except resources.Conflict:
            log.info("rollback %s/%s changed while reconciling; again", namespace, name)
    raise resources.Conflict(f"rollback {namespace}/{name} kept changing")


async def _reconcile_once(body: dict[str, Any]) -> None:
    meta = body["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    status = RollbackStatus.model_validate(body.get("status") or {})
    if status.phase in FINAL:
        return
    owner = Owner("Rollback", name, namespace, meta["uid"])
    now = datetime.now(UTC)
    try:
        spec = parse_spec("Rollback", body.get("spec"))
    except InvalidSpec as invalid:
        await _write(owner, body, status, refused(status, f"invalid spec: {invalid}", generation, now))
        return
    assert isinstance(spec, RollbackSpec)
    runs = await history.runs_in(namespace)
    if status.workflow_run is None:
        status = await _decide(name, namespace, spec, runs, status, generation, now)
        await _write(owner, body, RollbackStatus(), status)
        if status.phase is RollbackPhase.RUNNING:
            await _request(body, spec, status.workflow_run)
        return  # the run's next event (the request is one) wakes this Rollback to follow it
    await _request(body, spec, status.workflow_run)
    run = next((r for r in runs if r.name == status.workflow_run), None)
    await _write(owner, body, status, progress(status, run, generation, now))


async def _request(body: dict[str, Any], spec: RollbackSpec, run: str | None) -> None:
    """The run carries this Rollback's decision, for the user who created the Rollback (appended once: a no-op
    when it does)."""
    assert run is not None
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    wanted = decision(name, spec, admission.creator("Rollback", body)).to_wire()
    await rollbacks.ensure_rollback_requested(namespace, run, f"{namespace}/{name}", wanted)


async def _decide(
    name: str,
    namespace: str,
    spec: RollbackSpec,
    runs: list[RunView],
    status: RollbackStatus,
    generation: int | None,
    now: datetime,
) -> RollbackStatus:
    workflow: WorkflowSpec | InvalidSpec | None = None
    recorded = []
    wf_name = workflow_name(spec, runs)
    if wf_name is not None:
        found = await resources.read("workflows", namespace, wf_name)
        if found is not None:
            workflow, recorded = history.workflow_spec(found), history.recorded(found)
    chosen = choose(
        rollback=name, namespace=namespace, spec=spec, runs=runs, workflow=workflow, workflow_history=recorded
    )
    if isinstance(chosen, Refusal):
        return refused(status, chosen.message, generation, now)
    return accepted(status, chosen, generation, now)


async def _write(owner: Owner, body: dict[str, Any], old: RollbackStatus, new: RollbackStatus) -> None:
    """Write the status if it changed (the one write of a pass), then record the Events of the change."""
    wire = new.to_wire()
    if wire == body.get("status"):
        return
    await resources.replace_status(PLURAL, body, wire)
    for event in phase_events(owner.name, old, new):
        await events.record_event(owner, event.key, event.reason, event.message, warning=event.warning)
