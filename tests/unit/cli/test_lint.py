"""`lint`: the validator offline, one `file: Kind/name: path: message` line per problem, exit 1 if any."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        "web.yaml: Deploymnet/odd: kind: not a Convoy kind: use one of Workflow, WorkflowRun, Pipeline, PipelineRun, Rollback",
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
