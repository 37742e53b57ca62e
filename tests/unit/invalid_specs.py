"""Invalid Convoy objects, each with the exact field path and a word or two of the message `validate()` gives.

A data module: the unit tests (test_validation.py) check every case against `validate()`, and the e2e tests send
each object as it is to a real API server with the admission webhook. So every object is complete (apiVersion,
kind, metadata.name = the case id) and JSON-ready. Each case starts from a valid baseline (`BASELINES`, also
checked) and breaks one thing with `edited()`, so a case reads as "this object, but with that field wrong".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

API_VERSION = "convoy.dev/v1alpha1"

Obj = dict[str, Any]


@dataclass(frozen=True)
class InvalidCase:
    id: str
    kind: str
    obj: Obj
    path: str
    fragment: str


class _Removed:
    """Marks a path to delete in `edited()`."""


REMOVED = _Removed()
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def edited(obj: Obj, changes: Mapping[str, Any]) -> Obj:
    """A deep copy of `obj` with each path (`spec.phases[0].weight`) set to its value, or deleted if REMOVED."""
    result = copy.deepcopy(obj)
    for path, value in changes.items():
        keys: list[str | int] = [name if name else int(index) for name, index in _TOKEN.findall(path)]
        parent: Any = result
        for key in keys[:-1]:
            parent = parent[key]
        if isinstance(value, _Removed):
            del parent[keys[-1]]
        else:
            parent[keys[-1]] = copy.deepcopy(value)
    return result


def resource(kind: str, spec: Obj, name: str = "example") -> Obj:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def step(name: str, kind: str, body: Obj | None = None, **extra: Any) -> Obj:
    """A step of one kind: step("smoke", "verify", {"http": {...}})."""
    return {"name": name, kind: body if body is not None else {}, **extra}


def http_check(url: str = "http://web.default.svc/healthz") -> Obj:
    return {"http": {"url": url}}


def pod_template(image: str = "registry.example/tools:1.0") -> Obj:
    return {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}}


# Baselines: one valid object per workflow type and per kind.


def rolling() -> Obj:
    return resource(
        "Workflow",
        {
            "type": "Rolling",
            "variables": [{"name": "version", "required": True}],
            "target": {"deployment": "web"},
            "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
            "phases": [
                {"name": "rollout", "steps": [step("deploy", "deploy"), step("smoke", "verify", http_check())]},
            ],
        },
    )


def canary() -> Obj:
    return resource(
        "Workflow",
        {
            "type": "Canary",
            "target": {"deployment": "web", "service": "web"},
            "artifact": {"image": "registry.example/web:1.1"},
            "canary": {"split": "Replicas"},
            "phases": [
                {"name": "canary-10", "weight": 10, "steps": [step("deploy", "deploy"), step("soak", "pause")]},
                {"name": "canary-50", "weight": 50, "steps": [step("deploy", "deploy")]},
                {"name": "full", "weight": 100, "steps": [step("deploy", "deploy")]},
            ],
        },
    )


def canary_gateway() -> Obj:
    route = {"httpRoute": "web", "stableService": "web-stable", "canaryService": "web-canary"}
    return edited(canary(), {"spec.canary": {"split": "TrafficRoute", "trafficRoute": route}})


def blue_green() -> Obj:
    return resource(
        "Workflow",
        {
            "type": "BlueGreen",
            "target": {"deployment": "api"},
            "artifact": {"image": "registry.example/api:2.0"},
            "blueGreen": {"activeService": "api", "previewService": "api-preview"},
            "phases": [
                {"name": "preview", "steps": [step("deploy", "deploy"), step("check", "verify", http_check())]},
                {"name": "promote", "steps": [step("swap", "swap")]},
            ],
        },
    )


def basic() -> Obj:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}
    return resource(
        "Workflow",
        {
            "type": "Basic",
            "target": {"manifests": [config]},
            "phases": [{"name": "apply", "steps": [step("apply", "deploy")]}],
        },
    )


def multi_service() -> Obj:
    return resource(
        "Workflow",
        {
            "type": "MultiService",
            "artifact": {"image": "registry.example/store:1.1"},
            "phases": [
                {"name": "api", "target": {"deployment": "store-api"}, "steps": [step("deploy", "deploy")]},
                {"name": "worker", "target": {"deployment": "store-worker"}, "steps": [step("deploy", "deploy")]},
            ],
        },
    )


def build() -> Obj:
    job = {"template": pod_template(), "outputs": [{"name": "image"}]}
    return resource(
        "Workflow",
        {
            "type": "Build",
            "variables": [{"name": "revision", "required": True}],
            "phases": [{"name": "build", "steps": [step("build-image", "job", job)]}],
        },
    )


def pipeline() -> Obj:
    return resource(
        "Pipeline",
        {
            "variables": [{"name": "revision", "required": True}],
            "stages": [
                {
                    "name": "build",
                    "workflow": {
                        "workflowRef": {"name": "web-build"},
                        "variables": {"revision": "${pipeline.variables.revision}"},
                    },
                },
                {"name": "approve", "approval": {"timeout": "4h"}},
                {
                    "name": "deploy",
                    "workflow": {
                        "workflowRef": {"name": "web-rolling"},
                        "variables": {"version": "${stages.build.outputs.image}"},
                    },
                },
            ],
        },
    )


def workflow_run() -> Obj:
    return resource("WorkflowRun", {"workflowRef": {"name": "web"}, "variables": {"version": "1.1"}})


def inline_run() -> Obj:
    return resource("WorkflowRun", {"workflow": rolling()["spec"], "variables": {"version": "1.1"}})


def pipeline_run() -> Obj:
    return resource(
        "PipelineRun",
        {"pipelineRef": {"name": "app-ci"}, "variables": {"revision": "4f2c9e1"}, "trigger": {"branch": "main"}},
    )


def rollback() -> Obj:
    return resource("Rollback", {"workflowRef": {"name": "web"}, "reason": "errors since 1.1"})


BASELINES: dict[str, Obj] = {
    "rolling": rolling(),
    "canary": canary(),
    "canary-gateway": canary_gateway(),
    "blue-green": blue_green(),
    "basic": basic(),
    "multi-service": multi_service(),
    "build": build(),
    "pipeline": pipeline(),
    "workflow-run": workflow_run(),
    "inline-run": inline_run(),
    "pipeline-run": pipeline_run(),
    "rollback": rollback(),
}


def case(id: str, base: Obj, changes: Mapping[str, Any], path: str, fragment: str) -> InvalidCase:
    """`base` with `changes`, named after the case so that the e2e tests can create it as it is."""
    obj = edited(base, {**changes, "metadata.name": id})
    return InvalidCase(id=id, kind=obj["kind"], obj=obj, path=path, fragment=fragment)


STEP1 = "spec.phases[0].steps[1]"  # the second step of the first phase: `smoke` in rolling(), `soak` in canary()
RETRY = {"count": 2, "interval": "10s"}

CASES: list[InvalidCase] = [
    # Enums
    case("type-unknown", rolling(), {"spec.type": "Canry"}, "spec.type", "not allowed"),
    case(
        "variable-type-unknown", rolling(), {"spec.variables[0].type": "Integer"}, "spec.variables[0].type", "'Number'"
    ),
    case(
        "failure-action-unknown",
        rolling(),
        {"spec.failureStrategies": [{"action": "Restart"}]},
        "spec.failureStrategies[0].action",
        "not allowed",
    ),
    case(
        "error-kind-unknown",
        rolling(),
        {"spec.failureStrategies": [{"errors": ["Timeout", "Crash"], "action": "Abort"}]},
        "spec.failureStrategies[0].errors[1]",
        "'VerificationFailed'",
    ),
    case("canary-split-unknown", canary(), {"spec.canary.split": "Weighted"}, "spec.canary.split", "'TrafficRoute'"),
    case(
        "approval-timeout-action-unknown",
        rolling(),
        {STEP1: step("approve", "approval", {"timeoutAction": "Ignore"})},
        f"{STEP1}.approval.timeoutAction",
        "not allowed",
    ),
    case(
        "decision-action-unknown",
        workflow_run(),
        {"spec.decisions": [{"action": "Approved"}]},
        "spec.decisions[0].action",
        "'Approve'",
    ),
    case(
        "on-stage-failure-unknown",
        pipeline(),
        {"spec.onStageFailure": "Continue"},
        "spec.onStageFailure",
        "'FinishRunning'",
    ),
    # Required fields
    case("spec-missing", rolling(), {"spec": REMOVED}, "spec", "required"),
    case("type-missing", rolling(), {"spec.type": REMOVED}, "spec.type", "required"),
    case("phases-missing", rolling(), {"spec.phases": REMOVED}, "spec.phases", "required"),
    case("phase-without-steps", rolling(), {"spec.phases[0].steps": []}, "spec.phases[0].steps", "at least 1"),
    case(
        "step-name-missing",
        rolling(),
        {"spec.phases[0].steps[0].name": REMOVED},
        "spec.phases[0].steps[0].name",
        "required",
    ),
    case("http-url-missing", rolling(), {f"{STEP1}.verify.http": {}}, f"{STEP1}.verify.http.url", "required"),
    case("workflow-ref-name-missing", workflow_run(), {"spec.workflowRef": {}}, "spec.workflowRef.name", "required"),
    case("pipeline-ref-missing", pipeline_run(), {"spec.pipelineRef": REMOVED}, "spec.pipelineRef", "required"),
    case(
        "notify-message-empty",
        rolling(),
        {STEP1: step("tell", "notify", {"message": ""})},
        f"{STEP1}.notify.message",
        "at least 1",
    ),
    # Ranges
    case(
        "weight-above-100",
        canary(),
        {"spec.phases[0].weight": 120},
        "spec.phases[0].weight",
        "less than or equal to 100",
    ),
    case(
        "verify-count-negative",
        rolling(),
        {f"{STEP1}.verify.count": -1},
        f"{STEP1}.verify.count",
        "greater than or equal to 1",
    ),
    case(
        "failure-limit-negative",
        rolling(),
        {f"{STEP1}.verify.failureLimit": -2},
        f"{STEP1}.verify.failureLimit",
        "greater than or equal to 0",
    ),
    case(
        "retry-count-zero",
        rolling(),
        {"spec.failureStrategies": [{"action": "Retry", "retry": {"count": 0}}]},
        "spec.failureStrategies[0].retry.count",
        "greater than or equal to 1",
    ),
    case(
        "max-surge-negative",
        canary(),
        {"spec.canary.maxSurge": -1},
        "spec.canary.maxSurge",
        "greater than or equal to 0",
    ),
    case(
        "job-backoff-limit-too-high",
        build(),
        {"spec.phases[0].steps[0].job.backoffLimit": 11},
        "spec.phases[0].steps[0].job.backoffLimit",
        "less than or equal to 10",
    ),
    case(
        "expected-status-not-http",
        rolling(),
        {f"{STEP1}.verify.http.expectedStatus": [700]},
        f"{STEP1}.verify.http.expectedStatus[0]",
        "HTTP status",
    ),
    # Names: DNS-1123 labels and object names
    case("phase-name-upper-case", rolling(), {"spec.phases[0].name": "Rollout"}, "spec.phases[0].name", "DNS-1123"),
    case("step-name-underscore", rolling(), {f"{STEP1}.name": "smoke_test"}, f"{STEP1}.name", "DNS-1123"),
    case("stage-name-upper-case", pipeline(), {"spec.stages[1].name": "Approve"}, "spec.stages[1].name", "DNS-1123"),
    case(
        "deployment-name-invalid",
        rolling(),
        {"spec.target.deployment": "Web_App"},
        "spec.target.deployment",
        "object name",
    ),
    case(
        "workflow-ref-name-invalid",
        workflow_run(),
        {"spec.workflowRef.name": "Web"},
        "spec.workflowRef.name",
        "object name",
    ),
    case(
        "target-namespace-invalid", rolling(), {"spec.target.namespace": "Prod_EU"}, "spec.target.namespace", "DNS-1123"
    ),
    case(
        "stage-namespace-invalid",
        pipeline(),
        {"spec.stages[0].workflow.namespace": "CI"},
        "spec.stages[0].workflow.namespace",
        "DNS-1123",
    ),
    case(
        "variable-name-invalid",
        rolling(),
        {"spec.variables[0].name": "1st-version"},
        "spec.variables[0].name",
        "variable name",
    ),
    case(
        "barrier-name-invalid",
        rolling(),
        {STEP1: step("meet", "barrier", {"name": "Regions_Deployed"})},
        f"{STEP1}.barrier.name",
        "DNS-1123",
    ),
    case(
        "barrier-name-too-long",
        rolling(),
        {STEP1: step("meet", "barrier", {"name": "b" * 41})},
        f"{STEP1}.barrier.name",
        "at most 40",
    ),
    # Durations
    case(
        "pause-duration-words",
        canary(),
        {f"{STEP1}.pause.duration": "5 minutes"},
        f"{STEP1}.pause.duration",
        "duration",
    ),
    case(
        "step-timeout-without-unit",
        rolling(),
        {"spec.phases[0].steps[0].timeout": "10"},
        "spec.phases[0].steps[0].timeout",
        "'30s'",
    ),
    case(
        "steady-state-timeout-zero", rolling(), {"spec.steadyStateTimeout": "0s"}, "spec.steadyStateTimeout", "positive"
    ),
    case(
        "step-timeout-zero",
        rolling(),
        {"spec.phases[0].steps[0].timeout": "0m"},
        "spec.phases[0].steps[0].timeout",
        "positive",
    ),
    case(
        "approval-timeout-zero",
        rolling(),
        {STEP1: step("approve", "approval", {"timeout": "0s"})},
        f"{STEP1}.approval.timeout",
        "positive",
    ),
    case("pause-duration-zero", canary(), {f"{STEP1}.pause.duration": "0s"}, f"{STEP1}.pause.duration", "positive"),
    case(
        "verify-interval-zero", rolling(), {f"{STEP1}.verify.interval": "0ms"}, f"{STEP1}.verify.interval", "positive"
    ),
    case(
        "stage-approval-timeout-zero",
        pipeline(),
        {"spec.stages[1].approval.timeout": "0h"},
        "spec.stages[1].approval.timeout",
        "positive",
    ),
    # Unknown fields: typos
    case(
        "phase-instead-of-phases",
        rolling(),
        {"spec.phase": rolling()["spec"]["phases"], "spec.phases": REMOVED},
        "spec.phase",
        "unknown field",
    ),
    case(
        "stpes-instead-of-steps",
        rolling(),
        {"spec.phases[0].stpes": [step("deploy", "deploy")], "spec.phases[0].steps": REMOVED},
        "spec.phases[0].stpes",
        "unknown field",
    ),
    case("weigth-in-phase", canary(), {"spec.phases[0].weigth": 10}, "spec.phases[0].weigth", "unknown field"),
    case(
        "image-in-target",
        rolling(),
        {"spec.target.image": "registry.example/web:1.1"},
        "spec.target.image",
        "unknown field",
    ),
    case(
        "requirez-in-stage",
        pipeline(),
        {"spec.stages[2].requirez": ["build"]},
        "spec.stages[2].requirez",
        "unknown field",
    ),
    case(
        "trigger-branches",
        pipeline_run(),
        {"spec.trigger.branches": ["main"]},
        "spec.trigger.branches",
        "unknown field",
    ),
    case(
        "notification-without-events",
        rolling(),
        {"spec.notifications": [{"notify": {"message": "failed"}}]},
        "spec.notifications[0].events",
        "required",
    ),
    # Step kinds
    case("step-without-kind", rolling(), {STEP1: {"name": "nothing"}}, STEP1, "found: none"),
    case(
        "step-with-two-kinds",
        rolling(),
        {STEP1: {"name": "both", "deploy": {}, "pause": {}}},
        STEP1,
        "found: deploy, pause",
    ),
    case(
        "verify-with-two-providers",
        rolling(),
        {
            f"{STEP1}.verify.prometheus": {
                "address": "http://prometheus:9090",
                "query": "up",
                "successCondition": "result == 1",
            }
        },
        f"{STEP1}.verify",
        "exactly one of http, prometheus or job",
    ),
    case(
        "http-url-without-scheme",
        rolling(),
        {f"{STEP1}.verify.http.url": "web/healthz"},
        f"{STEP1}.verify.http.url",
        "http://",
    ),
    case(
        "http-method-unknown",
        rolling(),
        {f"{STEP1}.verify.http.method": "DELETE"},
        f"{STEP1}.verify.http.method",
        "GET",
    ),
    case(
        "body-pattern-invalid-regex",
        rolling(),
        {f"{STEP1}.verify.http.bodyPattern": "([a-z"},
        f"{STEP1}.verify.http.bodyPattern",
        "regular expression",
    ),
    case(
        "body-pattern-backreference",
        rolling(),
        {f"{STEP1}.verify.http.bodyPattern": r"(a)\1"},
        f"{STEP1}.verify.http.bodyPattern",
        "not a valid RE2 regular expression",
    ),
    case(
        "success-condition-without-result",
        rolling(),
        {
            f"{STEP1}.verify": {
                "prometheus": {"address": "http://prometheus:9090", "query": "up", "successCondition": "rate < 0.05"}
            }
        },
        f"{STEP1}.verify.prometheus.successCondition",
        "comparison of `result`",
    ),
    case(
        "success-condition-bad-number",
        rolling(),
        {
            f"{STEP1}.verify": {
                "prometheus": {"address": "http://prometheus:9090", "query": "up", "successCondition": "result < 1.2.3"}
            }
        },
        f"{STEP1}.verify.prometheus.successCondition",
        "not a number",
    ),
    case(
        "job-without-containers",
        build(),
        {"spec.phases[0].steps[0].job.template": {"spec": {"restartPolicy": "Never"}}},
        "spec.phases[0].steps[0].job.template.spec.containers",
        "container",
    ),
    case(
        "when-compares-twice", rolling(), {f"{STEP1}.when": "a == b == c"}, f"{STEP1}.when", "compares two values once"
    ),
    # Failure strategies
    case(
        "retry-settings-with-rollback-action",
        rolling(),
        {"spec.failureStrategies": [{"action": "Rollback", "retry": RETRY}]},
        "spec.failureStrategies[0].retry",
        "action: Retry",
    ),
    case(
        "retry-settings-on-step-with-ignore-action",
        rolling(),
        {f"{STEP1}.failureStrategies": [{"action": "Ignore", "retry": RETRY}]},
        f"{STEP1}.failureStrategies[0].retry",
        "action: Retry",
    ),
    case(
        "retry-then-retry",
        rolling(),
        {"spec.failureStrategies": [{"action": "Retry", "retry": {**RETRY, "then": "Retry"}}]},
        "spec.failureStrategies[0].retry.then",
        "cannot be Retry",
    ),
    case(
        "manual-intervention-settings-with-abort",
        rolling(),
        {"spec.failureStrategies": [{"action": "Abort", "manualIntervention": {"timeout": "1h"}}]},
        "spec.failureStrategies[0].manualIntervention",
        "action: ManualIntervention",
    ),
    case(
        "manual-intervention-default-action-loops",
        rolling(),
        {
            "spec.failureStrategies": [
                {"action": "ManualIntervention", "manualIntervention": {"defaultAction": "ManualIntervention"}}
            ]
        },
        "spec.failureStrategies[0].manualIntervention.defaultAction",
        "Ignore, Abort or Rollback",
    ),
    # Canary
    case(
        "canary-weights-decrease", canary(), {"spec.phases[1].weight": 5}, "spec.phases[1].weight", "must not decrease"
    ),
    case("canary-last-phase-not-100", canary(), {"spec.phases[2].weight": 90}, "spec.phases[2].weight", "reach 100"),
    case(
        "canary-phase-without-weight",
        canary(),
        {"spec.phases[1].weight": REMOVED},
        "spec.phases[1].weight",
        "required for Canary",
    ),
    case(
        "canary-phase-without-deploy",
        canary(),
        {"spec.phases[1].steps": [step("soak", "pause")]},
        "spec.phases[1].steps",
        "exactly one deploy",
    ),
    case(
        "canary-traffic-route-missing",
        canary(),
        {"spec.canary.split": "TrafficRoute"},
        "spec.canary.trafficRoute",
        "required",
    ),
    case(
        "canary-traffic-route-same-services",
        canary_gateway(),
        {"spec.canary.trafficRoute.canaryService": "web-stable"},
        "spec.canary.trafficRoute.canaryService",
        "differ from stableService",
    ),
    case(
        "canary-traffic-route-without-split",
        canary_gateway(),
        {"spec.canary.split": "Replicas"},
        "spec.canary.trafficRoute",
        "split: TrafficRoute",
    ),
    case(
        "canary-header-name-with-space",
        canary_gateway(),
        {"spec.canary.trafficRoute.headerMatch": [{"name": "X Canary", "value": "always"}]},
        "spec.canary.trafficRoute.headerMatch[0].name",
        "pattern",
    ),
    # BlueGreen
    case(
        "blue-green-settings-missing",
        blue_green(),
        {"spec.blueGreen": REMOVED},
        "spec.blueGreen",
        "activeService and previewService",
    ),
    case(
        "blue-green-same-services",
        blue_green(),
        {"spec.blueGreen.previewService": "api"},
        "spec.blueGreen.previewService",
        "differ from activeService",
    ),
    case(
        "blue-green-without-swap",
        blue_green(),
        {"spec.phases[1].steps": [step("check", "verify", http_check())]},
        "spec.phases",
        "exactly one swap",
    ),
    case(
        "blue-green-swap-before-deploy",
        blue_green(),
        {"spec.phases[0].steps": [step("swap", "swap")], "spec.phases[1].steps": [step("deploy", "deploy")]},
        "spec.phases[0].steps[0].swap",
        "before the deploy",
    ),
    # Other workflow types
    case("basic-without-manifests", basic(), {"spec.target": REMOVED}, "spec.target.manifests", "required for Basic"),
    case(
        "basic-manifest-without-kind",
        basic(),
        {"spec.target.manifests[0].kind": REMOVED},
        "spec.target.manifests[0].kind",
        "complete Kubernetes object",
    ),
    case("rolling-without-artifact", rolling(), {"spec.artifact": REMOVED}, "spec.artifact", "required for Rolling"),
    case(
        "rolling-without-deployment", rolling(), {"spec.target": {}}, "spec.target.deployment", "required for Rolling"
    ),
    case(
        "rolling-without-deploy-step",
        rolling(),
        {"spec.phases[0].steps": [step("smoke", "verify", http_check())]},
        "spec.phases",
        "deploy step",
    ),
    case(
        "rolling-with-manifests",
        rolling(),
        {"spec.target.manifests": basic()["spec"]["target"]["manifests"]},
        "spec.target.manifests",
        "only to Basic",
    ),
    case("rolling-with-swap", rolling(), {STEP1: step("swap", "swap")}, f"{STEP1}.swap", "only in BlueGreen"),
    case(
        "rolling-phase-with-weight", rolling(), {"spec.phases[0].weight": 50}, "spec.phases[0].weight", "only to Canary"
    ),
    case(
        "rolling-deploy-with-weight",
        rolling(),
        {"spec.phases[0].steps[0].deploy.weight": 50},
        "spec.phases[0].steps[0].deploy.weight",
        "only to Canary",
    ),
    case(
        "rolling-phase-with-target",
        rolling(),
        {"spec.phases[0].target": {"deployment": "api"}},
        "spec.phases[0].target",
        "MultiService",
    ),
    case(
        "rolling-with-canary-settings",
        rolling(),
        {"spec.canary": {"split": "Replicas"}},
        "spec.canary",
        "only to Canary",
    ),
    case(
        "rollback-step-deploys",
        rolling(),
        {"spec.phases[0].rollbackSteps": [step("redeploy", "deploy")]},
        "spec.phases[0].rollbackSteps[0].deploy",
        "cannot deploy",
    ),
    case(
        "multi-service-without-artifact",
        multi_service(),
        {"spec.artifact": REMOVED},
        "spec.artifact",
        "required for MultiService",
    ),
    case(
        "multi-service-phase-without-target",
        multi_service(),
        {"spec.phases[1].target": REMOVED},
        "spec.phases[1].target.deployment",
        "names its Deployment",
    ),
    case("build-without-job", build(), {"spec.phases[0].steps": [step("wait", "pause")]}, "spec.phases", "job step"),
    # Names used twice
    case("phase-name-twice", canary(), {"spec.phases[1].name": "canary-10"}, "spec.phases[1].name", "used twice"),
    case("step-name-twice", rolling(), {f"{STEP1}.name": "deploy"}, f"{STEP1}.name", "used twice"),
    case("stage-name-twice", pipeline(), {"spec.stages[2].name": "build"}, "spec.stages[2].name", "used twice"),
    case(
        "variable-declared-twice",
        rolling(),
        {"spec.variables": [{"name": "version"}, {"name": "version"}]},
        "spec.variables[1].name",
        "declared twice",
    ),
    case(
        "barrier-name-twice",
        rolling(),
        {
            "spec.phases": [
                *rolling()["spec"]["phases"],
                {"name": "wrap-up", "steps": [step("meet-again", "barrier", {"name": "regions-deployed"})]},
            ],
            STEP1: step("meet", "barrier", {"name": "regions-deployed"}),
        },
        "spec.phases[1].steps[0].barrier.name",
        "used twice",
    ),
    # Variables and references
    case(
        "variable-default-not-a-number",
        rolling(),
        {"spec.variables": [{"name": "version"}, {"name": "replicas", "type": "Number", "default": "ten"}]},
        "spec.variables[1].default",
        "not a Number",
    ),
    case(
        "variable-default-not-a-boolean",
        pipeline(),
        {"spec.variables": [{"name": "revision"}, {"name": "dryRun", "type": "Boolean", "default": "yes"}]},
        "spec.variables[1].default",
        "not a Boolean",
    ),
    case(
        "variable-undeclared",
        rolling(),
        {"spec.artifact.image": "registry.example/web:${workflow.variables.tag}"},
        "spec.artifact.image",
        "not declared",
    ),
    case(
        "reference-unknown-scope",
        rolling(),
        {"spec.artifact.image": "registry.example/web:${env.TAG}"},
        "spec.artifact.image",
        "unknown reference",
    ),
    case(
        "reference-in-when-undeclared",
        rolling(),
        {f"{STEP1}.when": "${workflow.variables.env} == 'prod'"},
        f"{STEP1}.when",
        "not declared",
    ),
    case(
        "artifact-reference-without-artifact",
        build(),
        {"spec.phases[0].steps[0].job.template.metadata": {"labels": {"image": "${artifact.image}"}}},
        "spec.phases[0].steps[0].job.template.metadata.labels.image",
        "no artifact",
    ),
    case(
        "trigger-variable-undeclared",
        rolling(),
        {"spec.triggers": [{"source": "PodTemplate", "variables": {"env": "prod"}}]},
        "spec.triggers[0].variables.env",
        "not a declared variable",
    ),
    # Pipelines
    case(
        "stage-artifact-reference",
        pipeline(),
        {"spec.stages[2].workflow.variables.version": "${artifact.image}"},
        "spec.stages[2].workflow.variables.version",
        "no artifact",
    ),
    case(
        "requires-missing-stage",
        pipeline(),
        {"spec.stages[2].requires": ["tests"]},
        "spec.stages[2].requires[0]",
        "no stage is named 'tests'",
    ),
    case(
        "requires-itself",
        pipeline(),
        {"spec.stages[2].requires": ["deploy"]},
        "spec.stages[2].requires[0]",
        "cannot require itself",
    ),
    case(
        "requires-cycle",
        pipeline(),
        {"spec.stages[0].requires": ["deploy"]},
        "spec.stages[0].requires",
        "build -> deploy -> approve -> build",
    ),
    case(
        "parallel-first-stage", pipeline(), {"spec.stages[0].parallel": True}, "spec.stages[0].parallel", "first stage"
    ),
    case(
        "stage-workflow-and-approval",
        pipeline(),
        {"spec.stages[1].workflow": {"workflowRef": {"name": "web"}}},
        "spec.stages[1]",
        "exactly one of workflow or approval",
    ),
    case(
        "stage-pipeline-variable-undeclared",
        pipeline(),
        {"spec.stages[0].workflow.variables.revision": "${pipeline.variables.commit}"},
        "spec.stages[0].workflow.variables.revision",
        "not declared",
    ),
    case(
        "stage-output-of-later-stage",
        pipeline(),
        {"spec.stages[0].workflow.variables.revision": "${stages.deploy.outputs.image}"},
        "spec.stages[0].workflow.variables.revision",
        "not required",
    ),
    case(
        "branch-filter-invalid-regex",
        pipeline(),
        {"spec.stages[2].filters": {"branches": {"only": ["main", "/feature-(/"]}}},
        "spec.stages[2].filters.branches.only[1]",
        "regular expression",
    ),
    case(
        "tag-filter-invalid-regex",
        pipeline(),
        {"spec.stages[2].filters": {"tags": {"ignore": ["/v[0-9/"]}}},
        "spec.stages[2].filters.tags.ignore[0]",
        "regular expression",
    ),
    # Runs and rollbacks
    case(
        "run-with-ref-and-inline-workflow",
        inline_run(),
        {"spec.workflowRef": {"name": "web"}},
        "spec",
        "exactly one of workflowRef or workflow",
    ),
    case(
        "run-without-workflow",
        workflow_run(),
        {"spec.workflowRef": REMOVED},
        "spec",
        "exactly one of workflowRef or workflow",
    ),
    case(
        "inline-run-required-variable-missing",
        inline_run(),
        {"spec.variables": {}},
        "spec.variables.version",
        "required variable",
    ),
    case(
        "inline-run-variable-undeclared",
        inline_run(),
        {"spec.variables.colour": "blue"},
        "spec.variables.colour",
        "not a declared variable",
    ),
    case(
        "inline-run-phase-name-invalid",
        inline_run(),
        {"spec.workflow.phases[0].name": "Roll_Out"},
        "spec.workflow.phases[0].name",
        "DNS-1123",
    ),
    case(
        "rollback-with-both-refs",
        rollback(),
        {"spec.workflowRunRef": {"name": "web-1-1"}},
        "spec",
        "exactly one of workflowRef or workflowRunRef",
    ),
    case(
        "rollback-without-ref",
        rollback(),
        {"spec.workflowRef": REMOVED},
        "spec",
        "exactly one of workflowRef or workflowRunRef",
    ),
]
