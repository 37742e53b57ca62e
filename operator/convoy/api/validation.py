"""Validation of Convoy objects: the schema (pydantic) and the semantic rules a schema cannot say.

One entry point, `validate(kind, obj)`, serves the admission webhook, the reconcile-time check and
`kubectl convoy lint`, so every layer gives the same messages. Each message names the field path and what to
change. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import re2
from pydantic import ValidationError

from convoy.api.common import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    DURATION,
    VARIABLE_NAME,
    ConvoyModel,
    Variable,
    VariableType,
    seconds,
)
from convoy.api.crd import render
from convoy.api.expressions import ExpressionError, parse_condition, references, strings
from convoy.api.pipeline import NameFilter, PipelineRunSpec, PipelineSpec
from convoy.api.resources import BY_KIND
from convoy.api.steps import SUCCESS_CONDITION, FailureAction, FailureStrategy, HttpCheck, Step
from convoy.api.workflow import CanarySplit, Phase, Target, WorkflowSpec, WorkflowType
from convoy.api.workflowrun import WorkflowRunSpec

M = TypeVar("M", bound=ConvoyModel)


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidSpec(ValueError):
    """A spec that breaks the schema or a rule; `errors` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def validate(kind: str, obj: Mapping[str, Any]) -> list[FieldError]:
    """Every problem of an object of a Convoy kind, in wire format (`{"spec": ...}`); empty when it is valid."""
    try:
        parse_spec(kind, obj.get("spec"))
    except InvalidSpec as invalid:
        return invalid.errors
    return []


def parse_spec(kind: str, spec: Any) -> ConvoyModel:
    """The spec model of `kind`, checked against the schema and the semantic rules; raises InvalidSpec."""
    if not isinstance(spec, Mapping):
        raise InvalidSpec([FieldError("spec", "required: a resource needs a spec object")])
    model = _parse(BY_KIND[kind].spec, spec, "spec")
    errors = list(_RULES[kind](model, "spec"))
    if errors:
        raise InvalidSpec(errors)
    return model


def _parse(model: type[M], data: Any, prefix: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidSpec([_field_error(prefix, e) for e in error.errors()]) from None


# What a pattern means, for messages a person can act on rather than a regular expression.
_PATTERN_MEANING = {
    DNS_LABEL: "a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit",
    DNS_SUBDOMAIN: "a Kubernetes object name: use lower-case letters, digits, '-' and '.'",
    DURATION: "a duration: write it like '30s', '10m' or '1h30m' (units ms, s, m, h)",
    VARIABLE_NAME: "a variable name: use letters, digits and '_', not starting with a digit",
    "^https?://": "a URL: start it with http:// or https://",
    SUCCESS_CONDITION: "a comparison of `result` with a number: write it like 'result < 0.05'",
}


def _field_error(prefix: str, error: Any) -> FieldError:
    loc, kind, message, ctx = error["loc"], error["type"], str(error["msg"]), error.get("ctx", {})
    if kind == "invalid_key":  # the last part of loc is the offending key itself
        loc = (*loc[:-1], str(error["input"]).lower())
    path = prefix + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    if kind == "invalid_key":
        message = "a key must be a string: quote it"
    elif kind == "extra_forbidden":
        message = "unknown field: remove it or check its spelling"
    elif kind == "missing":
        message = "required: set it"
    elif kind == "enum":
        message = f"'{error['input']}' is not allowed: use {ctx['expected']}"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERN_MEANING:
        message = f"'{error['input']}' is not {_PATTERN_MEANING[ctx['pattern']]}"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return FieldError(path, message)


def _duplicates(names: Iterable[str]) -> Iterator[int]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield i
        seen.add(name)


def _variables(variables: list[Variable], path: str) -> Iterator[FieldError]:
    for i in _duplicates(v.name for v in variables):
        yield FieldError(f"{path}[{i}].name", f"variable '{variables[i].name}' is declared twice: rename one")
    for i, var in enumerate(variables):
        if var.default is not None and not _is_of_type(var.default, var.type):
            yield FieldError(f"{path}[{i}].default", f"'{var.default}' is not a {var.type.value}: fix the default")


def _is_of_type(value: str, kind: VariableType) -> bool:
    if kind is VariableType.NUMBER:
        return re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
    if kind is VariableType.BOOLEAN:
        return value in ("true", "false")
    return True


def _references(
    tree: Any,
    path: str,
    *,
    workflow_vars: set[str] | None,
    pipeline_vars: set[str] | None,
    stages: set[str] | None,
    artifact: bool,
) -> Iterator[FieldError]:
    """Every `${...}` must be known and name something declared. A scope given as None is not checked: its values
    come from elsewhere (a workflow that a pipeline stage runs also gets the pipeline's variables and outputs)."""
    for where, text in strings(tree, path):
        try:
            refs = list(references(text))
        except ExpressionError as error:
            yield FieldError(where, str(error))
            continue
        for ref in refs:
            if ref.scope == "artifact" and not artifact:
                yield FieldError(
                    where, "there is no artifact here: use ${artifact.image} only where artifact.image is set"
                )
            elif ref.scope == "workflow" and workflow_vars is not None and ref.name not in workflow_vars:
                yield FieldError(where, f"variable '{ref.name}' is not declared: add it to the workflow's variables")
            elif ref.scope == "pipeline" and pipeline_vars is not None and ref.name not in pipeline_vars:
                yield FieldError(where, f"variable '{ref.name}' is not declared: add it to the pipeline's variables")
            elif ref.scope == "stages" and stages is not None and ref.stage not in stages:
                yield FieldError(
                    where, f"stage '{ref.stage}' is not required (directly or not) by this stage: add it to requires"
                )


def _failure_strategies(strategies: list[FailureStrategy], path: str) -> Iterator[FieldError]:
    for i, strategy in enumerate(strategies):
        here = f"{path}[{i}]"
        if strategy.retry is not None and strategy.action is not FailureAction.RETRY:
            yield FieldError(f"{here}.retry", "retry settings need action: Retry; remove them or change the action")
        if strategy.retry is not None and strategy.retry.then is FailureAction.RETRY:
            yield FieldError(f"{here}.retry.then", "cannot be Retry: use Ignore, Abort, Rollback or ManualIntervention")
        mi = strategy.manual_intervention
        if mi is not None and strategy.action is not FailureAction.MANUAL_INTERVENTION:
            yield FieldError(
                f"{here}.manualIntervention", "needs action: ManualIntervention; remove it or change the action"
            )
        if mi is not None and mi.default_action in (FailureAction.RETRY, FailureAction.MANUAL_INTERVENTION):
            yield FieldError(f"{here}.manualIntervention.defaultAction", "use Ignore, Abort or Rollback")


def _steps(steps: list[Step], path: str, wf: WorkflowSpec, *, rollback: bool) -> Iterator[FieldError]:
    for i in _duplicates(s.name for s in steps):
        yield FieldError(f"{path}[{i}].name", f"step name '{steps[i].name}' is used twice in this phase: rename one")
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        yield from _failure_strategies(step.failure_strategies, f"{here}.failureStrategies")
        if step.swap is not None and wf.type is not WorkflowType.BLUE_GREEN:
            yield FieldError(f"{here}.swap", "swap steps exist only in BlueGreen workflows: remove the step")
        if step.deploy is not None and step.deploy.weight is not None and wf.type is not WorkflowType.CANARY:
            yield FieldError(f"{here}.deploy.weight", "a weight applies only to Canary workflows: remove it")
        if step.deploy is not None and rollback:
            yield FieldError(f"{here}.deploy", "rollback steps cannot deploy: use a rollback step")
        if step.approval is not None and seconds(step.approval.timeout) <= 0:
            yield FieldError(f"{here}.approval.timeout", "must be positive, e.g. '1h'")
        if step.barrier is not None and seconds(step.barrier.timeout) <= 0:
            yield FieldError(f"{here}.barrier.timeout", "must be positive, e.g. '30m'")
        if step.timeout is not None and seconds(step.timeout) <= 0:
            yield FieldError(f"{here}.timeout", "must be positive, e.g. '10m'")
        if step.pause is not None and step.pause.duration is not None and seconds(step.pause.duration) <= 0:
            yield FieldError(f"{here}.pause.duration", "must be positive; leave it out to pause until resumed")
        if step.verify is not None:
            yield from _verify(step, f"{here}.verify")
        if step.job is not None:
            yield from _pod_template(step.job.template, f"{here}.job.template")
        if step.when is not None:
            try:
                parse_condition(step.when)
            except ExpressionError as error:
                yield FieldError(f"{here}.when", str(error))


def _verify(step: Step, path: str) -> Iterator[FieldError]:
    assert step.verify is not None
    verify = step.verify
    if seconds(verify.interval) <= 0:
        yield FieldError(f"{path}.interval", "must be positive, e.g. '10s'")
    if verify.http is not None:
        for k, code in enumerate(verify.http.expected_status):
            if not 100 <= code <= 599:
                yield FieldError(f"{path}.http.expectedStatus[{k}]", f"{code} is not an HTTP status: use 100 to 599")
        if verify.http.body_pattern:
            yield from _linear_regex(verify.http, f"{path}.http.bodyPattern")
    if verify.prometheus is not None:
        number = re.split(r"<=|>=|==|!=|<|>", verify.prometheus.success_condition)[-1].strip()
        try:
            float(number)
        except ValueError:
            yield FieldError(
                f"{path}.prometheus.successCondition",
                f"'{number}' is not a number: compare result with one, e.g. 'result < 0.05'",
            )
    if verify.job is not None:
        yield from _pod_template(verify.job.template, f"{path}.job.template")


def _pod_template(template: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    spec = template.get("spec")
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    if not isinstance(containers, list) or not containers:
        yield FieldError(f"{path}.spec.containers", "required: a pod template runs at least one container")


def _manifests(manifests: list[dict[str, Any]], path: str) -> Iterator[FieldError]:
    for i, manifest in enumerate(manifests):
        for key in ("apiVersion", "kind"):
            if not isinstance(manifest.get(key), str) or not manifest[key]:
                yield FieldError(f"{path}[{i}].{key}", "required: a manifest is a complete Kubernetes object")
        metadata = manifest.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            yield FieldError(f"{path}[{i}].metadata.name", "required: name the object")


def _namespace(namespace: str | None, path: str) -> Iterator[FieldError]:
    """A namespace is a DNS-1123 label, unless it is templated and only known once rendered."""
    if namespace is not None and "${" not in namespace and not re.fullmatch(DNS_LABEL, namespace):
        yield FieldError(path, f"'{namespace}' is not {_PATTERN_MEANING[DNS_LABEL]}")


def _regex(pattern: str, path: str) -> Iterator[FieldError]:
    try:
        re.compile(pattern)
    except re.error as error:
        yield FieldError(path, f"not a valid regular expression ({error}): fix it")


def _linear_regex(check: HttpCheck, path: str) -> Iterator[FieldError]:
    """A body pattern runs on RE2 (linear time), which has no backreferences or lookaround."""
    try:
        check.body_regex()
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        yield FieldError(path, f"not a valid RE2 regular expression ({reason}): fix it")


def _phases(wf: WorkflowSpec, path: str) -> Iterator[FieldError]:
    phases = wf.phases
    for i in _duplicates(p.name for p in phases):
        yield FieldError(f"{path}[{i}].name", f"phase name '{phases[i].name}' is used twice: rename one")
    for i, phase in enumerate(phases):
        here = f"{path}[{i}]"
        yield from _steps(phase.steps, f"{here}.steps", wf, rollback=False)
        if phase.rollback_steps is not None:
            yield from _steps(phase.rollback_steps, f"{here}.rollbackSteps", wf, rollback=True)
        if phase.weight is not None and wf.type is not WorkflowType.CANARY:
            yield FieldError(f"{here}.weight", "phase weights apply only to Canary workflows: remove it")
        if phase.target is not None and wf.type is not WorkflowType.MULTI_SERVICE:
            yield FieldError(f"{here}.target", "phase targets apply only to MultiService workflows: use spec.target")
        if phase.target is not None:
            yield from _target(phase.target, f"{here}.target", wf)
    yield from _barriers(phases, path)
    yield from _type_rules(wf, path)


def _barriers(phases: list[Phase], path: str) -> Iterator[FieldError]:
    """Runs of a pipeline meet at a barrier by its name, so one workflow cannot use a name twice."""
    seen: set[str] = set()
    for i, phase in enumerate(phases):
        for j, step in enumerate(phase.steps):
            if step.barrier is None:
                continue
            if step.barrier.name in seen:
                yield FieldError(
                    f"{path}[{i}].steps[{j}].barrier.name",
                    f"barrier '{step.barrier.name}' is used twice in this workflow: rename one",
                )
            seen.add(step.barrier.name)


def _target(target: Target, path: str, wf: WorkflowSpec) -> Iterator[FieldError]:
    yield from _namespace(target.namespace, f"{path}.namespace")
    for field, name in (("deployment", target.deployment), ("service", target.service)):
        # like the namespace, a name that uses variables is checked once a run has rendered it
        if name is not None and "${" not in name and not re.fullmatch(DNS_SUBDOMAIN, name):
            yield FieldError(f"{path}.{field}", f"'{name}' is not {_PATTERN_MEANING[DNS_SUBDOMAIN]}")
    if target.manifests is not None and wf.type is not WorkflowType.BASIC:
        yield FieldError(f"{path}.manifests", "manifests apply only to Basic workflows: name the Deployment instead")
    elif target.manifests is not None:
        yield from _manifests(target.manifests, f"{path}.manifests")


def _deploys(phase: Phase) -> int:
    return sum(s.deploy is not None for s in phase.steps)


def _type_rules(wf: WorkflowSpec, path: str) -> Iterator[FieldError]:
    phases, root = wf.phases, path.rsplit(".", 1)[0]
    needs_deployment = wf.type in (WorkflowType.ROLLING, WorkflowType.CANARY, WorkflowType.BLUE_GREEN)
    if needs_deployment and (wf.target is None or wf.target.deployment is None):
        yield FieldError(f"{root}.target.deployment", f"required for {wf.type.value} workflows: name the Deployment")
    if (needs_deployment or wf.type is WorkflowType.MULTI_SERVICE) and wf.artifact is None:
        yield FieldError(f"{root}.artifact", f"required for {wf.type.value} workflows: set artifact.image")
    if wf.type is WorkflowType.BASIC and (wf.target is None or not wf.target.manifests):
        yield FieldError(f"{root}.target.manifests", "required for Basic workflows: list the objects to apply")
    if wf.target is not None:
        yield from _target(wf.target, f"{root}.target", wf)
    if wf.type in (WorkflowType.BASIC, WorkflowType.ROLLING) and not any(_deploys(p) for p in phases):
        yield FieldError(path, f"a {wf.type.value} workflow needs a deploy step: add one")
    if wf.canary is not None and wf.type is not WorkflowType.CANARY:
        yield FieldError(f"{root}.canary", "canary settings apply only to Canary workflows: remove them")
    if wf.blue_green is not None and wf.type is not WorkflowType.BLUE_GREEN:
        yield FieldError(f"{root}.blueGreen", "blueGreen settings apply only to BlueGreen workflows: remove them")
    if wf.type is WorkflowType.CANARY:
        yield from _canary(wf, path, root)
    if wf.type is WorkflowType.BLUE_GREEN:
        yield from _blue_green(wf, path, root)
    if wf.type is WorkflowType.MULTI_SERVICE:
        for i, phase in enumerate(phases):
            if phase.target is None or phase.target.deployment is None:
                yield FieldError(f"{path}[{i}].target.deployment", "each MultiService phase names its Deployment")
            if _deploys(phase) == 0:
                yield FieldError(f"{path}[{i}].steps", "each MultiService phase deploys its target: add a deploy step")
    if wf.type is WorkflowType.BUILD and not any(s.job is not None for p in phases for s in p.steps):
        yield FieldError(path, "a Build workflow needs a job step that builds the artifact and publishes outputs")


def _blue_green(wf: WorkflowSpec, path: str, root: str) -> Iterator[FieldError]:
    if wf.blue_green is None:
        yield FieldError(f"{root}.blueGreen", "required for BlueGreen workflows: set activeService and previewService")
    elif wf.blue_green.active_service == wf.blue_green.preview_service:
        yield FieldError(f"{root}.blueGreen.previewService", "must differ from activeService")
    order = [(i, j, s) for i, p in enumerate(wf.phases) for j, s in enumerate(p.steps)]
    swaps = [(i, j) for i, j, s in order if s.swap is not None]
    deploys = [(i, j) for i, j, s in order if s.deploy is not None]
    if len(swaps) != 1:
        yield FieldError(
            path, f"a BlueGreen workflow has exactly one swap step (found {len(swaps)}): add or remove one"
        )
    if len(deploys) != 1:
        yield FieldError(path, "a BlueGreen workflow has exactly one deploy step, before the swap")
    if len(swaps) == 1 and len(deploys) == 1 and swaps[0] < deploys[0]:
        i, j = swaps[0]
        yield FieldError(f"{path}[{i}].steps[{j}].swap", "comes before the deploy step: move it after the deploy")


def _canary(wf: WorkflowSpec, path: str, root: str) -> Iterator[FieldError]:
    previous = 0
    for i, phase in enumerate(wf.phases):
        if phase.weight is None:
            yield FieldError(f"{path}[{i}].weight", "required for Canary phases: the percentage this phase reaches")
            continue
        if phase.weight < previous:
            yield FieldError(
                f"{path}[{i}].weight",
                f"weights must not decrease ({phase.weight} after {previous}): set it to {previous} or more",
            )
        previous = phase.weight
        if _deploys(phase) != 1:
            yield FieldError(f"{path}[{i}].steps", "each Canary phase has exactly one deploy step that sets its weight")
    last = wf.phases[-1].weight
    if last is not None and last != 100:
        yield FieldError(f"{path}[{len(wf.phases) - 1}].weight", f"the last Canary phase must reach 100 (not {last})")
    canary = wf.canary
    if canary is not None and canary.split is CanarySplit.TRAFFIC_ROUTE and canary.traffic_route is None:
        yield FieldError(f"{root}.canary.trafficRoute", "required with split: TrafficRoute: name the HTTPRoute")
    if canary is not None and canary.traffic_route is not None and canary.split is not CanarySplit.TRAFFIC_ROUTE:
        yield FieldError(f"{root}.canary.trafficRoute", "only used with split: TrafficRoute: set split or remove it")
    route = canary.traffic_route if canary is not None else None
    if route is not None and route.stable_service == route.canary_service:
        yield FieldError(f"{root}.canary.trafficRoute.canaryService", "must differ from stableService")


def _workflow(spec: ConvoyModel, path: str) -> Iterator[FieldError]:
    assert isinstance(spec, WorkflowSpec)
    yield from _variables(spec.variables, f"{path}.variables")
    yield from _failure_strategies(spec.failure_strategies, f"{path}.failureStrategies")
    yield from _phases(spec, f"{path}.phases")
    if seconds(spec.steady_state_timeout) <= 0:
        yield FieldError(f"{path}.steadyStateTimeout", "must be positive, e.g. '10m'")
    declared = {v.name for v in spec.variables}
    wire = spec.to_wire()
    for field in ("target", "artifact", "phases", "notifications", "canary", "blueGreen"):
        if field in wire:
            yield from _references(
                wire[field],
                f"{path}.{field}",
                workflow_vars=declared,
                pipeline_vars=None,
                stages=None,
                artifact=spec.artifact is not None,
            )
    for i, trigger in enumerate(spec.triggers):
        for name in trigger.variables:
            if name not in declared:
                yield FieldError(f"{path}.triggers[{i}].variables.{name}", "not a declared variable of this workflow")
        if trigger.image_variable is not None and trigger.image_variable not in declared:
            yield FieldError(f"{path}.triggers[{i}].imageVariable", "not a declared variable of this workflow")
        if spec.target is None or spec.target.deployment is None:
            yield FieldError(f"{path}.triggers[{i}]", "a trigger watches spec.target.deployment: set it")
        elif "${" in spec.target.deployment + (spec.target.namespace or ""):
            yield FieldError(
                f"{path}.triggers[{i}]",
                "a trigger watches one Deployment, known before any run: spec.target.deployment and namespace "
                "cannot use variables in a workflow with triggers",
            )


def _workflow_run(spec: ConvoyModel, path: str) -> Iterator[FieldError]:
    assert isinstance(spec, WorkflowRunSpec)
    if (spec.workflow_ref is None) == (spec.workflow is None):
        yield FieldError(path, "set exactly one of workflowRef or workflow (inline)")
    if spec.workflow is not None:
        yield from _workflow(spec.workflow, f"{path}.workflow")
        yield from variable_values(spec.workflow.variables, spec.variables, f"{path}.variables")


def variable_values(declared: list[Variable], given: Mapping[str, str], path: str) -> Iterator[FieldError]:
    """Values a run gives, checked against what its workflow or pipeline declares."""
    names = {v.name: v for v in declared}
    for name, value in given.items():
        var = names.get(name)
        if var is None:
            known = ", ".join(sorted(names)) or "none"
            yield FieldError(f"{path}.{name}", f"not a declared variable (declared: {known}): remove it or declare it")
        elif not _is_of_type(value, var.type):
            yield FieldError(f"{path}.{name}", f"'{value}' is not a {var.type.value}")
    for var in declared:
        if var.required and var.default is None and var.name not in given:
            yield FieldError(f"{path}.{var.name}", "required variable has no value: set it in the run")


def _pipeline(spec: ConvoyModel, path: str) -> Iterator[FieldError]:
    assert isinstance(spec, PipelineSpec)
    stages = spec.stages
    yield from _variables(spec.variables, f"{path}.variables")
    for i in _duplicates(s.name for s in stages):
        yield FieldError(f"{path}.stages[{i}].name", f"stage name '{stages[i].name}' is used twice: rename one")
    names = {s.name for s in stages}
    if stages[0].parallel:
        yield FieldError(f"{path}.stages[0].parallel", "the first stage has no previous stage to run beside")
    for i, stage in enumerate(stages):
        for j, required in enumerate(stage.requires):
            if required not in names:
                yield FieldError(f"{path}.stages[{i}].requires[{j}]", f"no stage is named '{required}'")
            elif required == stage.name:
                yield FieldError(f"{path}.stages[{i}].requires[{j}]", "a stage cannot require itself")
        if stage.approval is not None and seconds(stage.approval.timeout) <= 0:
            yield FieldError(f"{path}.stages[{i}].approval.timeout", "must be positive, e.g. '4h'")
        if stage.workflow is not None:
            yield from _namespace(stage.workflow.namespace, f"{path}.stages[{i}].workflow.namespace")
        if stage.filters is not None:
            for kind in ("branches", "tags"):
                name_filter: NameFilter | None = getattr(stage.filters, kind)
                for key in ("only", "ignore"):
                    for k, pattern in enumerate(getattr(name_filter, key) if name_filter else []):
                        if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
                            yield from _regex(pattern[1:-1], f"{path}.stages[{i}].filters.{kind}.{key}[{k}]")
    graph = requirements(spec)
    cycle = _cycle(graph)
    if cycle:
        index = next(i for i, s in enumerate(stages) if s.name == cycle[0])
        yield FieldError(f"{path}.stages[{index}].requires", f"requires form a cycle: {' -> '.join(cycle)}")
        return
    declared = {v.name for v in spec.variables}
    for i, stage in enumerate(stages):
        if stage.workflow is not None:
            yield from _references(
                stage.workflow.to_wire(),
                f"{path}.stages[{i}].workflow",
                workflow_vars=None,
                pipeline_vars=declared,
                stages=ancestors(graph, stage.name),
                artifact=False,
            )


def requirements(spec: PipelineSpec) -> dict[str, list[str]]:
    """Stage → the stages it requires. A stage with `parallel: true` runs beside the previous one: it requires
    what that one requires, plus its own `requires`. A stage with neither `parallel` nor `requires` requires the
    previous stage and every stage beside it, so it waits for the whole parallel group: with stages a, b,
    c (parallel to b) and d, b and c require [a] and d requires [b, c]."""
    graph: dict[str, list[str]] = {}
    previous: list[str] | None = None
    group: list[str] = []  # the previous stage and the stages that run beside it
    for stage in spec.stages:
        if stage.parallel and previous is not None:
            required = list(dict.fromkeys([*previous, *stage.requires]))
            group.append(stage.name)
        else:
            required = list(stage.requires) if stage.requires or not group else list(group)
            group = [stage.name]
        graph[stage.name] = required
        previous = required
    return graph


def ancestors(graph: Mapping[str, list[str]], name: str) -> set[str]:
    """Every stage `name` requires, directly or not."""
    seen: set[str] = set()
    stack = list(graph.get(name, []))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, []))
    return seen


def _cycle(graph: Mapping[str, list[str]]) -> list[str]:
    """A cycle of requires as a path that returns to its start, or [] when there is none."""
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        trail.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt in graph and nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        trail.pop()
        return []

    for start in graph:
        if start not in state and (found := visit(start)):
            return found
    return []


def _pipeline_run(spec: ConvoyModel, path: str) -> Iterator[FieldError]:
    assert isinstance(spec, PipelineRunSpec)
    return iter(())


def _nothing(spec: ConvoyModel, path: str) -> Iterator[FieldError]:
    return iter(())


_RULES = {
    "Workflow": _workflow,
    "WorkflowRun": _workflow_run,
    "Pipeline": _pipeline,
    "PipelineRun": _pipeline_run,
    "Rollback": _nothing,
    "Grant": _nothing,
}


# The structural schema: what the API server refuses before Convoy's webhooks see an object


def schema_problems(kind: str, obj: Mapping[str, Any]) -> list[FieldError]:
    """Every way the object's spec breaks its CRD's structural schema (rendered by api/crd.py from the same models),
    checked as the API server checks it: types strictly (the string "yes" is not a boolean, nor "3" an integer),
    enums, patterns, lengths, bounds, required fields and unknown fields. A null is left out, as the server prunes
    it. `validate`'s models are lenient about types, so `kubectl convoy lint` runs this first. Pure."""
    spec = obj.get("spec")
    if spec is None:
        return [FieldError("spec", "required: a resource needs a spec object")]
    return list(_conforms(spec, _openapi_schema(kind)["properties"]["spec"], "spec"))


@cache
def _openapi_schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = render(BY_KIND[kind])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


_TYPE_WORDS = {
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "a mapping of fields",
    "array": "a list",
}


def _conforms(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    expected = schema.get("type")
    if expected is not None and not _is_a(value, expected):
        yield FieldError(
            path, f"must be {_TYPE_WORDS[expected]}, not {_described(value)}{_unquote_hint(value, expected)}"
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        yield FieldError(path, f"{value!r} is not allowed: use {_one_of(schema['enum'])}")
    if isinstance(value, str):
        yield from _string_bounds(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield from _number_bounds(value, schema, path)
    elif isinstance(value, list):
        yield from _length_bounds(len(value), schema, path, "items")
        for i, item in enumerate(value):
            yield from _conforms(item, schema.get("items") or {}, f"{path}[{i}]")
    elif isinstance(value, Mapping):
        yield from _fields(value, schema, path)


def _is_a(value: Any, expected: str) -> bool:
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "array":
        return isinstance(value, list)
    return isinstance(value, Mapping)


def _described(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, Mapping) else f"a {type(value).__name__} (quote it)"


def _unquote_hint(value: Any, expected: str) -> str:
    """A string that would be right without its quotes says so."""
    if not isinstance(value, str):
        return ""
    if expected == "boolean" and value in ("true", "false"):
        return ": remove the quotes"
    if expected in ("integer", "number") and re.fullmatch(
        r"-?\d+" if expected == "integer" else r"-?\d+(\.\d+)?", value
    ):
        return ": remove the quotes"
    return ""


def _one_of(values: list[Any]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _string_bounds(value: str, schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    yield from _length_bounds(len(value), schema, path, "characters")
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, value) is None:
        meaning = _PATTERN_MEANING.get(pattern)
        yield FieldError(path, f"{value!r} is not {meaning}" if meaning else f"{value!r} does not match {pattern}")


def _length_bounds(length: int, schema: Mapping[str, Any], path: str, unit: str) -> Iterator[FieldError]:
    low, high = ("minLength", "maxLength") if unit == "characters" else ("minItems", "maxItems")
    if low in schema and length < schema[low]:
        yield FieldError(path, f"has {length} {unit}: give at least {schema[low]}")
    if high in schema and length > schema[high]:
        yield FieldError(path, f"has {length} {unit}: give at most {schema[high]}")


def _number_bounds(value: float, schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and (value <= low if schema.get("exclusiveMinimum") else value < low):
        yield FieldError(
            path, f"{value} is too small: use {'more than' if schema.get('exclusiveMinimum') else 'at least'} {low}"
        )
    if high is not None and value > high:
        yield FieldError(path, f"{value} is too large: use at most {high}")


def _fields(value: Mapping[Any, Any], schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    properties, extra = schema.get("properties"), schema.get("additionalProperties")
    free = schema.get("x-kubernetes-preserve-unknown-fields", False)
    for key, item in value.items():
        where = f"{path}.{str(key).lower() if not isinstance(key, str) else key}"
        if not isinstance(key, str):
            yield FieldError(where, "a key must be a string: quote it")
        elif item is None:
            continue
        elif properties is not None and key in properties:
            yield from _conforms(item, properties[key], where)
        elif isinstance(extra, Mapping):
            yield from _conforms(item, extra, where)
        elif not free:
            yield FieldError(where, "unknown field: remove it or check its spelling")
    for key in schema.get("required", []):
        if value.get(key) is None:
            yield FieldError(f"{path}.{key}", "required: set it")


def without_nulls(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as the API server stores it: a null field is pruned, except in a free-form object. Pure."""
    spec = obj.get("spec")
    pruned = _pruned(spec, _openapi_schema(kind)["properties"]["spec"]) if spec is not None else None
    return {**obj, "spec": pruned}


def _pruned(value: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [_pruned(item, schema.get("items") or {}) for item in value]
    if not isinstance(value, Mapping) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    properties, extra = schema.get("properties") or {}, schema.get("additionalProperties")
    return {
        key: _pruned(item, properties.get(key) or (extra if isinstance(extra, Mapping) else {}))
        for key, item in value.items()
        if item is not None
    }
