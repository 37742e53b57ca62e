"""Rollback objects: the reference's rules (which run is rolled back, or why not), and the Rollback's status as its
run rolls back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from convoy.api.common import ObjectRef
from convoy.api.history import Revision
from convoy.api.rollback import RollbackPhase, RollbackSpec, RollbackStatus
from convoy.api.validation import InvalidSpec
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import CanaryPods, PhaseRecord, RunResult
from convoy.planner.history import RunView, merge
from convoy.planner.rollbacks import (
    Refusal,
    Target,
    accepted,
    changes,
    choose,
    decision,
    events,
    progress,
    refused,
)

from .builders import NAMESPACE, deploy, multi_service, phase, workflow
from .runs import VERSIONED, at, image, run
from .sim import T0

BY_WORKFLOW = RollbackSpec(workflow_ref=ObjectRef(name="web"))
TWO_DEPLOYED = (run("web-1", "1.0", before="0.9", finished=1), run("web-2", "2.0", before="1.0", finished=2))


def by_run(name: str, **extra: object) -> RollbackSpec:
    return RollbackSpec.model_validate({"workflowRunRef": {"name": name}, **extra})


def chose(
    runs: Sequence[RunView],
    spec: RollbackSpec = BY_WORKFLOW,
    workflow: WorkflowSpec | InvalidSpec | None = VERSIONED,
    history: Sequence[Revision] = (),
) -> Target | Refusal:
    return choose(
        rollback="web-back", namespace=NAMESPACE, spec=spec, runs=runs, workflow=workflow, workflow_history=history
    )


def refusal(result: Target | Refusal) -> str:
    assert isinstance(result, Refusal), result
    return result.message


def test_a_workflow_rolls_back_its_most_recent_successful_deployment() -> None:
    target = chose(TWO_DEPLOYED)
    assert target == Target(
        run="web-2",
        workflow="web",
        post_deployment=True,
        revision=image("2.0"),
        restored=image("1.0"),
        message=f"rolling back web-2: {image('1.0')} runs again",
    )


def test_the_history_in_the_status_counts_even_when_the_runs_are_gone() -> None:
    """The first deployment's run was deleted; the history remembers it."""
    history = merge([], TWO_DEPLOYED, 10)
    target = chose(TWO_DEPLOYED[1:], history=history)
    assert isinstance(target, Target) and target.run == "web-2"


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        pytest.param(
            [],
            "a post-deployment rollback needs at least two successful deployments of Workflow web; it has none, so "
            "there is no earlier good version to return to",
            id="no-deployment",
        ),
        pytest.param(
            [run("web-1", "1.0", finished=1), run("web-x", "1.1", result=RunResult.FAILED, finished=2)],
            "a post-deployment rollback needs at least two successful deployments of Workflow web; it has 1 (web-1), "
            "so there is no earlier good version to return to",
            id="one-deployment",
        ),
        pytest.param(
            [*TWO_DEPLOYED, run("web-3", "3.0", result=None)],
            "web-3 of the same target is in flight: roll it back by its run (workflowRunRef), or wait until it ends",
            id="a-run-in-flight",
        ),
        pytest.param(
            [*TWO_DEPLOYED, run("other-1", result=None, workflow_name="other")],
            "other-1 of the same target is in flight: roll it back by its run (workflowRunRef), or wait until it ends",
            id="another-workflows-run-of-the-same-target",
        ),
        pytest.param(
            [TWO_DEPLOYED[0], run("web-2", "2.0", finished=2, result=RunResult.ROLLED_BACK, rolled_back_after=5)],
            "the most recent deployment of Workflow web, web-2, was rolled back already: older deployments are history "
            "only, so run the workflow with the version you want instead",
            id="already-rolled-back",
        ),
        pytest.param(
            [TWO_DEPLOYED[0], run("web-2", "2.0", finished=2, result=None, rolled_back_after=5)],
            "web-2 of the same target is in flight: roll it back by its run (workflowRunRef), or wait until it ends",
            id="being-rolled-back",
        ),
        pytest.param(
            [*TWO_DEPLOYED[:1], run("web-2", "2.0", finished=2, annotations={"convoy.dev/rollback": "shop/first"})],
            "WorkflowRun web-2 is rolled back by Rollback shop/first already",
            id="another-rollback-has-it",
        ),
    ],
)
def test_refusals(runs: list[RunView], message: str) -> None:
    assert refusal(chose(runs)) == message


def test_the_newest_deployments_run_must_still_exist() -> None:
    history = merge([], TWO_DEPLOYED, 10)
    assert refusal(chose(TWO_DEPLOYED[:1], history=history)) == (
        "WorkflowRun web-2 was deleted, and with it the snapshot of what ran before it"
    )


def test_a_workflow_that_changed_since_the_deployment_is_refused_unless_forced() -> None:
    changed = VERSIONED.model_copy(update={"steady_state_timeout": "20m"})
    assert refusal(chose(TWO_DEPLOYED, workflow=changed)) == (
        f"Workflow web changed since web-2 deployed {image('2.0')} (spec.steadyStateTimeout differ): rolling back "
        "with a changed workflow can have unpredictable results; set force: true to roll back anyway"
    )
    forced = chose(TWO_DEPLOYED, spec=RollbackSpec(workflow_ref=ObjectRef(name="web"), force=True), workflow=changed)
    assert isinstance(forced, Target) and forced.run == "web-2"
    assert forced.message.endswith("(forced: the Workflow changed since: spec.steadyStateTimeout differ)")


@pytest.mark.parametrize(
    ("workflow", "changed"),
    [
        pytest.param(VERSIONED, None, id="same"),
        pytest.param(
            VERSIONED.model_copy(update={"revision_history_limit": 3}), "spec.revisionHistoryLimit differ", id="limit"
        ),
        pytest.param(
            workflow(
                {**VERSIONED.to_wire(), "artifact": {"image": "registry.example/api:${workflow.variables.version}"}}
            ),
            "spec.artifact differ",
            id="artifact",
        ),
        pytest.param(
            workflow({**VERSIONED.to_wire(), "variables": [{"name": "version", "default": "1.0"}, {"name": "extra"}]}),
            "spec.variables differ",
            id="variables",
        ),
        pytest.param(
            InvalidSpec([]),
            "it is not valid now: ",
            id="invalid-now",
        ),
    ],
)
def test_what_counts_as_a_change(workflow: WorkflowSpec | InvalidSpec, changed: str | None) -> None:
    assert changes(workflow, TWO_DEPLOYED[1]) == changed


def test_a_workflow_that_does_not_render_with_the_runs_variables_any_more_changed() -> None:
    required = workflow(
        {**VERSIONED.to_wire(), "variables": [{"name": "version"}, {"name": "region", "required": True}]}
    )
    assert (changes(required, TWO_DEPLOYED[1]) or "").startswith("it cannot be rendered with the run's variables now")


@pytest.mark.parametrize(
    ("spec", "runs", "workflow", "message"),
    [
        pytest.param(by_run("nope"), TWO_DEPLOYED, VERSIONED, "WorkflowRun nope not found", id="run-not-found"),
        pytest.param(
            by_run("web-1"),
            TWO_DEPLOYED,
            VERSIONED,
            "WorkflowRun web-1 is not the most recent successful deployment of Workflow web (web-2 is): older "
            "deployments are history only",
            id="an-older-deployment",
        ),
        pytest.param(
            by_run("web-x"),
            [*TWO_DEPLOYED, run("web-x", result=RunResult.FAILED, finished=3)],
            VERSIONED,
            "WorkflowRun web-x ended Failed: only a successful deployment or a run in flight can be rolled back",
            id="a-failed-run",
        ),
        pytest.param(
            by_run("web-2"),
            [TWO_DEPLOYED[0], run("web-2", "2.0", finished=2, result=RunResult.ROLLED_BACK, rolled_back_after=5)],
            VERSIONED,
            "WorkflowRun web-2 was rolled back already: only a successful deployment or a run in flight can be "
            "rolled back",
            id="a-rolled-back-run",
        ),
        pytest.param(
            by_run("web-3"),
            [*TWO_DEPLOYED, run("web-3", result=None, started=False)],
            VERSIONED,
            "WorkflowRun web-3 is queued and has deployed nothing: abort it instead",
            id="a-queued-run",
        ),
        pytest.param(
            by_run("inline"),
            [run("inline", workflow_name=None)],
            None,
            "WorkflowRun inline ran an inline workflow: a post-deployment rollback needs a Workflow's history",
            id="an-inline-run",
        ),
        pytest.param(BY_WORKFLOW, TWO_DEPLOYED, None, "Workflow web not found", id="workflow-not-found"),
        pytest.param(
            RollbackSpec(workflow_ref=ObjectRef(name="web", namespace="prod")),
            TWO_DEPLOYED,
            VERSIONED,
            "a Rollback may only refer to objects of its own namespace (shop)",
            id="another-namespace",
        ),
    ],
)
def test_refusals_by_run(spec: RollbackSpec, runs: list[RunView], workflow: WorkflowSpec | None, message: str) -> None:
    assert refusal(chose(runs, spec=spec, workflow=workflow)) == message


def test_multi_service_workflows_cannot_be_rolled_back_after_the_fact() -> None:
    wf = multi_service(phase("web", deploy(), deployment="web"), phase("api", deploy(), deployment="api"))
    runs = [run("web-1", finished=1, wf=wf), run("web-2", finished=2, wf=wf)]
    assert refusal(chose(runs, workflow=wf)) == (
        "MultiService workflows cannot be rolled back after the fact; roll back a run in flight"
    )


def test_a_run_in_flight_is_stopped_and_rolls_back() -> None:
    runs = [*TWO_DEPLOYED, run("web-3", "3.0", before="2.0", result=None)]
    assert chose(runs, spec=by_run("web-3")) == Target(
        run="web-3",
        workflow="web",
        post_deployment=False,
        revision=image("3.0"),
        restored=image("2.0"),
        message="WorkflowRun web-3 is in flight: it stops and rolls back the phases it started, in reverse order",
    )


def test_the_most_recent_deployment_by_its_run() -> None:
    target = chose(TWO_DEPLOYED, spec=by_run("web-2"))
    assert isinstance(target, Target) and (target.run, target.post_deployment) == ("web-2", True)


def test_the_decision_names_the_rollback_its_reason_and_who_asked() -> None:
    made = decision("web-back", RollbackSpec(workflow_ref=ObjectRef(name="web"), reason="INC-2041"), "oncall-olga")
    assert made.to_wire() == {
        "action": "Rollback",
        "reason": "Rollback web-back: INC-2041",
        "groups": [],
        "requestedBy": "oncall-olga",
    }


NOW = datetime(2025, 3, 1, 13, 0, tzinfo=T0.tzinfo)
TARGET = Target("web-2", "web", True, image("2.0"), image("1.0"), "rolling back web-2")


def running() -> RollbackStatus:
    return accepted(RollbackStatus(), TARGET, 1, NOW)


def test_an_accepted_rollback_runs_and_says_what_it_rolls_back() -> None:
    status = running()
    assert status.phase is RollbackPhase.RUNNING
    assert (status.workflow, status.workflow_run, status.revision, status.restored_revision) == (
        "web",
        "web-2",
        image("2.0"),
        image("1.0"),
    )
    assert status.post_deployment and status.started_at == "2025-03-01T13:00:00Z"
    assert {c.type: c.status.value for c in status.conditions} == {
        "Ready": "False",
        "Reconciling": "True",
        "Stalled": "False",
    }


def test_a_refused_rollback_is_final_and_stalled() -> None:
    status = refused(RollbackStatus(), "no", 1, NOW)
    assert (status.phase, status.message, status.finished_at) == (RollbackPhase.REFUSED, "no", "2025-03-01T13:00:00Z")
    assert {c.type: c.status.value for c in status.conditions}["Stalled"] == "True"


@pytest.mark.parametrize(
    ("the_run", "phase", "message"),
    [
        pytest.param(
            run("web-2", "2.0", finished=2), RollbackPhase.RUNNING, "waiting for web-2 to roll back", id="not-taken-yet"
        ),
        pytest.param(
            run("web-2", "2.0", finished=2, result=None, rolled_back_after=5),
            RollbackPhase.RUNNING,
            "waiting for web-2 to roll back",
            id="rolling-back",
        ),
        pytest.param(
            run("web-2", "2.0", finished=2, result=RunResult.ROLLED_BACK, rolled_back_after=5),
            RollbackPhase.SUCCEEDED,
            f"web-2 rolled back: {image('1.0')} runs again",
            id="rolled-back",
        ),
        pytest.param(
            run("web-2", "2.0", finished=2, result=RunResult.FAILED, rolled_back_after=5),
            RollbackPhase.FAILED,
            "the rollback of web-2 failed: see its status",
            id="rollback-failed",
        ),
        pytest.param(
            run("web-2", "2.0", finished=2, result=RunResult.ABORTED, rolled_back_after=5),
            RollbackPhase.FAILED,
            "web-2 was aborted: during its rollback",
            id="aborted",
        ),
        pytest.param(
            None, RollbackPhase.FAILED, "WorkflowRun web-2 was deleted before its rollback ended", id="deleted"
        ),
    ],
)
def test_the_rollback_follows_its_run(the_run: RunView | None, phase: RollbackPhase, message: str) -> None:
    status = progress(running(), the_run, 1, NOW)
    assert (status.phase, status.message) == (phase, message)
    if phase is RollbackPhase.SUCCEEDED:
        assert status.finished_at == at(5)
        assert {c.type: c.status.value for c in status.conditions}["Ready"] == "True"


def test_the_runs_rollback_records_are_mirrored() -> None:
    the_run = run("web-2", "2.0", finished=2, result=None, rolled_back_after=5)
    the_run.status.rolling_back = True
    the_run.status.message = "rolling back the deployment after it succeeded"
    the_run.status.rollback = [PhaseRecord(name="rollout")]
    status = progress(running(), the_run, 1, NOW)
    assert [p.name for p in status.phases] == ["rollout"]
    assert status.message == "rolling back the deployment after it succeeded"


def test_following_an_unchanged_run_changes_nothing() -> None:
    the_run = run("web-2", "2.0", finished=2, result=None, rolled_back_after=5)
    once = progress(running(), the_run, 1, NOW)
    assert progress(once, the_run, 1, NOW.replace(minute=5)) == once


def test_each_change_of_phase_makes_one_event() -> None:
    start, done = (
        running(),
        progress(running(), run("web-2", result=RunResult.ROLLED_BACK, rolled_back_after=5), 1, NOW),
    )
    assert [(e.key, e.reason, e.warning) for e in events("web-back", RollbackStatus(), start)] == [
        ("web-back/Running", "RollingBack", False)
    ]
    assert [(e.key, e.reason) for e in events("web-back", start, done)] == [("web-back/Succeeded", "RolledBack")]
    assert events("web-back", done, done) == []
    no = refused(RollbackStatus(), "no", 1, NOW)
    assert [(e.reason, e.message, e.warning) for e in events("web-back", RollbackStatus(), no)] == [
        ("Refused", "no", True)
    ]


@pytest.mark.parametrize(
    "instances",
    [
        pytest.param(
            [
                ("canary-100", 6, (6, 9)),
                ("canary-60", 4, (10, 5)),
                ("canary-30", 4, (14, 1)),
                ("canary-10", 1, (15, 0)),
            ],
            id="reference-6-4-4-and-the-rest",
        ),
        pytest.param([("rollout", None, None)], id="a-rolling-phase-has-no-sizes"),
    ],
)
def test_the_per_phase_instances_of_a_canary_rollback_are_mirrored(
    instances: list[tuple[str, int | None, tuple[int, int] | None]],
) -> None:
    the_run = run("web-2", "2.0", finished=2, result=None, rolled_back_after=5)
    the_run.status.rolling_back = True
    the_run.status.rollback = [
        PhaseRecord(
            name=name,
            instances=count,
            pods=CanaryPods(total=15, stable=after[0], canary=after[1]) if after else None,
        )
        for name, count, after in instances
    ]
    status = progress(running(), the_run, 1, NOW)
    mirrored = [(p.name, p.instances, (p.pods.stable, p.pods.canary) if p.pods else None) for p in status.phases]
    assert mirrored == instances
    the_run.status.rollback[0].instances = 99
    assert status.phases[0].instances != 99, "a copy, not the run's own records"
