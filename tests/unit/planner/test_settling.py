"""One cycle advances through every step that is ready, however many: the largest workflow the schema allows, of
instant steps, settles (no cap below what the schema allows), forwards and while rolling back."""

from __future__ import annotations

import pytest

from convoy.api.steps import ErrorKind
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import RunResult
from convoy.planner.actions import EnsureJob
from convoy.planner.observed import Refusal
from convoy.planner.run import passes_allowed

from .builders import Obj, deploy, job, notify, phase, rolling, strategy
from .sim import Sim

MAX_PHASES = 20
MAX_STEPS = 50


def instant(index: int) -> Obj:
    return notify(f"say-{index}")


def largest(*, last: Obj | None = None, retries: int | None = None) -> WorkflowSpec:
    """20 phases of 50 instant steps and 50 instant rollback steps each (the schema's limits)."""
    phases = []
    for p in range(MAX_PHASES):
        steps = [deploy() if p == 0 else instant(0), *(instant(i) for i in range(1, MAX_STEPS))]
        if last is not None and p == MAX_PHASES - 1:
            steps[-1] = last
        phases.append(phase(f"p{p}", *steps, rollback=[instant(i) for i in range(MAX_STEPS)]))
    strategies = [strategy("Retry", count=retries, interval="0s", then="Rollback")] if retries else []
    return rolling(phases=phases, failure_strategies=strategies)


@pytest.mark.parametrize(
    ("last", "retries", "result", "plans"),
    [
        pytest.param(None, None, RunResult.SUCCEEDED, 3, id="1000-instant-steps-once-deployed"),
        pytest.param(job(), None, RunResult.ROLLED_BACK, 3, id="1000-instant-rollback-steps-after-a-refusal"),
    ],
)
def test_the_largest_valid_workflow_settles(
    last: Obj | None, retries: int | None, result: RunResult, plans: int
) -> None:
    sim = Sim(largest(last=last, retries=retries))
    sim.cluster.refusals[EnsureJob] = Refusal(ErrorKind.FORBIDDEN, "may not create jobs")

    status = sim.run(wait_out=True)

    assert status.result is result
    assert len(sim.plans) <= plans


def test_the_bound_grows_with_the_workflow() -> None:
    small, big = rolling(notify()), largest(retries=10)
    assert passes_allowed(small) < passes_allowed(big)
    steps = MAX_PHASES * MAX_STEPS * 2
    assert passes_allowed(big) > steps * 11
