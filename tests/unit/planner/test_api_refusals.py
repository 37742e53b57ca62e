"""Adapter errors fed through the planner's simulation: an ApiError as `kube.request` raises it, turned into a
step failure by the handlers (`refusal_of`), fails the step with its error kind, and the failure strategy applies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convoy.adapters import kube
from convoy.api.workflowrun import RunResult
from convoy.handlers.execute import refusal_of
from convoy.planner.actions import Action, EnsureJob, SetImage
from convoy.planner.observed import Refusal

from .builders import job, rolling, strategy
from .sim import Sim


async def refusal(status: int, verb: str, resource: str) -> Refusal:
    body = json.dumps({"kind": "Status", "message": f"{resource} refused by policy"})
    error = kube.ApiError(status, "Refused", body, verb, resource, kube.Tenant("shop", "convoy-runner"))
    found = refusal_of(error)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("status", "action", "steps", "strategies", "result"),
    [
        pytest.param(403, SetImage, [], [], RunResult.ROLLED_BACK, id="403-on-the-image-rolls-back"),
        pytest.param(422, SetImage, [], [strategy("Abort", "Invalid")], RunResult.ABORTED, id="422-admission-aborts"),
        pytest.param(
            403, EnsureJob, [job()], [strategy("Abort", "Forbidden")], RunResult.ABORTED, id="403-on-a-job-aborts"
        ),
        pytest.param(
            422,
            EnsureJob,
            [job()],
            [strategy("Retry", "Invalid", count=2, interval="1s", then="Abort")],
            RunResult.ABORTED,
            id="422-retried-then-given-up",
        ),
    ],
)
async def test_an_api_refusal_through_the_simulation(
    status: int, action: type[Action], steps: list[Any], strategies: list[Any], result: RunResult
) -> None:
    found = await refusal(
        status, "create" if action is EnsureJob else "patch", "jobs" if action is EnsureJob else "deployments"
    )
    sim = Sim(rolling(*steps, failure_strategies=strategies))
    sim.cluster.refusals[action] = found

    final = sim.run(wait_out=True)

    assert final.result is result
    failed = [r for p in final.phases for r in p.steps if r.error is not None]
    assert [r.error for r in failed] == [found.error]
