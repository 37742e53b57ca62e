"""The generated CRDs: deterministic, committed as generated, structural, and with the names, columns and
subresources that `kubectl get` and `kubectl explain` rely on."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from convoy.api.common import GROUP
from convoy.api.crd import render_all
from convoy.api.resources import KINDS, Kind

CRDS = Path(__file__).resolve().parents[2] / "crds"
Schema = dict[str, Any]


@functools.cache
def _crds() -> dict[str, dict[str, Any]]:
    """Plural → CRD document. Rendered once: the tests only read it."""
    docs = (yaml.safe_load(text) for text in render_all().values())
    return {doc["spec"]["names"]["plural"]: doc for doc in docs}


def _version(plural: str) -> dict[str, Any]:
    versions: list[dict[str, Any]] = _crds()[plural]["spec"]["versions"]
    [version] = versions
    return version


def _schema(plural: str) -> Schema:
    schema: Schema = _version(plural)["schema"]["openAPIV3Schema"]
    return schema


def _node(schema: Schema, path: str) -> Schema:
    """The schema node at a dotted path; `[]` steps into array items: `spec.phases[].steps`."""
    node = schema
    for part in path.split("."):
        name, items = part.removesuffix("[]"), part.endswith("[]")
        node = node["properties"][name]
        if items:
            node = node["items"]
    return node


_FORBIDDEN = ("$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "not")


def structural_problems(node: Schema, path: str = "") -> list[str]:
    """What keeps a schema from being structural in the sense of Kubernetes, e.g. `spec.phases: no type`."""
    problems = [f"{path}: {key}" for key in _FORBIDDEN if key in node]
    preserves = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "type" not in node and not preserves:
        problems.append(f"{path}: no type")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties together")
    if node.get("type") == "array" and not isinstance(node.get("items"), dict):
        problems.append(f"{path}: an array without one items schema")
    if node.get("type") != "object" and ("properties" in node or "additionalProperties" in node):
        problems.append(f"{path}: properties on a {node.get('type')}")
    missing = [name for name in node.get("required", []) if name not in node.get("properties", {})]
    if missing:
        problems.append(f"{path}: required names unknown properties {missing}")
    for name, sub in node.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}".lstrip("."))
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}{{}}")
    return problems


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        pytest.param({"properties": {}}, ": no type", id="untyped"),
        pytest.param({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "a: $ref", id="ref"),
        pytest.param(
            {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}], "type": "string"}}},
            "a: anyOf",
            id="any-of",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            ": properties and additionalProperties together",
            id="both-properties",
        ),
        pytest.param({"type": "array"}, ": an array without one items schema", id="array-without-items"),
        pytest.param(
            {
                "type": "object",
                "properties": {"l": {"type": "array", "items": {"type": "object", "properties": {"x": {}}}}},
            },
            "l[].x: no type",
            id="deep-in-items",
        ),
        pytest.param(
            {"type": "object", "required": ["a"], "properties": {}}, "unknown properties ['a']", id="required"
        ),
    ],
)
def test_structural_checker_finds_problems(schema: Schema, problem: str) -> None:
    assert any(p.endswith(problem) for p in structural_problems(schema)), structural_problems(schema)


def test_structural_checker_accepts_preserved_free_form() -> None:
    schema = {"type": "object", "properties": {"template": {"x-kubernetes-preserve-unknown-fields": True}}}

    assert structural_problems(schema) == []


def test_rendering_is_deterministic() -> None:
    assert render_all() == render_all()


def test_committed_crds_match_the_models() -> None:
    rendered = render_all()
    committed = {p.name: p.read_text() for p in CRDS.glob(f"{GROUP}_*.yaml")}

    assert sorted(committed) == sorted(rendered)
    stale = [name for name, text in rendered.items() if committed[name] != text]
    assert stale == [], f"crds/ differs from the models in {stale}: run `make crds` and commit the result"


def test_every_kind_has_a_crd() -> None:
    assert sorted(_crds()) == sorted(k.plural for k in KINDS)


@pytest.mark.parametrize("plural", [pytest.param(k.plural, id=k.plural) for k in KINDS])
def test_schema_is_structural(plural: str) -> None:
    assert structural_problems(_schema(plural)) == []


@pytest.mark.parametrize(
    ("plural", "short_name"),
    [
        pytest.param("workflows", "wf", id="workflows"),
        pytest.param("workflowruns", "wfr", id="workflowruns"),
        pytest.param("pipelines", "pl", id="pipelines"),
        pytest.param("pipelineruns", "plr", id="pipelineruns"),
        pytest.param("rollbacks", "rb", id="rollbacks"),
    ],
)
def test_names(plural: str, short_name: str) -> None:
    crd = _crds()[plural]
    names = crd["spec"]["names"]

    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["scope"] == "Namespaced"
    assert names["shortNames"] == [short_name]
    assert "convoy" in names["categories"]
    assert names["singular"] == plural.removesuffix("s")


@pytest.mark.parametrize(
    ("plural", "columns"),
    [
        pytest.param(
            "workflowruns", ["WORKFLOW", "TYPE", "PHASE", "STEP", "PROGRESS", "WEIGHT", "AGE"], id="workflowruns"
        ),
        pytest.param("pipelineruns", ["PIPELINE", "PHASE", "STAGES", "AGE"], id="pipelineruns"),
    ],
)
def test_printer_columns(plural: str, columns: list[str]) -> None:
    printed = _version(plural)["additionalPrinterColumns"]

    assert [c["name"].upper() for c in printed] == columns
    assert printed[-1]["jsonPath"] == ".metadata.creationTimestamp"


@pytest.mark.parametrize("plural", [pytest.param(k.plural, id=k.plural) for k in KINDS])
def test_printer_columns_point_into_the_schema(plural: str) -> None:
    schema = _schema(plural)

    for column in _version(plural)["additionalPrinterColumns"]:
        path = column["jsonPath"].lstrip(".").split("[")[0]
        if path.startswith("metadata."):
            continue
        assert _node(schema, path)["type"] in ("string", "integer", "array"), column


@pytest.mark.parametrize(
    "plural",
    [pytest.param(p, id=p) for p in ("workflowruns", "pipelineruns", "rollbacks")],
)
def test_run_kinds_have_a_status_subresource(plural: str) -> None:
    assert _version(plural)["subresources"] == {"status": {}}
    assert "status" in _schema(plural)["properties"]


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.plural) for k in KINDS])
def test_status_subresource_exactly_when_the_kind_has_a_status(kind: Kind) -> None:
    assert ("subresources" in _version(kind.plural)) == (kind.status is not None)


@pytest.mark.parametrize("plural", [pytest.param(p, id=p) for p in ("workflowruns", "pipelineruns", "rollbacks")])
def test_status_requires_nothing(plural: str) -> None:
    """The operator patches status piecemeal; a required field would make a partial patch fail."""

    def required(node: Schema) -> list[str]:
        inner = [*node.get("properties", {}).values(), *([node["items"]] if "items" in node else [])]
        here: list[str] = node.get("required", [])
        return here + [name for sub in inner for name in required(sub)]

    assert required(_schema(plural)["properties"]["status"]) == []


@pytest.mark.parametrize(
    ("plural", "path"),
    [
        pytest.param("workflows", "spec", id="workflow-spec"),
        pytest.param("workflows", "spec.type", id="workflow-type"),
        pytest.param("workflows", "spec.phases", id="workflow-phases"),
        pytest.param("workflows", "spec.phases[]", id="workflow-phase"),
        pytest.param("workflows", "spec.phases[].weight", id="workflow-phase-weight"),
        pytest.param("workflows", "spec.phases[].steps", id="workflow-steps"),
        pytest.param("workflows", "spec.phases[].steps[]", id="workflow-step"),
        pytest.param("workflows", "spec.phases[].rollbackSteps", id="workflow-rollback-steps"),
        pytest.param("workflows", "spec.variables", id="workflow-variables"),
        pytest.param("workflows", "spec.failureStrategies", id="workflow-failure-strategies"),
        pytest.param("workflows", "spec.canary", id="workflow-canary"),
        pytest.param("workflows", "spec.blueGreen", id="workflow-blue-green"),
        pytest.param("workflowruns", "spec.workflowRef", id="run-workflow-ref"),
        pytest.param("workflowruns", "spec.workflow", id="run-inline-workflow"),
        pytest.param("workflowruns", "spec.variables", id="run-variables"),
        pytest.param("pipelines", "spec", id="pipeline-spec"),
        pytest.param("pipelines", "spec.stages", id="pipeline-stages"),
        pytest.param("pipelines", "spec.stages[].requires", id="pipeline-requires"),
        pytest.param("pipelines", "spec.stages[].parallel", id="pipeline-parallel"),
        pytest.param("pipelines", "spec.variables", id="pipeline-variables"),
        pytest.param("pipelineruns", "spec.pipelineRef", id="pipeline-run-ref"),
        pytest.param("rollbacks", "spec", id="rollback-spec"),
    ],
)
def test_key_fields_are_described(plural: str, path: str) -> None:
    """`kubectl explain` shows these descriptions; the fields people look up first must have one."""
    assert _node(_schema(plural), path).get("description")


@pytest.mark.parametrize("plural", [pytest.param(k.plural, id=k.plural) for k in KINDS])
def test_every_spec_object_is_described(plural: str) -> None:
    def undescribed(node: Schema, path: str) -> list[str]:
        here = [path] if node.get("type") == "object" and "properties" in node and not node.get("description") else []
        inner = [(f"{path}.{name}", sub) for name, sub in node.get("properties", {}).items()]
        inner += [(f"{path}[]", node["items"])] if isinstance(node.get("items"), dict) else []
        return here + [p for sub_path, sub in inner for p in undescribed(sub, sub_path)]

    assert undescribed(_schema(plural)["properties"]["spec"], "spec") == []
