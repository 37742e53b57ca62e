"""CircleCI filter semantics on the real cluster, with the reference's build-n-deploy pipelines ("Orchestrating
Workflows", Git Tag Job Execution): a stage runs only after the stages it requires ran, so on a tag push every stage
a stage requires, transitively, needs a tags filter too. Each test checks which stages made a WorkflowRun (and a
Job, whose pod ran), in which order, and what the skipped ones say. Written given / when / then."""

from __future__ import annotations

from itertools import pairwise
from typing import Any, cast

import pytest
import yaml
from harness import GROUP, VERSION, Operator, Runs

pytestmark = pytest.mark.e2e
FINISHED = ("Succeeded", "Failed", "Aborted")
CONFIG_TEST_TAGS = {"tags": {"only": ["/^config-test.*/"]}}
RAN_FIRST = "a stage runs only after the stages it requires ran"
NO_TAGS_FILTER = "tag config-test-1: a tag-triggered run skips stages without a tags filter"


def resource(kind: str, name: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec})


def stage(name: str, requires: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "workflow": {"workflowRef": {"name": "job"}}, "requires": requires or [], **extra}


def build_n_deploy(*, test_filters: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The reference's build-n-deploy: build <- test <- deploy; deploy runs for config-test tags only."""
    test = stage("test", ["build"], **({"filters": test_filters} if test_filters else {}))
    deploy_filters = {**CONFIG_TEST_TAGS, "branches": {"ignore": ["/.*/"]}}
    return [stage("build", filters=CONFIG_TEST_TAGS), test, stage("deploy", ["test"], filters=deploy_filters)]


@pytest.fixture
def job_workflow(runs: Runs) -> None:
    """Given the Workflow 'job': one Job whose pod runs for a second."""
    template = {
        "metadata": {"annotations": {"convoy.dev/fake-duration": "1s"}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/tools:1"}]},
    }
    phases = [{"name": "work", "steps": [{"name": "run", "job": {"template": template}}]}]
    runs.apply(resource("Workflow", "job", {"type": "Build", "phases": phases}))


def run_pipeline(runs: Runs, stages: list[dict[str, Any]], trigger: dict[str, str]) -> dict[str, Any]:
    runs.apply(resource("Pipeline", "build-n-deploy", {"stages": stages}))
    runs.apply(resource("PipelineRun", "ci", {"pipelineRef": {"name": "build-n-deploy"}, "trigger": trigger}))
    status = runs.wait_phase("ci", *FINISHED, timeout=120, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    return status


def stage_runs(runs: Runs) -> dict[str, dict[str, Any]]:
    """The PipelineRun's WorkflowRuns, by stage."""
    selector = f"convoy.dev/pipelinerun=ci,convoy.dev/pipelinerun-namespace={runs.namespace}"
    found = cast(dict[str, Any], runs.custom.list_namespaced_custom_object(
        GROUP, VERSION, runs.namespace, "workflowruns", label_selector=selector
    ))  # fmt: skip
    return {item["metadata"]["labels"]["convoy.dev/stage"]: item for item in found["items"]}


def jobs(runs: Runs) -> int:
    return len(runs.batch.list_namespaced_job(runs.namespace).items)


def states(status: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["state"] for s in status["stages"]}


def message(status: dict[str, Any], name: str) -> str:
    return str(next(s for s in status["stages"] if s["name"] == name)["message"])


def assert_in_order(status: dict[str, Any], *names: str) -> None:
    """Each stage started once the one before it had finished."""
    records = {s["name"]: s for s in status["stages"]}
    for before, after in pairwise(names):
        assert records[before]["finishedAt"] <= records[after]["startedAt"], (before, after, records)


def test_on_a_tag_push_a_stage_requiring_a_stage_without_a_tags_filter_is_skipped(
    convoy: Operator, runs: Runs, job_workflow: None
) -> None:
    # given the reference's build-n-deploy, where test has no tags filter
    # when a tag config-test-1 is pushed
    status = run_pipeline(runs, build_n_deploy(test_filters=None), {"tag": "config-test-1"})
    # then only build runs: test has no tags filter, and deploy requires test, so neither runs
    assert states(status) == {"build": "Succeeded", "test": "Skipped", "deploy": "Skipped"}
    assert sorted(stage_runs(runs)) == ["build"]
    assert jobs(runs) == 1
    assert message(status, "test") == f"skipped: {NO_TAGS_FILTER}"
    assert message(status, "deploy") == f"skipped: requires test, which was skipped ({NO_TAGS_FILTER}); {RAN_FIRST}"
    assert "StageSkipped" in runs.reasons("ci")


@pytest.mark.parametrize(
    ("trigger", "expected", "order"),
    [
        pytest.param(
            {"tag": "config-test-1"}, {"build": "Succeeded", "test": "Succeeded", "deploy": "Succeeded"},
            ["build", "test", "deploy"], id="config-test-tag-runs-all-three-in-order",
        ),
        pytest.param(
            {"branch": "main"}, {"build": "Succeeded", "test": "Succeeded", "deploy": "Skipped"},
            ["build", "test"], id="branch-runs-build-and-test",
        ),
    ],
)  # fmt: skip
def test_the_reference_pipeline_where_every_stage_has_a_tags_filter(
    convoy: Operator,
    runs: Runs,
    job_workflow: None,
    trigger: dict[str, str],
    expected: dict[str, str],
    order: list[str],
) -> None:
    # given build-n-deploy with a config-test tags filter on every stage
    # when it runs for `trigger`
    status = run_pipeline(runs, build_n_deploy(test_filters=CONFIG_TEST_TAGS), trigger)
    # then the stages that run, run one after the other, each with its own WorkflowRun and Job
    assert states(status) == expected
    assert sorted(stage_runs(runs)) == sorted(order)
    assert jobs(runs) == len(order)
    assert_in_order(status, *order)


def test_a_stage_after_a_stage_skipped_by_its_branch_filter_does_not_run_beside_what_that_one_required(
    convoy: Operator, runs: Runs, job_workflow: None
) -> None:
    # given a <- b (main only) <- c
    stages = [stage("a"), stage("b", ["a"], filters={"branches": {"only": ["main"]}}), stage("c", ["b"])]
    # when it runs for branch dev
    status = run_pipeline(runs, stages, {"branch": "dev"})
    # then b is skipped, and c, which requires it, too: it neither starts at once beside a nor after it
    assert states(status) == {"a": "Succeeded", "b": "Skipped", "c": "Skipped"}
    assert sorted(stage_runs(runs)) == ["a"]
    assert jobs(runs) == 1
    assert message(status, "b") == "skipped: branch dev is not among only: main"
    assert message(status, "c") == (
        f"skipped: requires b, which was skipped (branch dev is not among only: main); {RAN_FIRST}"
    )
