"""The API as users meet it on a real API server: examples accepted, invalid specs refused with the field path
(by the schema or by the admission webhook), columns and descriptions readable with kubectl."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from harness import ROOT, Operator, Runs, kubectl

sys.path.insert(0, str(ROOT / "tests" / "unit"))
from invalid_specs import BASELINES, CASES, InvalidCase

pytestmark = pytest.mark.e2e
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def dry_run(kubeconfig: str, namespace: str, obj: dict[str, object]) -> tuple[int, str]:
    result = kubectl(
        kubeconfig, "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False
    )
    return result.returncode, result.stderr + result.stdout


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in EXAMPLES])
def test_every_example_is_accepted_by_the_api_server(convoy: Operator, runs: Runs, path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    namespaces = [d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"]
    for name in namespaces:  # objects in a namespace the file creates need it to exist for a dry run
        kubectl(runs.kubeconfig, "create", "namespace", name, check=False)
    try:
        for document in documents:
            namespace = document["metadata"].get("namespace", runs.namespace)
            code, output = dry_run(runs.kubeconfig, namespace, document)
            assert code == 0, f"{path.name}: {document['kind']} {document['metadata']['name']}: {output}"
    finally:
        for name in namespaces:
            kubectl(runs.kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.parametrize("kind", list(BASELINES))
def test_the_valid_baselines_are_accepted(convoy: Operator, runs: Runs, kind: str) -> None:
    code, output = dry_run(runs.kubeconfig, runs.namespace, BASELINES[kind])
    assert code == 0, output


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_invalid_specs_are_refused_naming_the_field(convoy: Operator, runs: Runs, case: InvalidCase) -> None:
    code, output = dry_run(runs.kubeconfig, runs.namespace, case.obj)
    assert code != 0, f"the API server accepted {case.id}"
    assert case.path in output, f"{case.path} not named in: {output}"


def test_kubectl_shows_the_columns_and_the_convoy_category(convoy: Operator, runs: Runs) -> None:
    runs.apply((ROOT / "examples" / "workflow-rolling.yaml").read_text())
    runs.apply((ROOT / "examples" / "run-rolling.yaml").read_text())
    runs.wait_phase("web-rolling-1-1", "Succeeded", timeout=90)
    table = kubectl(runs.kubeconfig, "get", "workflowruns", "-n", runs.namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "WORKFLOW", "TYPE", "PHASE", "STEP", "PROGRESS", "WEIGHT", "AGE"]
    assert table[1].split()[:5] == ["web-rolling-1-1", "web-rolling", "Rolling", "Succeeded", "1/1"]
    short = kubectl(runs.kubeconfig, "get", "wfr,wf", "-n", runs.namespace).stdout
    assert "workflowrun.convoy.dev/web-rolling-1-1" in short and "workflow.convoy.dev/web-rolling" in short
    everything = kubectl(runs.kubeconfig, "get", "convoy", "-n", runs.namespace).stdout
    assert "workflowrun.convoy.dev/web-rolling-1-1" in everything and "workflow.convoy.dev/web-rolling" in everything
    pipeline_columns = kubectl(runs.kubeconfig, "get", "pipelineruns", "-n", runs.namespace, "-o", "wide")
    assert "No resources found" in pipeline_columns.stderr
    crd = yaml.safe_load(kubectl(runs.kubeconfig, "get", "crd", "pipelineruns.convoy.dev", "-o", "yaml").stdout)
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Pipeline", "Phase", "Stages", "Age"]


def test_kubectl_explain_reads_the_descriptions(convoy: Operator, runs: Runs) -> None:
    phases = kubectl(runs.kubeconfig, "explain", "workflow.spec.phases").stdout
    assert "Phases run strictly in order" in phases
    assert "rollbackSteps" in phases and "weight" in phases
    weight = kubectl(runs.kubeconfig, "explain", "workflow.spec.phases.weight").stdout
    assert "Canary only" in weight
    step = kubectl(runs.kubeconfig, "explain", "workflow.spec.phases.steps").stdout
    assert "Set exactly one of" in step
