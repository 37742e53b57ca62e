"""`lint`: the validator offline, one `file: Kind/name: path: message` line per problem, exit 1 if any."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from convoy.cli.errors import FAILED, OK
from convoy.cli.lint import lint_text

from .fake import FakeCluster, invoke

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

BROKEN = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
spec: {whatever: true}
---
apiVersion: convoy.dev/v1alpha1
kind: Workflow
metadata: {name: web}
spec:
  type: Rollin
  phases:
    - name: Rollout
      steps: [{name: deploy, deploy: {}}]
---
apiVersion: convoy.dev/v1alpha1
kind: Deploymnet
metadata: {name: odd}
spec: {}
"""


def test_problems_name_file_object_and_field() -> None:
    problems, checked = lint_text("web.yaml", BROKEN)
    assert checked == 2
    assert problems == [
        "web.yaml: Workflow/web: spec.type: 'Rollin' is not allowed: "
        "use 'Basic', 'Rolling', 'Canary', 'BlueGreen', 'MultiService' or 'Build'",
        "web.yaml: Workflow/web: spec.phases[0].name: 'Rollout' is not a DNS-1123 label: "
        "use lower-case letters, digits and '-', starting and ending with a letter or digit",
        "web.yaml: Deploymnet/odd: kind: not a Convoy kind: use one of Workflow, WorkflowRun, Pipeline, PipelineRun, Rollback, Grant",
    ]


def test_invalid_yaml_is_one_line() -> None:
    problems, checked = lint_text("bad.yaml", "kind: [unclosed\n")
    assert checked == 0
    assert len(problems) == 1 and problems[0].startswith("bad.yaml: not valid YAML: ")


def test_the_examples_pass(capsys: Any) -> None:
    result = invoke(FakeCluster(), ["lint", str(EXAMPLES)], capsys)
    assert result.code == OK, result.out
    assert result.out.endswith("Convoy objects checked: no problems\n")


def test_a_broken_file_fails(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(BROKEN)
    result = invoke(FakeCluster(), ["lint", str(path), str(tmp_path / "missing.yaml")], capsys)
    assert result.code == FAILED
    lines = result.out.splitlines()
    assert lines[0].startswith(f"{path}: Workflow/web: spec.type: ")
    assert lines[-2].startswith(f"{tmp_path / 'missing.yaml'}: cannot read it: ")
    assert lines[-1] == "2 Convoy objects checked: 4 problems"


# Lint agrees with the server: the CRD's structural schema first, as the API server checks it, then the semantic rules


def manifest(kind: str, spec: Any) -> str:
    return yaml.safe_dump({"apiVersion": "convoy.dev/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec})


def job_step(**job: Any) -> dict[str, Any]:
    return {"name": "smoke", "job": {"template": {"spec": {"containers": [{"name": "t", "image": "t:1"}]}}, **job}}


def workflow(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"type": "Build", "phases": [{"name": "work", "steps": list(steps)}], **spec}


def stages(*extra: dict[str, Any]) -> dict[str, Any]:
    first = {"name": "build", "workflow": {"workflowRef": {"name": "b"}}}
    return {"stages": [first, *({"name": "test", "workflow": {"workflowRef": {"name": "t"}}, **e} for e in extra)]}


@pytest.mark.parametrize(
    ("kind", "spec", "problems"),
    [
        # the issue's two: pydantic turned "yes" into true, the API server refuses a string where a boolean goes
        pytest.param("Pipeline", stages({"parallel": "yes"}), [
            "spec.stages[1].parallel: must be true or false, not the string 'yes'",
        ], id="parallel-yes"),
        pytest.param("Rollback", {"workflowRef": {"name": "web"}, "force": "yes"}, [
            "spec.force: must be true or false, not the string 'yes'",
        ], id="force-yes"),
        pytest.param("Rollback", {"workflowRef": {"name": "web"}, "force": "true"}, [
            "spec.force: must be true or false, not the string 'true': remove the quotes",
        ], id="quoted-true"),
        pytest.param("Workflow", workflow(job_step(backoffLimit="3")), [
            "spec.phases[0].steps[0].job.backoffLimit: must be an integer, not the string '3': remove the quotes",
        ], id="quoted-integer"),
        pytest.param("Workflow", workflow(job_step(backoffLimit=1.5)), [
            "spec.phases[0].steps[0].job.backoffLimit: must be an integer, not the number 1.5",
        ], id="fraction-for-an-integer"),
        pytest.param("Workflow", workflow(job_step(backoffLimit=True)), [
            "spec.phases[0].steps[0].job.backoffLimit: must be an integer, not the boolean true",
        ], id="boolean-for-an-integer"),
        pytest.param("Workflow", workflow(job_step(backoffLimit=11)), [
            "spec.phases[0].steps[0].job.backoffLimit: 11 is too large: use at most 10",
        ], id="maximum"),
        pytest.param("Workflow", workflow(job_step(backoffLimit=-1)), [
            "spec.phases[0].steps[0].job.backoffLimit: -1 is too small: use at least 0",
        ], id="minimum"),
        pytest.param("Workflow", workflow({"name": "Smoke", "pause": {}}), [
            "spec.phases[0].steps[0].name: 'Smoke' is not a DNS-1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        ], id="pattern"),
        pytest.param("Workflow", workflow({"name": "x" * 64, "pause": {}}), [
            "spec.phases[0].steps[0].name: has 64 characters: give at most 63",
        ], id="max-length"),
        pytest.param("Workflow", {**workflow({"name": "p", "pause": {}}), "type": "Rollin"}, [
            "spec.type: 'Rollin' is not allowed: use 'Basic', 'Rolling', 'Canary', 'BlueGreen', 'MultiService' or 'Build'",
        ], id="enum"),
        pytest.param("Pipeline", {"stages": []}, ["spec.stages: has 0 items: give at least 1"], id="min-items"),
        pytest.param("Pipeline", {"variables": []}, ["spec.stages: required: set it"], id="required"),
        pytest.param("Pipeline", stages({"paralel": True}), [
            "spec.stages[1].paralel: unknown field: remove it or check its spelling",
        ], id="unknown-field"),
        pytest.param("Pipeline", {"stages": "build"}, [
            "spec.stages: must be a list, not the string 'build'",
        ], id="string-for-a-list"),
        pytest.param("Workflow", workflow(job_step(template={
            "metadata": {"anything": [1]}, "spec": {"containers": [{"name": "t", "image": "t:1"}]},
        })), [], id="free-form-object"),
        pytest.param("Pipeline", stages({"parallel": None}), [], id="null-is-pruned"),
        # what passes the schema is then checked by the semantic rules, with their own messages
        pytest.param("Pipeline", stages({"requires": ["deploy"]}), [
            "spec.stages[1].requires[0]: no stage is named 'deploy'",
        ], id="then-the-semantic-rules"),
        pytest.param("Pipeline", {"stages": [{"name": "a", "workflow": {"workflowRef": {"name": "b"}}, "parallel": True}]}, [
            "spec.stages[0].parallel: the first stage has no previous stage to run beside",
        ], id="semantic-rule-on-a-valid-boolean"),
    ],
)  # fmt: skip
def test_lint_checks_the_crd_schema_then_the_rules(kind: str, spec: Any, problems: list[str]) -> None:
    found, checked = lint_text("x.yaml", manifest(kind, spec))
    assert checked == 1
    assert found == [f"x.yaml: {kind}/x: {p}" for p in problems]


def test_a_string_key_must_be_quoted() -> None:
    text = manifest("Pipeline", stages()).replace("  workflowRef:", "  1: x\n      workflowRef:", 1)
    found, _ = lint_text("x.yaml", text)
    assert found == ["x.yaml: Pipeline/x: spec.stages[0].workflow.1: a key must be a string: quote it"]


def test_an_unquoted_date_is_a_string_as_kubectl_sends_it() -> None:
    text = manifest("Pipeline", stages()).replace("name: b", "name: 2025-01-01", 1)
    assert "name: 2025-01-01" in text
    assert lint_text("x.yaml", text) == ([], 1)
