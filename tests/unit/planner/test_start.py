"""Starting a run: rendering its variables, refusing an invalid spec, and waiting in the queue of its target."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.common import ConditionStatus
from convoy.api.validation import FieldError, InvalidSpec
from convoy.api.workflowrun import RunPhase, RunResult
from convoy.planner.actions import EnsureJob, RecordEvent, SetImage
from convoy.planner.observed import JobResult

from .builders import NEW_IMAGE, job, notify, pod_template, rolling, rolling_wire, step, workflow
from .sim import T0, Sim, actions_of, reasons

VERSION = {"name": "version", "required": True}


@pytest.mark.parametrize(
    ("declared", "given", "image"),
    [
        pytest.param([VERSION], {"version": "2.0"}, "registry.example/web:2.0", id="given-value"),
        pytest.param([{"name": "version", "default": "1.9"}], {}, "registry.example/web:1.9", id="default"),
        pytest.param(
            [{"name": "version", "default": "1.9"}], {"version": "2.1"}, "registry.example/web:2.1", id="given-wins"
        ),
    ],
)
def test_start_renders_the_variables_into_the_image(declared: list[Any], given: dict[str, str], image: str) -> None:
    sim = Sim(workflow(rolling_wire(image="registry.example/web:${workflow.variables.version}", variables=declared)))
    sim.variables = given

    first = sim.reconcile()

    assert [a.image for a in actions_of(first, SetImage)] == [image]
    assert sim.status.workflow_spec is not None
    assert sim.status.workflow_spec["artifact"]["image"] == image
    assert sim.status.revisions is not None and sim.status.revisions.new == image


def test_start_renders_run_and_artifact_references_in_steps() -> None:
    template = pod_template("registry.example/tests:${workflow.variables.version}")
    template["spec"]["containers"][0]["args"] = ["--target", "http://${run.name}.${run.namespace}.svc"]
    wf = workflow(
        rolling_wire(
            step("migrate", "job", {"template": template, "outputs": [{"name": "image"}]}),
            image="registry.example/web:${workflow.variables.version}",
            variables=[VERSION],
        )
    )
    sim = Sim(wf, variables={"version": "3.0"})
    sim.cluster.job_default = JobResult(succeeded=True, termination_messages=("image=registry.example/web:3.0",))

    sim.run()

    created = sim.cluster.created_jobs[0]
    container = created.template["spec"]["containers"][0]
    assert container["image"] == "registry.example/tests:3.0"
    assert container["args"] == ["--target", "http://web-1.shop.svc"]
    assert sim.status.outputs == {"image": "registry.example/web:3.0"}
    assert sim.status.result is RunResult.SUCCEEDED


def test_start_records_the_run_and_sends_the_started_notification() -> None:
    wf = rolling(notifications=[{"events": ["Started"], "notify": {"message": "starting ${run.name}"}}])
    sim = Sim(wf)

    first = sim.reconcile()

    assert sim.status.started_at == "2025-03-01T12:00:00Z"
    assert sim.status.workflow == "web"
    assert sim.status.targets == ["shop/web"]
    assert [p.name for p in sim.status.phases] == ["rollout"]
    assert reasons(first)[:3] == ["Started", "Notification", "PhaseStarted"]
    assert [n.message for n in sim.cluster.notified.values()] == ["starting web-1"]


@pytest.mark.parametrize(
    ("wf", "given", "fragment"),
    [
        pytest.param(
            workflow(rolling_wire(image="web:${workflow.variables.version}", variables=[VERSION])),
            {},
            "spec.variables.version: required variable has no value",
            id="required-variable-missing",
        ),
        pytest.param(
            rolling(),
            {"colour": "blue"},
            "spec.variables.colour: not a declared variable",
            id="undeclared-variable",
        ),
        pytest.param(
            workflow(rolling_wire(variables=[{"name": "replicas", "type": "Number", "default": "1"}])),
            {"replicas": "many"},
            "spec.variables.replicas: 'many' is not a Number",
            id="variable-of-wrong-type",
        ),
        pytest.param(
            InvalidSpec([FieldError("spec.workflowRef.name", "Workflow shop/web not found: create it")]),
            {},
            "Workflow shop/web not found",
            id="workflow-invalid",
        ),
    ],
)
def test_invalid_spec_fails_the_run_at_once(wf: Any, given: dict[str, str], fragment: str) -> None:
    sim = Sim(wf, variables=given)

    result = sim.reconcile()

    assert sim.status.result is RunResult.FAILED
    assert sim.status.phase is RunPhase.FAILED
    assert fragment in (sim.status.message or "")
    assert sim.status.finished_at == "2025-03-01T12:00:00Z"
    assert sim.status.started_at is None and sim.status.phases == []
    conditions = {c.type: (c.status, c.reason) for c in sim.status.conditions}
    assert conditions == {
        "Ready": (ConditionStatus.FALSE, "InvalidSpec"),
        "Reconciling": (ConditionStatus.FALSE, "InvalidSpec"),
        "Stalled": (ConditionStatus.TRUE, "InvalidSpec"),
    }
    (event,) = result.actions
    assert isinstance(event, RecordEvent) and event.reason == "InvalidSpec" and event.warning
    assert result.wake_at is None


def test_queue_policy_waits_behind_runs_of_the_same_target_then_starts() -> None:
    sim = Sim(rolling(), queued_behind=("shop/web-0", "shop/web-00"))

    queued = sim.reconcile()

    assert sim.status.phase is RunPhase.QUEUED
    assert sim.status.queue_position == 2
    assert sim.status.message == "queued behind shop/web-0, shop/web-00 (same target)"
    assert sim.status.started_at is None
    assert sim.status.targets == ["shop/web"]
    assert queued.actions == () and queued.wake_at is None
    assert {c.type: c.status for c in sim.status.conditions}["Reconciling"] is ConditionStatus.TRUE

    sim.queued_behind = ("shop/web-00",)
    sim.reconcile()
    assert sim.status.queue_position == 1

    sim.queued_behind = ()
    sim.now = T0.replace(hour=13)
    started = sim.reconcile()

    status = sim.status
    assert status.phase is RunPhase.RUNNING
    assert status.queue_position is None
    assert status.started_at == "2025-03-01T13:00:00Z"
    assert "Started" in reasons(started) and actions_of(started, SetImage)


def test_allow_policy_ignores_the_queue() -> None:
    sim = Sim(rolling(concurrency={"policy": "Allow"}), queued_behind=("shop/web-0",))

    first = sim.reconcile()

    assert sim.status.phase is RunPhase.RUNNING
    assert sim.status.queue_position is None
    assert actions_of(first, SetImage)


@pytest.mark.parametrize("decision", [pytest.param("Abort", id="abort"), pytest.param("Rollback", id="rollback")])
def test_stopping_a_queued_run_ends_it_without_waiting_for_its_turn(decision: str) -> None:
    sim = Sim(rolling(), queued_behind=("shop/web-0",))
    sim.reconcile()

    stopped = sim.decide(decision, by="bob")

    assert sim.status.result is RunResult.ABORTED
    assert sim.status.queue_position is None
    assert sim.status.started_at is None
    assert reasons(stopped) == ["Aborted"]
    assert not actions_of(stopped, SetImage)


def test_a_running_run_keeps_the_workflow_it_started_with() -> None:
    sim = Sim(rolling(job()))
    sim.reconcile()

    sim.workflow = rolling(notify(), image="registry.example/web:9.9")
    sim.run()

    assert sim.status.result is RunResult.SUCCEEDED
    assert [c.image for c in sim.cluster.changes if isinstance(c, SetImage)] == [NEW_IMAGE]
    assert [s.name for s in sim.status.phases[0].steps] == ["deploy", "migrate"]
    assert [j.name for j in sim.cluster.created_jobs] == ["web-1-rollout-deploy-migrate-1"]
    assert all(isinstance(j, EnsureJob) for j in sim.cluster.created_jobs)
