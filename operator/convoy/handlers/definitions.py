"""Workflows and Pipelines are definitions: the operator checks each version of their spec and says in the
status whether it accepts it (`Ready`), so a cluster without the admission webhook still shows a bad spec —
with the same messages — instead of failing later in a run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from convoy.adapters import events, grants, resources
from convoy.adapters.owner import Owner
from convoy.api.common import Condition, ConditionStatus, ConvoyModel, ObjectRef, ResourceStatus
from convoy.api.validation import FieldError, InvalidSpec, parse_spec, validate
from convoy.handlers import history
from convoy.handlers.runtime import OWN_WRITES
from convoy.planner.timeutil import stamp

KINDS = {"workflows": "Workflow", "pipelines": "Pipeline"}


def status_for(kind: str, body: dict[str, Any], now: datetime) -> ResourceStatus:
    """Pure: the status a definition should have."""
    meta = body["metadata"]
    errors = validate(kind, body)
    conditions = [Condition.model_validate(c) for c in (body.get("status") or {}).get("conditions") or []]
    previous = next((c for c in conditions if c.type == "Ready"), None)
    value = ConditionStatus.FALSE if errors else ConditionStatus.TRUE
    message = "; ".join(str(e) for e in errors)[:32000] if errors else f"{kind} accepted"
    changed = previous is None or previous.status is not value or previous.message != message
    condition = Condition(
        type="Ready",
        status=value,
        reason="InvalidSpec" if errors else "Accepted",
        message=message,
        last_transition_time=stamp(now) if changed or previous is None else previous.last_transition_time,
        observed_generation=meta.get("generation"),
    )
    return ResourceStatus(observed_generation=meta.get("generation"), conditions=[condition])


async def reconcile(plural: str, namespace: str, name: str) -> None:
    body = await resources.read(plural, namespace, name)
    if body is None:
        return
    kind = KINDS[plural]
    status = status_for(kind, body, datetime.now(UTC))
    wire = status.to_wire()
    if plural == "workflows":  # the status is written whole: the revision history goes into the same patch
        wire = await history.with_history(body, wire)
    if wire == body.get("status"):
        return
    ready = status.conditions[0]
    if ready.status is ConditionStatus.FALSE:
        owner = Owner(kind, name, namespace, body["metadata"]["uid"])
        key = f"invalid/{body['metadata'].get('generation')}"
        await events.record_event(owner, key, "InvalidSpec", ready.message, warning=True)
    try:
        written = await resources.replace_status(plural, body, wire)
    except resources.Conflict:
        await reconcile(plural, namespace, name)
    else:
        OWN_WRITES[(plural, namespace, name)] = written["metadata"]["resourceVersion"]


async def referenced(kind: str, ref: ObjectRef, namespace: str, field: str, referrer: str) -> ConvoyModel | InvalidSpec:
    """The spec of the Workflow or Pipeline a `referrer` (a kind) in `namespace` refers to (at `field`), or why it
    cannot be used: in another namespace without a Grant, missing, or invalid — its errors then name the
    definition, so the run's status says where to look."""
    ref_ns = ref.namespace or namespace
    refused = await grants.refusal(referrer, namespace, kind, ref_ns, ref.name)
    if refused is not None:
        return InvalidSpec([FieldError(field.rsplit(".", 1)[0] + ".namespace", refused)])
    body = await resources.read(f"{kind.lower()}s", ref_ns, ref.name)
    if body is None:
        return InvalidSpec([FieldError(field, f"{kind} {ref_ns}/{ref.name} not found: create it")])
    try:
        return parse_spec(kind, body.get("spec"))
    except InvalidSpec as invalid:
        return InvalidSpec([FieldError(f"{kind} {ref.name}: {e.path}", e.message) for e in invalid.errors])
