"""The operator can be killed at any instant: SIGKILL it in the middle of each kind of step, start it again,
and every run finishes correctly with each side effect performed once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest
from test_workflowruns import Receiver, available, failing_job, on_error, passing_job, rolling, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e


def hook_secret(receiver: Receiver) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"url": receiver.url}}
    )


@pytest.fixture
def slow_web(runs: Runs) -> str:
    """Given 'web' v1, whose rollouts take a few seconds (minReadySeconds), so a kill can land inside one."""
    runs.apply(deployment_manifest("web", "registry.example/web:1.0", minReadySeconds=3))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")
    return "web"


CASES = [
    pytest.param("deploy", [], "Succeeded", id="deploy"),
    pytest.param("hold", [{"name": "hold", "pause": {"duration": "4s"}}], "Succeeded", id="pause"),
    pytest.param("ok", [{"name": "ok", "approval": {"allowSelfApproval": True}}], "Succeeded", id="approval"),
    pytest.param("smoke", [passing_job()], "Succeeded", id="job"),
    pytest.param("check", [{"name": "check", "verify": {"http": {"url": "RECEIVER"}, "count": 3, "interval": "1s"}}], "Succeeded", id="verify"),
    pytest.param("tell", [{"name": "tell", "notify": {"message": "hello", "webhook": {"urlFrom": {"name": "hook", "key": "url"}}}}], "Succeeded", id="notify"),
    pytest.param("rollback", [failing_job(failureStrategies=on_error("Rollback"))], "RolledBack", id="rollback"),
]  # fmt: skip


@pytest.mark.parametrize(("step", "steps", "outcome"), CASES)
def test_killed_in_the_middle_of_a_step_the_run_still_finishes_once(
    convoy: Operator, runs: Runs, slow_web: str, step: str, steps: list[dict[str, Any]], outcome: str
) -> None:
    receiver = Receiver(delay=3.0)
    try:
        runs.apply(hook_secret(receiver))
        rendered = yaml.safe_load(yaml.safe_dump(steps).replace("RECEIVER", receiver.url.replace("/hook/", "/ok/")))
        runs.apply(workflow("web", rolling(*rendered)))
        # given a run that is in the middle of `step`
        runs.apply(run("web-kill", "web", {"version": "2.0"}))
        if step == "tell":
            # a notification is sent within one cycle; the receiver holds its answer so the kill lands inside it
            wait_for(lambda: receiver.received, 60, 0.05, "the notification was never sent")
        else:
            wait_for(lambda: runs.status("web-kill").get("currentStep") == step, 60, 0.05, f"never reached {step}")
        # when the operator is killed and started again
        convoy.restart()
        if step == "ok":
            runs.decide("web-kill", {"action": "Approve", "step": "ok"})
        status = runs.wait_phase("web-kill", "Succeeded", "RolledBack", "Failed", "Aborted", timeout=90)
        # then the run finished as it would have, and nothing happened twice
        assert status["phase"] == outcome
        reasons = Counter(runs.reasons("web-kill"))
        assert reasons["Started"] == 1
        assert reasons[outcome] == 1
        assert runs.deployment("web").metadata.generation == (3 if outcome == "RolledBack" else 2)
        assert len(runs.job_names("web-kill")) == sum(1 for s in steps if "job" in s)
        notifications = [r for r in receiver.received if r[1].get("message") == "hello"]
        if step == "tell":
            # killed between the send and its record, the notification is delivered again (at least once), and
            # every delivery carries the same idempotency key, so the receiver can tell the repeat
            assert len(notifications) >= 2
            keys = {
                next(v for k, v in headers.items() if k.lower() == "idempotency-key") for headers, _ in notifications
            }
            assert len(keys) == 1
            assert {body["idempotencyKey"] for _, body in notifications} == keys
        else:
            assert notifications == []
        final = "registry.example/web:1.0" if outcome == "RolledBack" else "registry.example/web:2.0"
        wait_for(lambda: available(runs, "web", final), 60, message="the Deployment did not settle")
    finally:
        receiver.close()
