"""validate(): every invalid case gives an error at its exact path; the baselines pass; and the pure pieces
under it (expressions, stage requirements, durations) behave as documented."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest
from invalid_specs import API_VERSION, BASELINES, CASES, REMOVED, InvalidCase, Obj, edited, pipeline, resource

from convoy.api.common import DNS_LABEL, seconds
from convoy.api.expressions import ExpressionError, holds, parse_condition, references, render, render_tree, strings
from convoy.api.pipeline import PipelineSpec
from convoy.api.resources import BY_KIND
from convoy.api.validation import FieldError, ancestors, requirements, validate


def _shown(errors: list[FieldError]) -> str:
    return "\n".join(f"  {e}" for e in errors) or "  (no errors)"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_invalid_spec_is_rejected_at_its_path(case: InvalidCase) -> None:
    errors = validate(case.kind, case.obj)

    matching = [e for e in errors if e.path == case.path and case.fragment.lower() in e.message.lower()]
    assert matching, f"expected an error at {case.path} mentioning {case.fragment!r}, got:\n{_shown(errors)}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_invalid_case_is_a_complete_object(case: InvalidCase) -> None:
    obj = case.obj

    assert obj["apiVersion"] == API_VERSION
    assert obj["kind"] == case.kind
    assert case.kind in BY_KIND
    assert obj["metadata"] == {"name": case.id}
    assert re.fullmatch(DNS_LABEL, case.id), "the id is the object's name: make it a DNS-1123 label"
    assert json.loads(json.dumps(obj)) == obj, "the object must survive JSON as it is"


def test_invalid_cases_are_many_and_distinct() -> None:
    ids = [c.id for c in CASES]

    assert len(CASES) >= 45
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in BASELINES])
def test_baseline_is_valid(name: str) -> None:
    obj = BASELINES[name]

    assert validate(obj["kind"], obj) == []


# Valid variations close to invalid cases: the rules must not reject what they do not mean to.
@pytest.mark.parametrize(
    ("base", "changes"),
    [
        pytest.param(BASELINES["canary"], {"spec.phases[0].weight": 0}, id="canary-starts-at-weight-0"),
        pytest.param(BASELINES["canary"], {"spec.phases[1].weight": 10}, id="canary-weight-repeats"),
        pytest.param(BASELINES["canary"], {"spec.phases[0].steps[1].pause": {}}, id="pause-until-resumed"),
        pytest.param(
            BASELINES["rolling"], {"spec.target.namespace": "${workflow.variables.version}"}, id="templated-namespace"
        ),
        pytest.param(
            BASELINES["rolling"], {"spec.phases[0].steps[1].when": "${workflow.variables.version} != '1.0'"}, id="when"
        ),
        pytest.param(
            BASELINES["rolling"], {"spec.artifact.image": "registry.example/web:${run.name}"}, id="run-reference"
        ),
        pytest.param(
            BASELINES["rolling"],
            {
                "spec.target.namespace": "${pipeline.variables.region}",
                "spec.artifact.image": "${stages.b.outputs.image}",
            },
            id="workflow-run-by-a-pipeline-uses-its-values",
        ),
        pytest.param(
            BASELINES["rolling"],
            {"spec.phases[0].steps[1]": {"name": "tell", "notify": {"message": "${artifact.image}"}}},
            id="artifact-reference",
        ),
        pytest.param(
            BASELINES["rolling"],
            {"spec.phases[0].steps[1].verify": {"http": {"url": "https://web/x"}, "interval": "1m30s", "count": 3}},
            id="verify-https-with-interval",
        ),
        pytest.param(
            BASELINES["rolling"],
            {
                "spec.phases[0].steps[1].failureStrategies": [
                    {"action": "Retry", "retry": {"count": 3, "then": "Abort"}}
                ]
            },
            id="step-retry-then-abort",
        ),
        pytest.param(
            BASELINES["rolling"],
            {
                "spec.phases[0].rollbackSteps": [
                    {"name": "undo", "rollback": {}},
                    {"name": "tell", "notify": {"message": "x"}},
                ]
            },
            id="custom-rollback-steps",
        ),
        pytest.param(
            BASELINES["rolling"],
            {
                "spec.notifications": [
                    {"events": ["Failed"], "notify": {"message": "${workflow.variables.version} failed"}}
                ]
            },
            id="notification",
        ),
        pytest.param(
            BASELINES["build"],
            {
                "spec.phases[0].steps[0].job.template.metadata": {
                    "labels": {"revision": "${workflow.variables.revision}"}
                }
            },
            id="build-job-references",
        ),
        pytest.param(
            BASELINES["pipeline"],
            {"spec.stages[2].filters": {"branches": {"only": ["main", "/release-.*/"]}, "tags": {"only": ["/^v.*/"]}}},
            id="filters-with-regex",
        ),
        pytest.param(BASELINES["pipeline"], {"spec.stages[2].parallel": True}, id="parallel-stage"),
        pytest.param(
            BASELINES["inline-run"],
            {"spec.variables": {}, "spec.workflow.variables[0].default": "1.0"},
            id="inline-default",
        ),
        pytest.param(
            BASELINES["rollback"], {"spec.workflowRef": REMOVED, "spec.workflowRunRef": {"name": "web-1"}}, id="run-ref"
        ),
    ],
)
def test_valid_variation_passes(base: Obj, changes: Mapping[str, Any]) -> None:
    obj = edited(base, changes)

    assert validate(obj["kind"], obj) == [], _shown(validate(obj["kind"], obj))


def test_validate_reports_every_problem_not_just_the_first() -> None:
    obj = edited(BASELINES["canary"], {"spec.phases[1].weight": 5, "spec.phases[2].weight": 90})

    paths = {e.path for e in validate("Workflow", obj)}

    assert paths == {"spec.phases[1].weight", "spec.phases[2].weight"}


# Expressions


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        pytest.param("plain text", [], id="none"),
        pytest.param("${workflow.variables.version}", ["workflow.variables.version"], id="workflow-variable"),
        pytest.param("${ run.name }", ["run.name"], id="spaces-inside"),
        pytest.param(
            "${artifact.image}@${stages.build.outputs.image-digest}",
            ["artifact.image", "stages.build.outputs.image-digest"],
            id="two",
        ),
        pytest.param("${pipeline.variables._private1}", ["pipeline.variables._private1"], id="pipeline-variable"),
    ],
)
def test_references_finds_every_reference(text: str, paths: list[str]) -> None:
    assert [r.path for r in references(text)] == paths


@pytest.mark.parametrize(
    ("path", "scope", "name", "stage"),
    [
        pytest.param("workflow.variables.version", "workflow", "version", None, id="workflow"),
        pytest.param("pipeline.variables.region", "pipeline", "region", None, id="pipeline"),
        pytest.param("stages.build.outputs.image", "stages", "image", "build", id="stage-output"),
        pytest.param("run.namespace", "run", "namespace", None, id="run"),
    ],
)
def test_reference_parts(path: str, scope: str, name: str, stage: str | None) -> None:
    [ref] = references(f"${{{path}}}")

    assert (ref.scope, ref.name, ref.stage) == (scope, name, stage)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("${env.HOME}", id="unknown-scope"),
        pytest.param("${workflow.version}", id="workflow-without-variables"),
        pytest.param("${stages.Build.outputs.image}", id="stage-name-upper-case"),
        pytest.param("${run.uid}", id="run-field-unknown"),
        pytest.param("${}", id="empty"),
        pytest.param("${workflow.variables.1st}", id="variable-starts-with-digit"),
    ],
)
def test_references_rejects_unknown(text: str) -> None:
    with pytest.raises(ExpressionError, match="unknown reference"):
        list(references(text))


@pytest.mark.parametrize(
    ("text", "values", "rendered"),
    [
        pytest.param("no references", {}, "no references", id="plain"),
        pytest.param(
            "registry.example/web:${workflow.variables.version}",
            {"workflow.variables.version": "1.1"},
            "registry.example/web:1.1",
            id="one",
        ),
        pytest.param(
            "${run.namespace}/${run.name}/${run.name}",
            {"run.namespace": "prod", "run.name": "web-1"},
            "prod/web-1/web-1",
            id="repeated",
        ),
        pytest.param("${ run.name }", {"run.name": "web-1"}, "web-1", id="spaces-inside"),
    ],
)
def test_render(text: str, values: dict[str, str], rendered: str) -> None:
    assert render(text, values) == rendered


def test_render_without_a_value_names_the_reference() -> None:
    with pytest.raises(ExpressionError, match=re.escape("'${workflow.variables.version}' has no value")):
        render("web:${workflow.variables.version}", {})


def test_render_tree_renders_strings_and_keeps_the_rest() -> None:
    tree = {"image": "web:${run.name}", "args": ["--n", "${run.name}"], "replicas": 3, "on": True}

    assert render_tree(tree, {"run.name": "r1"}) == {
        "image": "web:r1",
        "args": ["--n", "r1"],
        "replicas": 3,
        "on": True,
    }


def test_strings_gives_field_paths() -> None:
    tree = {"target": {"deployment": "web"}, "phases": [{"name": "a"}, {"name": "b", "weight": 10}]}

    assert list(strings(tree, "spec")) == [
        ("spec.target.deployment", "web"),
        ("spec.phases[0].name", "a"),
        ("spec.phases[1].name", "b"),
    ]


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        pytest.param("true", {}, True, id="true"),
        pytest.param("Yes", {}, True, id="yes-any-case"),
        pytest.param("1", {}, True, id="one"),
        pytest.param("false", {}, False, id="false"),
        pytest.param("", {}, False, id="empty"),
        pytest.param("${workflow.variables.fail}", {"workflow.variables.fail": "true"}, True, id="variable-true"),
        pytest.param("${workflow.variables.fail}", {"workflow.variables.fail": "false"}, False, id="variable-false"),
        pytest.param("${workflow.variables.env} == 'prod'", {"workflow.variables.env": "prod"}, True, id="equal"),
        pytest.param('${workflow.variables.env} == "prod"', {"workflow.variables.env": "dev"}, False, id="not-equal"),
        pytest.param("${workflow.variables.env} != 'prod'", {"workflow.variables.env": "dev"}, True, id="differs"),
        pytest.param("${workflow.variables.env}!=prod", {"workflow.variables.env": "prod"}, False, id="no-spaces"),
        pytest.param("'a b' == a b", {}, True, id="quoted-with-space"),
    ],
)
def test_holds(condition: str, values: dict[str, str], expected: bool) -> None:
    assert holds(condition, values) is expected


@pytest.mark.parametrize(
    ("condition", "parsed"),
    [
        pytest.param("ready", ("ready", None, None), id="single"),
        pytest.param("'x' == y", ("x", "==", "y"), id="equal"),
        pytest.param(" a != 'b' ", ("a", "!=", "b"), id="differs"),
    ],
)
def test_parse_condition(condition: str, parsed: tuple[str, str | None, str | None]) -> None:
    assert parse_condition(condition) == parsed


@pytest.mark.parametrize(
    "condition",
    [pytest.param("a == b == c", id="twice-equal"), pytest.param("a == b != c", id="equal-and-differs")],
)
def test_parse_condition_rejects_two_comparisons(condition: str) -> None:
    with pytest.raises(ExpressionError, match="compares two values once"):
        parse_condition(condition)


# Stage requirements


def _stages(*stages: Obj) -> PipelineSpec:
    """A PipelineSpec of approval stages: requirements depend only on names, requires and parallel."""
    return PipelineSpec.model_validate({"stages": [{"approval": {}, **s} for s in stages]})


def _s(name: str, *requires: str, parallel: bool = False) -> Obj:
    return {"name": name, "requires": list(requires), "parallel": parallel}


@pytest.mark.parametrize(
    ("spec", "graph"),
    [
        pytest.param(_stages(_s("a")), {"a": []}, id="single"),
        pytest.param(_stages(_s("a"), _s("b"), _s("c")), {"a": [], "b": ["a"], "c": ["b"]}, id="sequence"),
        pytest.param(
            _stages(_s("a"), _s("b"), _s("c", parallel=True)),
            {"a": [], "b": ["a"], "c": ["a"]},
            id="parallel-requires-what-the-previous-requires",
        ),
        pytest.param(
            _stages(_s("a"), _s("b"), _s("c", parallel=True), _s("d", parallel=True), _s("e")),
            {"a": [], "b": ["a"], "c": ["a"], "d": ["a"], "e": ["b", "c", "d"]},
            id="after-a-parallel-group-wait-for-all-of-it",
        ),
        pytest.param(_stages(_s("a"), _s("b", parallel=True)), {"a": [], "b": []}, id="parallel-to-the-first-stage"),
        pytest.param(
            _stages(_s("a"), _s("x"), _s("b", "a"), _s("c", "x", parallel=True)),
            {"a": [], "x": ["a"], "b": ["a"], "c": ["a", "x"]},
            id="parallel-adds-its-own-requires",
        ),
        pytest.param(
            _stages(_s("build"), _s("t1", "build"), _s("t2", "build"), _s("deploy", "t1", "t2")),
            {"build": [], "t1": ["build"], "t2": ["build"], "deploy": ["t1", "t2"]},
            id="fan-out-fan-in",
        ),
        pytest.param(_stages(_s("a"), _s("b"), _s("c", "a")), {"a": [], "b": ["a"], "c": ["a"]}, id="requires-wins"),
    ],
)
def test_requirements(spec: PipelineSpec, graph: dict[str, list[str]]) -> None:
    assert requirements(spec) == graph


@pytest.mark.parametrize(
    ("graph", "name", "expected"),
    [
        pytest.param({"a": []}, "a", set(), id="root"),
        pytest.param({"a": [], "b": ["a"], "c": ["b"]}, "c", {"a", "b"}, id="transitive"),
        pytest.param(
            {"build": [], "t1": ["build"], "t2": ["build"], "deploy": ["t1", "t2"]},
            "deploy",
            {"build", "t1", "t2"},
            id="diamond",
        ),
        pytest.param({"a": [], "b": ["a"]}, "missing", set(), id="unknown-stage"),
        pytest.param({"a": ["b"], "b": ["a"]}, "a", {"a", "b"}, id="cycle-terminates"),
    ],
)
def test_ancestors(graph: dict[str, list[str]], name: str, expected: set[str]) -> None:
    assert ancestors(graph, name) == expected


@pytest.mark.parametrize(
    ("stages", "path", "cycle"),
    [
        pytest.param([_s("a", "b"), _s("b", "a")], "spec.stages[0].requires", "a -> b -> a", id="two"),
        pytest.param(
            [_s("a", "c"), _s("b", "a"), _s("c", "b")], "spec.stages[0].requires", "a -> c -> b -> a", id="three"
        ),
        pytest.param(
            [_s("a"), _s("b", "c"), _s("c", "b")], "spec.stages[1].requires", "b -> c -> b", id="after-a-root"
        ),
        pytest.param([_s("a"), _s("b", "b")], "spec.stages[1].requires", "b -> b", id="self"),
    ],
)
def test_requires_cycle_is_reported_with_its_path(stages: list[Obj], path: str, cycle: str) -> None:
    obj = resource("Pipeline", {"stages": [{"approval": {}, **s} for s in stages]})

    errors = validate("Pipeline", obj)

    assert any(e.path == path and e.message.endswith(f"cycle: {cycle}") for e in errors), _shown(errors)


def test_acyclic_dag_has_no_cycle_error() -> None:
    stages = [_s("build"), _s("t1", "build"), _s("t2", "build"), _s("deploy", "t1", "t2")]

    assert validate("Pipeline", resource("Pipeline", {"stages": [{"approval": {}, **s} for s in stages]})) == []


def test_stage_after_a_parallel_group_may_use_outputs_of_the_whole_group() -> None:
    obj = edited(
        pipeline(),
        {
            "spec.stages[1]": {
                "name": "build-arm",
                "parallel": True,
                "workflow": {"workflowRef": {"name": "web-build"}},
            },
            "spec.stages[2].workflow.variables": {
                "amd": "${stages.build.outputs.image}",
                "arm": "${stages.build-arm.outputs.image}",
            },
        },
    )

    assert validate("Pipeline", obj) == []


# Durations


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        pytest.param("0s", 0.0, id="zero"),
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("250ms", 0.25, id="milliseconds"),
        pytest.param("10m", 600.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hour"),
        pytest.param("1m30s", 90.0, id="compound"),
        pytest.param("1h30m15s500ms", 5415.5, id="every-unit"),
        pytest.param("1.5h", 5400.0, id="fraction"),
        pytest.param("90m", 5400.0, id="more-than-an-hour-of-minutes"),
    ],
)
def test_seconds(duration: str, expected: float) -> None:
    assert seconds(duration) == pytest.approx(expected)
