"""The operator's metrics endpoint, scraped while a canary run waits for an approval and after it finished: every
series docs/metrics.md lists is served, with values that match the run."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from harness import ROOT, Operator, Runs
from prometheus_client.parser import text_string_to_metric_families
from test_canary import web10  # noqa: F401  (fixture)
from test_workflowruns import run, step_record, workflow

from convoy.planner.timeutil import parse

pytestmark = pytest.mark.e2e
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(convoy: Operator) -> tuple[str, Samples]:
    text = convoy.metrics()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples: Samples, name: str, labels: Mapping[str, str]) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def seconds(record: Mapping[str, str]) -> float:
    return (parse(record["finishedAt"]) - parse(record["startedAt"])).total_seconds()


def documented() -> list[str]:
    table = (ROOT / "docs" / "metrics.md").read_text()
    return re.findall(r"^\| `(convoy_[a-z_]+)` \|", table, flags=re.MULTILINE)


def canary_with_approval() -> dict[str, object]:
    return {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": "registry.example/web:2.0"},
        "phases": [
            {"name": "half", "weight": 50, "steps": [{"name": "set-weight", "deploy": {}}, {"name": "go", "approval": {"allowSelfApproval": True}}]},
            {"name": "full", "weight": 100, "steps": [{"name": "set-weight", "deploy": {}}]},
        ],
    }  # fmt: skip


def test_the_documented_series_are_served_with_the_values_of_a_run(
    convoy: Operator,
    runs: Runs,
    web10: None,  # noqa: F811
) -> None:
    ns = runs.namespace
    runs.apply(workflow("web", canary_with_approval()))
    _, before = scrape(convoy)
    # given a canary run at 50% that waits for an approval
    runs.apply(run("web-2", "web"))
    runs.wait_phase("web-2", "WaitingForApproval")
    text, during = scrape(convoy)
    # then every documented series is served, and the gauges describe the run
    for name in documented():
        assert f"# TYPE {name} " in text, f"{name} is documented but not served"
    runs_in = {"namespace": ns, "workflow": "web", "type": "Canary"}
    assert value(during, "convoy_workflow_runs", {**runs_in, "phase": "WaitingForApproval"}) == 1
    assert value(during, "convoy_canary_weight", {"namespace": ns, "run": "web-2"}) == 50
    assert value(during, "convoy_approvals_waiting", {"namespace": ns}) == 1
    # when it is approved and finishes
    runs.decide("web-2", {"action": "Approve"})
    status = runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)
    assert status["phase"] == "Succeeded"
    _, after = scrape(convoy)
    # then it counts as succeeded, its weight and the approval are gone, and its steps and phases were timed once
    assert value(after, "convoy_workflow_runs", {**runs_in, "phase": "Succeeded"}) == 1
    assert value(after, "convoy_workflow_runs", {**runs_in, "phase": "WaitingForApproval"}) is None
    assert value(after, "convoy_canary_weight", {"namespace": ns, "run": "web-2"}) is None
    assert value(after, "convoy_approvals_waiting", {"namespace": ns}) is None

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    steps = "convoy_step_duration_seconds_count"
    assert grew(steps, type="Canary", kind="deploy", part="deploy", state="Succeeded") >= 2
    assert grew(steps, type="Canary", kind="approval", part="deploy", state="Succeeded") >= 1
    assert grew("convoy_step_duration_seconds_sum", type="Canary", kind="approval") == seconds(
        step_record(status, "go")
    )
    assert grew("convoy_phase_duration_seconds_count", type="Canary", part="deploy", state="Succeeded") >= 2
    assert grew("convoy_reconcile_seconds_count", kind="workflowruns") >= 3
    assert grew("convoy_api_calls_total", verb="patch", resource="deployments", code="ok") >= 1
    assert grew("convoy_cache_reads_total", source="cache") >= 1  # the watch, not the API server, was read
    assert value(after, "convoy_queued_runs", {}) == 0
