"""The examples a user copies are valid: every Convoy object in examples/ passes `validate()`, and what the
objects refer to (workflows, pipelines, variables) is found among the examples themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from convoy.api.common import GROUP
from convoy.api.pipeline import PipelineRunSpec, PipelineSpec
from convoy.api.validation import FieldError, validate, variable_values
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import WorkflowRunSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.glob("*.yaml"))


def _documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every YAML document in examples/."""
    return [(f.name, doc) for f in FILES for doc in yaml.safe_load_all(f.read_text()) if doc is not None]


DOCUMENTS = _documents()
CONVOY = [(file, doc) for file, doc in DOCUMENTS if doc["apiVersion"].split("/")[0] == GROUP]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in CONVOY if doc["kind"] == kind}


def _shown(errors: list[FieldError]) -> str:
    return "\n".join(f"  {e}" for e in errors)


@pytest.mark.parametrize("doc", [pytest.param(doc, id=f"{file}:{doc['metadata']['name']}") for file, doc in CONVOY])
def test_example_is_valid(doc: dict[str, Any]) -> None:
    errors = validate(doc["kind"], doc)

    assert errors == [], f"{doc['kind']} {doc['metadata']['name']}:\n{_shown(errors)}"


@pytest.mark.parametrize(
    "doc", [pytest.param(doc, id=f"{file}:{doc['kind']}:{doc['metadata']['name']}") for file, doc in DOCUMENTS]
)
def test_every_document_is_a_complete_object(doc: dict[str, Any]) -> None:
    assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"]
    assert isinstance(doc.get("kind"), str) and doc["kind"]
    assert doc.get("metadata", {}).get("name"), "kubectl apply needs metadata.name"


@pytest.mark.parametrize("file", [pytest.param(f, id=f.name) for f in FILES])
def test_every_file_holds_a_convoy_object(file: Path) -> None:
    assert any(f == file.name for f, _ in CONVOY)


def test_every_workflow_type_has_an_example_and_a_run() -> None:
    workflows = _by_kind("Workflow")
    runs = [WorkflowRunSpec.model_validate(d["spec"]) for d in _by_kind("WorkflowRun").values()]
    run_types = {workflows[r.workflow_ref.name]["spec"]["type"] for r in runs if r.workflow_ref is not None}

    assert {w["spec"]["type"] for w in workflows.values()} >= {
        "Basic",
        "Rolling",
        "Canary",
        "BlueGreen",
        "MultiService",
        "Build",
    }
    assert run_types == {"Basic", "Rolling", "Canary", "BlueGreen", "MultiService", "Build"}


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in _by_kind("WorkflowRun")])
def test_run_gives_the_variables_its_workflow_declares(name: str) -> None:
    run = WorkflowRunSpec.model_validate(_by_kind("WorkflowRun")[name]["spec"])
    assert run.workflow_ref is not None
    workflow = _by_kind("Workflow").get(run.workflow_ref.name)
    assert workflow is not None, f"no example Workflow is named {run.workflow_ref.name}"

    declared = WorkflowSpec.model_validate(workflow["spec"]).variables

    assert list(variable_values(declared, run.variables, "spec.variables")) == []


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in _by_kind("Pipeline")])
def test_pipeline_stages_give_the_variables_their_workflows_declare(name: str) -> None:
    pipeline = PipelineSpec.model_validate(_by_kind("Pipeline")[name]["spec"])
    workflows = _by_kind("Workflow")

    for i, stage in enumerate(pipeline.stages):
        if stage.workflow is None:
            continue
        workflow = workflows.get(stage.workflow.workflow_ref.name)
        assert workflow is not None, (
            f"stage {stage.name}: no example Workflow is named {stage.workflow.workflow_ref.name}"
        )
        declared = WorkflowSpec.model_validate(workflow["spec"]).variables
        given = stage.workflow.variables
        errors = [
            e
            for e in variable_values(declared, given, f"spec.stages[{i}].workflow.variables")
            if "${" not in given.get(e.path.rsplit(".", 1)[-1], "")  # a templated value's type is known at run time
        ]
        assert errors == [], _shown(errors)


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in _by_kind("PipelineRun")])
def test_pipeline_run_gives_the_variables_its_pipeline_declares(name: str) -> None:
    run = PipelineRunSpec.model_validate(_by_kind("PipelineRun")[name]["spec"])
    pipeline = _by_kind("Pipeline").get(run.pipeline_ref.name)
    assert pipeline is not None, f"no example Pipeline is named {run.pipeline_ref.name}"

    declared = PipelineSpec.model_validate(pipeline["spec"]).variables

    assert list(variable_values(declared, run.variables, "spec.variables")) == []


def test_rollback_names_an_example_workflow() -> None:
    [rollback] = _by_kind("Rollback").values()

    assert rollback["spec"]["workflowRef"]["name"] in _by_kind("Workflow")


def test_readme_lists_every_file() -> None:
    readme = (EXAMPLES / "README.md").read_text()

    assert [f.name for f in FILES if f"`{f.name}`" not in readme] == []
