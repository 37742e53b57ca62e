"""A change the API server refuses for good (RBAC as the tenant's ServiceAccount, validation, a missing object)
fails the step that asked for it, with its error kind, and the failure strategy applies: never a retry forever."""

from __future__ import annotations

import pytest

from convoy.api.steps import ErrorKind
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import Awaiting, RunResult, StepState, WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.actions import Action, ApplyManifests, EnsureJob, Notify, SetImage
from convoy.planner.observed import Observed, Refusal
from convoy.planner.run import awaits_confirmation, plan

from .builders import Obj, deploy, job, notify, phase, rolling, strategy, workflow
from .sim import RUN, T0, Sim

FORBIDDEN = "ServiceAccount shop/convoy-runner may not patch deployments: forbidden"


def refusing(kind: type[Action], error: ErrorKind, *steps: Obj, strategies: list[Obj] | None = None) -> Sim:
    sim = Sim(rolling(*steps, failure_strategies=strategies or []))
    sim.cluster.refusals[kind] = Refusal(error, FORBIDDEN)
    return sim


@pytest.mark.parametrize(
    ("kind", "error", "steps", "strategies", "result", "failed_step"),
    [
        pytest.param(SetImage, ErrorKind.FORBIDDEN, [], [], RunResult.ROLLED_BACK, "deploy", id="forbidden-rolls-back"),
        pytest.param(
            SetImage,
            ErrorKind.INVALID,
            [],
            [strategy("Abort", "Invalid")],
            RunResult.ABORTED,
            "deploy",
            id="invalid-matches-its-strategy",
        ),
        pytest.param(
            EnsureJob,
            ErrorKind.FORBIDDEN,
            [job()],
            [strategy("Abort", "Forbidden")],
            RunResult.ABORTED,
            "migrate",
            id="job-forbidden-aborts",
        ),
        pytest.param(
            Notify,
            ErrorKind.NOT_FOUND,
            [notify(webhook={"urlFrom": {"name": "hooks", "key": "url"}})],
            [strategy("Ignore", "NotFound")],
            RunResult.SUCCEEDED,
            "announce",
            id="missing-secret-ignored",
        ),
    ],
)
def test_a_refused_action_fails_its_step_with_the_error_kind(
    kind: type[Action],
    error: ErrorKind,
    steps: list[Obj],
    strategies: list[Obj],
    result: RunResult,
    failed_step: str,
) -> None:
    sim = refusing(kind, error, *steps, strategies=strategies)

    status = sim.run()

    assert status.result is result
    record = sim.record("rollout", failed_step)
    assert record.error is error
    assert record.state in (StepState.FAILED, StepState.IGNORED)
    assert record.message == FORBIDDEN


def test_a_refused_step_is_not_retried_once_its_strategy_gave_up() -> None:
    sim = refusing(SetImage, ErrorKind.FORBIDDEN, strategies=[strategy("Retry", count=1, interval="5s", then="Abort")])

    status = sim.run()

    assert status.result is RunResult.ABORTED
    assert sim.record("rollout", "deploy").attempts == 2
    assert not sim.cluster.changes


def basic() -> WorkflowSpec:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    return workflow(
        {"type": "Basic", "target": {"manifests": [config_map]}, "phases": [phase("apply", deploy("apply"))]}
    )


KEY = "apply/deploy/apply/1"


@pytest.mark.parametrize(
    ("observed", "state", "error"),
    [
        pytest.param(Observed(), StepState.RUNNING, None, id="not-made-yet-it-waits"),
        pytest.param(Observed(confirmed=frozenset({KEY})), StepState.SUCCEEDED, None, id="made-it-succeeds"),
        pytest.param(
            Observed(refused={KEY: Refusal(ErrorKind.FORBIDDEN, FORBIDDEN)}),
            StepState.FAILED,
            ErrorKind.FORBIDDEN,
            id="refused-it-fails",
        ),
    ],
)
def test_a_change_the_planner_cannot_observe_is_done_only_once_it_was_made(
    observed: Observed, state: StepState, error: ErrorKind | None
) -> None:
    # given a Basic workflow that applies a ConfigMap (nothing the planner observes)
    wf = basic()
    # when its first cycle is planned with what the API server did with the change
    result = plan(run=RUN, spec=WorkflowRunSpec(), workflow=wf, status=WorkflowRunStatus(), observed=observed, now=T0)
    # then the step is done only when the change was made, and fails when it was refused
    record = result.status.phases[0].steps[0]
    assert (record.state, record.error) == (state, error)
    if state is StepState.RUNNING:
        assert record.awaiting is Awaiting.CONFIRMATION
        assert awaits_confirmation(result.status, {KEY})
        assert [type(a) for a in result.actions if isinstance(a, ApplyManifests)] == [ApplyManifests]
