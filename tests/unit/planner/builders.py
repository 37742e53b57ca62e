"""Short builders of workflows and steps for the planner tests.

Steps and workflows are written in wire format (camelCase dicts, as in a manifest) and parsed with the validator,
so every workflow a test runs is one the API server would accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convoy.api.validation import parse_spec
from convoy.api.workflow import WorkflowSpec

Obj = dict[str, Any]

NAMESPACE = "shop"
RUN_NAME = "web-1"
DEPLOYMENT = "web"
OLD_IMAGE = "registry.example/web:1.0"
NEW_IMAGE = "registry.example/web:1.1"


def pod_template(image: str = "registry.example/tools:1.0") -> Obj:
    return {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}}


def step(name: str, kind: str, body: Obj | None = None, **extra: Any) -> Obj:
    """A step of one kind, with extra step fields in wire format: step("x", "pause", {}, when="false")."""
    return {"name": name, kind: body if body is not None else {}, **extra}


def deploy(name: str = "deploy", **extra: Any) -> Obj:
    return step(name, "deploy", **extra)


def pause(name: str = "pause", duration: str | None = None, **extra: Any) -> Obj:
    return step(name, "pause", {"duration": duration} if duration else {}, **extra)


def approval(
    name: str = "approve",
    approvers: Iterable[str] = (),
    timeout: str | None = None,
    timeout_action: str | None = None,
    **extra: Any,
) -> Obj:
    body: Obj = {"approvers": list(approvers)}
    if timeout is not None:
        body["timeout"] = timeout
    if timeout_action is not None:
        body["timeoutAction"] = timeout_action
    return step(name, "approval", body, **extra)


def job(name: str = "migrate", outputs: list[Obj] | None = None, backoff_limit: int | None = None, **extra: Any) -> Obj:
    body: Obj = {"template": pod_template()}
    if outputs:
        body["outputs"] = outputs
    if backoff_limit is not None:
        body["backoffLimit"] = backoff_limit
    return step(name, "job", body, **extra)


def _verify(name: str, provider: Obj, count: int, failure_limit: int, interval: str, extra: Obj) -> Obj:
    body = {**provider, "count": count, "failureLimit": failure_limit, "interval": interval}
    return step(name, "verify", body, **extra)


def verify_http(
    name: str = "smoke", count: int = 1, failure_limit: int = 0, interval: str = "10s", **extra: Any
) -> Obj:
    return _verify(name, {"http": {"url": "http://web.shop.svc/healthz"}}, count, failure_limit, interval, extra)


def verify_prometheus(
    name: str = "metrics",
    inconclusive_is: str = "Failure",
    count: int = 1,
    failure_limit: int = 0,
    interval: str = "10s",
    **extra: Any,
) -> Obj:
    prometheus = {
        "address": "http://prometheus.monitoring.svc:9090",
        "query": "sum(rate(errors[1m]))",
        "successCondition": "result < 0.05",
        "inconclusiveIs": inconclusive_is,
    }
    return _verify(name, {"prometheus": prometheus}, count, failure_limit, interval, extra)


def verify_job(name: str = "smoke", **extra: Any) -> Obj:
    return step(name, "verify", {"job": {"template": pod_template()}}, **extra)


def notify(name: str = "announce", message: str = "web is out", webhook: Obj | None = None, **extra: Any) -> Obj:
    body: Obj = {"message": message}
    if webhook is not None:
        body["webhook"] = webhook
    return step(name, "notify", body, **extra)


def barrier(name: str = "sync", barrier_name: str = "meet", timeout: str | None = None, **extra: Any) -> Obj:
    body: Obj = {"name": barrier_name}
    if timeout is not None:
        body["timeout"] = timeout
    return step(name, "barrier", body, **extra)


def rollback_step(name: str = "rollback", **extra: Any) -> Obj:
    return step(name, "rollback", **extra)


def strategy(
    action: str,
    *errors: str,
    count: int | None = None,
    interval: str | None = None,
    backoff: float | None = None,
    then: str | None = None,
    timeout: str | None = None,
    default_action: str | None = None,
) -> Obj:
    """A failure strategy: strategy("Retry", "JobFailed", count=2, then="Abort")."""
    out: Obj = {"action": action}
    if errors:
        out["errors"] = list(errors)
    retry = {"count": count, "interval": interval, "backoff": backoff, "then": then}
    if any(v is not None for v in retry.values()):
        out["retry"] = {k: v for k, v in retry.items() if v is not None}
    manual = {"timeout": timeout, "defaultAction": default_action}
    if any(v is not None for v in manual.values()):
        out["manualIntervention"] = {k: v for k, v in manual.items() if v is not None}
    return out


def phase(name: str, *steps: Obj, rollback: list[Obj] | None = None, deployment: str | None = None) -> Obj:
    out: Obj = {"name": name, "steps": list(steps)}
    if rollback is not None:
        out["rollbackSteps"] = rollback
    if deployment is not None:
        out["target"] = {"deployment": deployment}
    return out


def workflow(wire: Obj) -> WorkflowSpec:
    spec = parse_spec("Workflow", wire)
    assert isinstance(spec, WorkflowSpec)
    return spec


def rolling_wire(
    *steps: Obj,
    phases: list[Obj] | None = None,
    failure_strategies: Iterable[Obj] = (),
    image: str = NEW_IMAGE,
    **extra: Any,
) -> Obj:
    """A Rolling workflow of `web` in wire format: one phase `rollout` of a deploy step then `steps`, unless
    `phases` are given."""
    return {
        "type": "Rolling",
        "target": {"deployment": DEPLOYMENT},
        "artifact": {"image": image},
        "phases": phases if phases is not None else [phase("rollout", deploy(), *steps)],
        "failureStrategies": list(failure_strategies),
        **extra,
    }


def rolling(
    *steps: Obj,
    phases: list[Obj] | None = None,
    failure_strategies: Iterable[Obj] = (),
    image: str = NEW_IMAGE,
    **extra: Any,
) -> WorkflowSpec:
    return workflow(rolling_wire(*steps, phases=phases, failure_strategies=failure_strategies, image=image, **extra))


def multi_service(*phases: Obj, failure_strategies: Iterable[Obj] = (), **extra: Any) -> WorkflowSpec:
    return workflow(
        {
            "type": "MultiService",
            "artifact": {"image": NEW_IMAGE},
            "phases": list(phases),
            "failureStrategies": list(failure_strategies),
            **extra,
        }
    )
