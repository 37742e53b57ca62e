"""GitOps triggers: a Workflow whose trigger watches its target Deployment starts a run when that Deployment's
pod template changes — an image bumped in git and synced by Argo CD or Flux — and never for a change Convoy
made itself (those update the `convoy.dev/template-hash` mark in the same patch).

The run is named after the template's hash, so seeing the same change twice (a restart, a repeated event)
creates it once. A Canary workflow's target is kept paused while no run deploys it, so the change waits for
its canary instead of rolling out at once (see docs/gitops.md).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import kopf

from convoy.adapters import events, grants, resources, triggered, workloads
from convoy.adapters.kube import ApiError, Tenant, acting_as
from convoy.adapters.owner import Owner
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.api.workflow import WorkflowSpec, WorkflowType
from convoy.handlers import config
from convoy.handlers.execute import lasting_refusal
from convoy.handlers.runtime import INDEX, SCHEDULER
from convoy.handlers.scheduler import Key
from convoy.planner.actions import SetPaused
from convoy.planner.cycle import object_name

log = logging.getLogger(__name__)
Target = tuple[str, str]
WATCHED: dict[Target, set[Target]] = {}  # (namespace, deployment) -> the workflows whose triggers watch it


def _targets(namespace: str, spec: WorkflowSpec) -> list[Target]:
    if not spec.triggers or spec.target is None or spec.target.deployment is None:
        return []
    return [(spec.target.namespace or namespace, spec.target.deployment)]


def _parse(body: dict[str, Any]) -> WorkflowSpec | None:
    try:
        spec = parse_spec("Workflow", body.get("spec"))
    except InvalidSpec:
        return None
    return spec if isinstance(spec, WorkflowSpec) else None


@kopf.on.event("convoy.dev", "v1alpha1", "workflows", id="triggers-workflows")
async def workflow_event(type: str, body: kopf.Body, **_: Any) -> None:
    me = (body["metadata"]["namespace"], body["metadata"]["name"])
    for watchers in WATCHED.values():
        watchers.discard(me)
    spec = None if type == "DELETED" else _parse(dict(body))
    for target in _targets(me[0], spec) if spec is not None else []:
        WATCHED.setdefault(target, set()).add(me)
        SCHEDULER.trigger(("triggers", *target))


def deployment_changed(namespace: str, name: str) -> None:
    """A watch event of a Deployment (any change: the template's is read when reconciled)."""
    if WATCHED.get((namespace, name)):
        SCHEDULER.trigger(("triggers", namespace, name))


async def reconcile(key: Key) -> None:
    namespace, name = key[1], key[2]
    deployment = await workloads.read_deployment(namespace, name)
    if deployment is None:
        return
    annotations = deployment["metadata"].get("annotations") or {}
    current = workloads.template_hash(deployment["spec"]["template"])
    seen = annotations.get(workloads.TEMPLATE_HASH)
    busy = bool(INDEX.sharing([f"{namespace}/{name}"]))
    marker: Tenant | None = None
    for wf_namespace, wf_name in sorted(WATCHED.get((namespace, name), set())):
        body = await resources.read("workflows", wf_namespace, wf_name)
        spec = _parse(body) if body is not None else None
        if body is None or spec is None:
            continue
        owner = Owner("Workflow", wf_name, wf_namespace, body["metadata"]["uid"])
        refused = await grants.refusal("Workflow", wf_namespace, "Deployment", namespace, name)
        if refused is not None:
            await _refused(owner, namespace, name, refused)
            continue
        tenant = Tenant(wf_namespace, spec.service_account_name or config.current.default_service_account)
        try:
            with acting_as(tenant):  # the trigger acts for the Workflow, with its ServiceAccount's rights
                await _act(owner, spec, deployment, paused=busy, changed=seen is not None and seen != current)
        except ApiError as error:
            refusal = lasting_refusal(owner.uid, error)
            if refusal is None:
                raise
            await _refused(owner, namespace, name, refusal.message)
            continue
        marker = marker or tenant
    if seen != current and marker is not None:
        with acting_as(marker):
            await workloads.mark_template(namespace, name, current)


async def _refused(owner: Owner, namespace: str, name: str, why: str) -> None:
    """The Workflow's owners see why its trigger does nothing: a Warning Event on it, once per reason."""
    log.warning("trigger of workflow %s/%s on %s/%s refused: %s", owner.namespace, owner.name, namespace, name, why)
    key = f"trigger/{namespace}/{name}/{hashlib.sha256(why.encode()).hexdigest()[:12]}"
    await events.record_event(
        owner, key, "TriggerRefused", f"trigger on Deployment {namespace}/{name}: {why}", warning=True
    )


async def _act(owner: Owner, spec: WorkflowSpec, deployment: dict[str, Any], *, paused: bool, changed: bool) -> None:
    """Keep a canary's stable Deployment paused between runs; start a run when git changed the pod template."""
    namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    if spec.type is WorkflowType.CANARY and not paused and not deployment["spec"].get("paused"):
        await workloads.set_paused(owner, SetPaused(namespace, name, True))
    if not changed:
        return
    current = workloads.template_hash(deployment["spec"]["template"])
    await triggered.create_run(
        namespace=owner.namespace,
        name=object_name(owner.name, current[:10]),
        workflow=owner.name,
        variables=_variables(spec, deployment),
        labels={"convoy.dev/trigger": "PodTemplate"},
    )
    log.info("template of %s/%s changed: started a run of workflow %s/%s", namespace, name, owner.namespace, owner.name)


def _variables(spec: WorkflowSpec, deployment: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for trigger in spec.triggers:
        values.update(trigger.variables)
        if trigger.image_variable is not None:
            container = spec.artifact.container if spec.artifact else None
            containers = deployment["spec"]["template"]["spec"]["containers"]
            chosen = next((c for c in containers if c["name"] == container), containers[0])
            values[trigger.image_variable] = chosen["image"]
    return values


SCHEDULER.register("triggers", reconcile)
