"""The run metrics: which durations a status write observes (once per step and phase, whatever the path of the
run), and the gauges the run index gives."""

from __future__ import annotations

from typing import Any

import pytest
from planner.builders import DEPLOYMENT, NEW_IMAGE, Obj, approval, deploy, phase, verify_http, workflow
from planner.sim import Cluster, Sim
from prometheus_client import REGISTRY, CollectorRegistry

from convoy.api.workflowrun import WorkflowRunStatus
from convoy.handlers.index import Entry, RunIndex
from convoy.handlers.metrics import (
    Finished,
    RunCollector,
    Timed,
    finished,
    observe_write,
    run_series,
)
from convoy.planner.observed import Outcome

T = "2025-03-01T12:00:{:02d}Z"


def status(*phases: Obj, rollback: list[Obj] | None = None, type: str = "Canary") -> WorkflowRunStatus:
    """A status in wire form: phase("w50", step(...)) records."""
    return WorkflowRunStatus.model_validate(
        {"type": type, "phases": list(phases), "rollback": rollback or [], "startedAt": T.format(0)}
    )


def record(name: str, *steps: Obj, state: str = "Running", start: int | None = 0, end: int | None = None) -> Obj:
    return {
        "name": name,
        "state": state,
        "steps": list(steps),
        **({"startedAt": T.format(start)} if start is not None else {}),
        **({"finishedAt": T.format(end)} if end is not None else {}),
    }


def step(
    name: str, kind: str, state: str = "Running", start: int | None = 0, end: int | None = None, **extra: Any
) -> Obj:
    out = record(name, state=state, start=start, end=end)
    del out["steps"]
    return {**out, "kind": kind, **extra}


RUNNING = step("deploy", "deploy")
DEPLOYED = step("deploy", "deploy", "Succeeded", end=20)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            status(record("w50", RUNNING)),
            status(record("w50", DEPLOYED)),
            [Finished(Timed.STEP, ("Canary", "deploy", "deploy", "Succeeded"), 20.0)],
            id="a-step-finishes",
        ),
        pytest.param(
            status(record("w50", DEPLOYED)),
            status(record("w50", DEPLOYED)),
            [],
            id="a-finished-step-is-not-observed-again",
        ),
        pytest.param(
            status(record("w50", RUNNING)),
            status(record("w50", DEPLOYED, state="Succeeded", end=21)),
            [
                Finished(Timed.STEP, ("Canary", "deploy", "deploy", "Succeeded"), 20.0),
                Finished(Timed.PHASE, ("Canary", "deploy", "Succeeded"), 21.0),
            ],
            id="a-phase-finishes-with-its-last-step",
        ),
        pytest.param(
            WorkflowRunStatus(),
            status(record("w50", step("tell", "notify", "Succeeded", end=0), RUNNING)),
            [Finished(Timed.STEP, ("Canary", "notify", "deploy", "Succeeded"), 0.0)],
            id="the-first-write-of-a-run",
        ),
        pytest.param(
            status(record("w50", DEPLOYED, step("smoke", "verify", "Pending", start=None))),
            status(record("w50", DEPLOYED, step("smoke", "verify", "Skipped", start=None, end=5))),
            [],
            id="a-skipped-step-has-no-duration",
        ),
        pytest.param(
            status(record("w50", step("smoke", "verify"))),
            status(record("w50", step("smoke", "verify", "Failed", error="VerificationFailed"))),
            [],
            id="a-failed-step-awaiting-its-strategy-has-not-finished",
        ),
        pytest.param(
            status(record("w50", step("smoke", "verify", "Failed", end=9), state="Failed", end=9)),
            status(
                record("w50", step("smoke", "verify", "Failed", end=9), state="Failed", end=9),
                rollback=[record("w50", step("rollback", "rollback", "Succeeded", start=10, end=14), start=10)],
            ),
            [Finished(Timed.STEP, ("Canary", "rollback", "rollback", "Succeeded"), 4.0)],
            id="a-rollback-step",
        ),
    ],
)
def test_what_a_status_write_finished(old: WorkflowRunStatus, new: WorkflowRunStatus, expected: list[Finished]) -> None:
    assert finished(old, new) == expected


def canary(*w50_steps: Obj) -> Sim:
    w50, w100 = phase("w50", deploy(), *w50_steps), phase("w100", deploy())
    w50["weight"], w100["weight"] = 50, 100
    wire = {
        "type": "Canary",
        "target": {"deployment": DEPLOYMENT, "service": DEPLOYMENT},
        "artifact": {"image": NEW_IMAGE},
        "phases": [w50, w100],
    }
    cluster = Cluster.with_deployments(DEPLOYMENT)
    cluster.deployment().replicas = 4
    return Sim(workflow(wire), cluster=cluster)


def observe_run(sim: Sim, *decisions: str) -> list[Finished]:
    """Drive the run to its end, deciding when it waits for a person, and gather what each write finished."""
    seen: list[Finished] = []
    pending = list(decisions)
    while sim.status.result is None:
        before = sim.status
        if not sim.cycle():
            seen.extend(finished(before, sim.status))
            before = sim.status
            if sim.status.result is None:
                sim.decide(pending.pop(0))
        seen.extend(finished(before, sim.status))
    return seen


def labels(seen: list[Finished], what: Timed) -> list[tuple[str, ...]]:
    return sorted(f.labels for f in seen if f.what is what)


def test_every_step_and_phase_of_a_run_is_observed_once() -> None:
    sim = canary(verify_http("check", count=2, interval="5s"), approval("ok"))
    seen = observe_run(sim, "Approve")
    assert sim.status.phase == "Succeeded"
    assert labels(seen, Timed.STEP) == [
        ("Canary", "approval", "deploy", "Succeeded"),
        ("Canary", "deploy", "deploy", "Succeeded"),
        ("Canary", "deploy", "deploy", "Succeeded"),
        ("Canary", "verify", "deploy", "Succeeded"),
    ]
    assert labels(seen, Timed.PHASE) == [("Canary", "deploy", "Succeeded")] * 2
    verify = next(f for f in seen if f.labels[1] == "verify")
    assert verify.seconds >= 5  # two measurements, 5s apart


def test_a_rolled_back_run_observes_the_failed_step_and_the_rollback() -> None:
    sim = canary(verify_http("check"), approval("ok"))
    sim.cluster.script_measurements(Outcome.FAILURE)
    seen = observe_run(sim)
    assert sim.status.phase == "RolledBack"
    assert labels(seen, Timed.STEP) == [
        ("Canary", "deploy", "deploy", "Succeeded"),
        ("Canary", "rollback", "rollback", "Succeeded"),
        ("Canary", "verify", "deploy", "Failed"),
    ]  # the approval never started; phase w100 never started, so it has nothing to roll back
    assert labels(seen, Timed.PHASE) == [("Canary", "deploy", "Failed"), ("Canary", "rollback", "Succeeded")]


def test_observe_write_feeds_the_histograms() -> None:
    def count() -> float:
        sample = "convoy_step_duration_seconds_count"
        labels = {"type": "Rolling", "kind": "job", "part": "deploy", "state": "Succeeded"}
        return REGISTRY.get_sample_value(sample, labels) or 0.0

    before = count()
    observe_write(
        status(record("rollout", step("migrate", "job")), type="Rolling"),
        status(record("rollout", step("migrate", "job", "Succeeded", end=3)), type="Rolling"),
    )
    assert count() == before + 1


def entry(name: str, phase: str, *, type: str = "Canary", weight: int | None = None, workflow: str = "web") -> Entry:
    done = phase in ("Succeeded", "Failed", "RolledBack", "Aborted")
    return Entry("shop", name, "", done, None, workflow=workflow, type=type, phase=phase, weight=weight)


def test_run_series() -> None:
    series = run_series(
        [
            entry("web-1", "Succeeded", weight=100),
            entry("web-2", "Running", weight=30),
            entry("web-3", "WaitingForApproval", weight=50),
            entry("api-1", "WaitingForApproval", type="Rolling", workflow="api"),
            entry("api-2", "Queued", type="Rolling", workflow="api"),
        ]
    )
    assert dict(series.runs) == {
        ("shop", "web", "Canary", "Succeeded"): 1,
        ("shop", "web", "Canary", "Running"): 1,
        ("shop", "web", "Canary", "WaitingForApproval"): 1,
        ("shop", "api", "Rolling", "WaitingForApproval"): 1,
        ("shop", "api", "Rolling", "Queued"): 1,
    }
    assert series.weights == {("shop", "web-2"): 30, ("shop", "web-3"): 50}  # not the finished web-1
    assert dict(series.approvals) == {"shop": 2}


def body(name: str, status: Obj | None = None, **spec: Any) -> Obj:
    meta = {"namespace": "shop", "name": name, "creationTimestamp": "2025-03-01T12:00:00Z"}
    return {"metadata": meta, "spec": spec, "status": status or {}}


def test_the_collector_serves_the_index_at_each_scrape() -> None:
    index = RunIndex()
    registry = CollectorRegistry()
    registry.register(RunCollector(index))
    index.observe(body("web-1", {"phase": "Running", "type": "Canary", "weight": 30}, workflowRef={"name": "web"}))
    index.observe(body("web-2", workflowRef={"name": "web"}))
    index.observe(body("once", workflow={"type": "Rolling"}))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"namespace": "shop", **labels})

    assert value("convoy_workflow_runs", workflow="web", type="Canary", phase="Running") == 1
    assert value("convoy_workflow_runs", workflow="web", type="", phase="Pending") == 1  # not started: no type yet
    assert value("convoy_workflow_runs", workflow="", type="Rolling", phase="Pending") == 1  # inline: no name
    assert value("convoy_canary_weight", run="web-1") == 30
    index.observe(body("web-1", {"phase": "Succeeded", "type": "Canary", "weight": 100, "result": "Succeeded"}))
    assert value("convoy_canary_weight", run="web-1") is None
    index.remove("shop", "web-1")
    assert value("convoy_workflow_runs", workflow="web", type="Canary", phase="Succeeded") is None


def test_the_queue_gauge_forgets_a_deleted_run() -> None:
    index = RunIndex()
    index.observe(body("web-2", {"phase": "Queued"}, workflowRef={"name": "web"}))
    assert REGISTRY.get_sample_value("convoy_queued_runs") == 1
    index.remove("shop", "web-2")
    assert REGISTRY.get_sample_value("convoy_queued_runs") == 0
