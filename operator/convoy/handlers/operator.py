"""The kopf registrations: which watch events and admission requests reach which handler.

Watch events only trigger reconciles (through the scheduler); they never carry the work themselves. kopf is
told to store nothing on Convoy's objects (no finalizers, no progress annotations), so what git applies and
what the operator writes never overlap.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import kopf
from prometheus_client import start_http_server

from convoy.adapters import kube, resources, seals
from convoy.adapters.owner import RUN
from convoy.api.resources import BY_PLURAL
from convoy.handlers import (
    admission,
    certs,
    config,
    definitions,
    garbage,
    history,
    metrics,
    peering,
    pipelineruns,
    rollbacks,
    triggers,
    workflowruns,
)
from convoy.handlers.runtime import DEPLOYMENTS, INDEX, RUNS, SCHEDULER, trigger_unless_own
from convoy.handlers.scheduler import Key
from convoy.planner.history import expires_at
from convoy.planner.rollbacks import ANNOTATION as ROLLBACK_ANNOTATION

log = logging.getLogger(__name__)
GROUP, VERSION = "convoy.dev", "v1alpha1"


async def _reconcile_run(key: Key) -> Any:
    return await workflowruns.reconcile(key[1], key[2], INDEX)


async def _reconcile_definition(key: Key) -> None:
    await definitions.reconcile(*key)


_ = triggers  # registers its kopf handlers and the "triggers" kind on import
SCHEDULER.register("workflowruns", _reconcile_run)
SCHEDULER.register("workflows", _reconcile_definition)
SCHEDULER.register("pipelines", _reconcile_definition)
metrics.report_runs(INDEX)
if config.current.highly_available:
    peering.follow(SCHEDULER)  # a replica that kopf's peering pauses starts no reconcile either


class NoEssence(kopf.DiffBaseStorage):
    """kopf builds each event's "essence" (a deep copy of the body) to diff it against the last handled one, even
    when no handler is a change handler: Convoy has only event handlers, so that diff is never used, and copying
    every run's status on every event was a tenth of the operator's CPU."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    cfg = config.current
    await kube.connect()
    settings.persistence.finalizer = "convoy.dev/finalizer"
    settings.persistence.diffbase_storage = NoEssence()
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [1, 2, 5, 10]
    settings.peering.lifetime = cfg.peering_lifetime
    if cfg.webhook_host is not None:
        certfile, keyfile = cfg.webhook_certfile, cfg.webhook_keyfile
        if certfile is None or keyfile is None:
            certfile, keyfile = certs.self_signed(cfg.webhook_host, cfg.webhook_certs)
        settings.admission.server = kopf.WebhookServer(
            addr=cfg.webhook_addr, port=cfg.webhook_port, host=cfg.webhook_host, certfile=certfile, pkeyfile=keyfile
        )
        settings.admission.managed = "convoy.dev"
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port, addr="0.0.0.0")
    for body in await _list_runs(cfg.namespaces):
        INDEX.observe(body)
    asyncio.get_running_loop().call_later(garbage.SETTLED_AFTER, garbage.freeze)
    log.info("convoy operator started; %d workflow runs known", len(INDEX.entries))


async def _list_runs(namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every WorkflowRun, before any is reconciled, so the queue knows who came first. Transient refusals (a
    CRD still initializing, throttling) are waited out."""
    for delay in (1, 2, 4, 8, 15, 30):
        try:
            if not namespaces:
                return await resources.list_all("workflowruns")
            return [body for ns in namespaces for body in await resources.list_all("workflowruns", ns)]
        except kube.ApiError as error:
            if error.status not in (404, 429, 500, 503):
                raise
            log.warning("listing workflow runs failed (%s); again in %ss", error.status, delay)
            await asyncio.sleep(delay)
    raise RuntimeError("could not list workflow runs: are the Convoy CRDs installed?")


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    await SCHEDULER.stop()
    await kube.close()


@kopf.on.event(GROUP, VERSION, "workflowruns")
async def run_event(type: str, body: kopf.Body, **_: Any) -> None:
    meta = body["metadata"]
    pipelineruns.family_event(body, deleted=type == "DELETED")
    if type == "DELETED":
        gone = INDEX.remove(meta["namespace"], meta["name"])
        RUNS.pop((meta["namespace"], meta["name"]), None)
        SCHEDULER.forget(("workflowruns", meta["namespace"], meta["name"]))
        SCHEDULER.forget(("expiries", meta["namespace"], meta["name"]))
        _wake_waiting(body, gone.targets if gone is not None else None)
        return
    raw = dict(body)
    INDEX.observe(raw)
    if (raw.get("status") or {}).get("result"):
        RUNS.pop((meta["namespace"], meta["name"]), None)  # finished: nothing left to reconcile from it
    else:
        RUNS[(meta["namespace"], meta["name"])] = raw
    trigger_unless_own("workflowruns", body)
    if (raw.get("status") or {}).get("result"):
        _wake_waiting(raw)
        _expire_when_due(raw)


def _wake_waiting(body: Any, known: list[str] | None = None) -> None:
    """A run that ended (or vanished) may be what queued runs were waiting for: runs of the same targets (as its
    status says, or as the index knew them when the status did not say yet), and runs waiting for a slot."""
    targets = list((body.get("status") or {}).get("targets") or known or [])
    for namespace, name in {*INDEX.sharing(targets), *INDEX.waiting_for_slots()}:
        SCHEDULER.trigger(("workflowruns", namespace, name))


def _expire_when_due(body: dict[str, Any]) -> None:
    """A finished run with a ttlSecondsAfterFinished: wake its expiry then (from the event; read again when due)."""
    due = _due(body)
    if due is not None:
        SCHEDULER.wake_at(("expiries", body["metadata"]["namespace"], body["metadata"]["name"]), due)


def _due(body: dict[str, Any]) -> datetime | None:
    view = history.view(body)
    return None if view is None else expires_at(view.spec, view.status)


async def _expire(key: Key) -> datetime | None:
    """Delete a finished run once its ttlSecondsAfterFinished is up (a write on a Convoy kind, as the operator)."""
    body = await resources.read("workflowruns", key[1], key[2])
    due = None if body is None else _due(body)
    if body is None or due is None:
        return None
    if due > datetime.now(UTC):
        return due
    if await resources.delete("workflowruns", key[1], key[2], body["metadata"]["uid"]):
        log.info("workflowrun %s/%s deleted: its ttlSecondsAfterFinished is up", key[1], key[2])
    return None


SCHEDULER.register("expiries", _expire)


@kopf.on.event(GROUP, VERSION, "workflows")
async def workflow_event(type: str, body: kopf.Body, **_: Any) -> None:
    if type != "DELETED":
        trigger_unless_own("workflows", body)


@kopf.on.event(GROUP, VERSION, "pipelineruns")
async def pipeline_run_event(type: str, body: kopf.Body, **_: Any) -> None:
    if type != "DELETED":
        pipelineruns.pipeline_run_event(body["metadata"]["namespace"], body["metadata"]["name"])


@kopf.on.event(GROUP, VERSION, "pipelines")
async def pipeline_event(type: str, body: kopf.Body, **_: Any) -> None:
    if type != "DELETED":
        trigger_unless_own("pipelines", body)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_event(type: str, body: kopf.Body, **_: Any) -> None:
    """Every Deployment (GitOps triggers watch any); the run that marked one is woken only when the planner would
    see it differently, not for each pod that becomes ready on the way."""
    meta = body["metadata"]
    changed = DEPLOYMENTS.observe(dict(body), deleted=type == "DELETED")  # first: the reconciles it wakes read it
    triggers.deployment_changed(meta["namespace"], meta["name"])
    namespace, _sep, name = str((meta.get("annotations") or {}).get(RUN, "")).partition("/")
    if changed and name:
        SCHEDULER.trigger(("workflowruns", namespace, name), urgent=True)


@kopf.on.event("batch", "v1", "jobs", labels={"convoy.dev/run": kopf.PRESENT})
async def job_event(body: kopf.Body, **_: Any) -> None:
    """A Job of a run changed. The label holds the run's name shortened to a label value (planner/cycle.py
    label_value); the run's own name is in the Job's ownerReference."""
    meta = body["metadata"]
    owners = [r["name"] for r in meta.get("ownerReferences") or [] if r.get("kind") == "WorkflowRun"]
    run = owners[0] if owners else meta["labels"]["convoy.dev/run"]
    SCHEDULER.trigger(("workflowruns", meta["namespace"], run), urgent=True)


# Rollbacks (handlers/rollbacks.py), and the revision history in each Workflow's status (handlers/history.py).


async def _reconcile_rollback(key: Key) -> None:
    await rollbacks.reconcile(key[1], key[2])


SCHEDULER.register("rollbacks", _reconcile_rollback)


@kopf.on.event(GROUP, VERSION, "rollbacks")
async def rollback_event(type: str, body: kopf.Body, **_: Any) -> None:
    if type != "DELETED":
        SCHEDULER.trigger(("rollbacks", body["metadata"]["namespace"], body["metadata"]["name"]))


@kopf.on.event(GROUP, VERSION, "workflowruns", annotations={ROLLBACK_ANNOTATION: kopf.PRESENT})
async def rolled_back_run_event(body: kopf.Body, **_: Any) -> None:
    """A run that a Rollback asked to roll back moved: that Rollback follows it."""
    namespace, _sep, name = str(body["metadata"]["annotations"][ROLLBACK_ANNOTATION]).partition("/")
    if name:
        SCHEDULER.trigger(("rollbacks", namespace, name))


@kopf.on.event(GROUP, VERSION, "workflowruns")
async def finished_run_event(type: str, body: kopf.Body, **_: Any) -> None:
    """A run of a Workflow that has ended may be a deployment for the Workflow's history."""
    workflow = history.ended_with_workflow(dict(body))
    if workflow is not None and type != "DELETED":
        SCHEDULER.trigger(("workflows", *workflow))


async def _validate(body: kopf.Body, userinfo: kopf.UserInfo, resource: kopf.Resource, **kwargs: Any) -> None:
    kind = BY_PLURAL[resource.plural].kind
    old = dict(kwargs["old"]) if kwargs.get("old") is not None else None
    errors = admission.problems(kind, dict(body), old, dict(userinfo))
    if not errors:
        errors = await admission.access_problems(kind, dict(body), old, dict(userinfo))
    if errors:
        raise kopf.AdmissionError("; ".join(str(e) for e in errors), code=422)


def _stamp(body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, resource: kopf.Resource, **kwargs: Any) -> None:
    kind = BY_PLURAL[resource.plural].kind
    old = dict(kwargs["old"]) if kwargs.get("old") is not None else None
    patch.update(admission.stamp_patch(kind, dict(body), old, dict(userinfo)))


seals.load(config.current.seal_key or config.current.webhook_certs / "seal.key")
if config.current.webhook_host is not None:  # kopf refuses to start with admission handlers but no server
    # Persistent and fail-closed, whatever the replica count: the webhooks outlive the process, so while no
    # operator runs, writes to Convoy's objects are refused rather than let through unchecked and unstamped.
    _writes: list[kopf.Operation] = ["CREATE", "UPDATE"]
    for _plural in BY_PLURAL:
        kopf.on.validate(
            GROUP, VERSION, _plural, id=f"validate-{_plural}", operations=_writes, persistent=True,
            ignore_failures=False,
        )(_validate)  # fmt: skip
    for _plural in ("workflowruns", "pipelineruns", "rollbacks"):
        kopf.on.mutate(
            GROUP, VERSION, _plural, id=f"stamp-{_plural}", operations=_writes, persistent=True, ignore_failures=False
        )(_stamp)
