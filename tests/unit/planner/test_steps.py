"""Each kind of step: pause, approval, job, verify (http, prometheus, job), notify, barrier, and `when`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from convoy.api.steps import ErrorKind, JobStep, VerifyStep
from convoy.api.workflowrun import Awaiting, RunPhase, RunResult, StepState
from convoy.planner.actions import EnsureJob, MarkBarrier, Measure, Notify, RecordEvent
from convoy.planner.observed import BarrierView, JobResult, Outcome
from convoy.planner.steps import produced_outputs, verify_timeout

from .builders import (
    Obj,
    approval,
    barrier,
    job,
    notify,
    pause,
    rolling,
    rolling_wire,
    strategy,
    verify_http,
    verify_job,
    verify_prometheus,
    workflow,
)
from .sim import FAILED, Sim, actions_of, reasons, seconds

ROLLED_OUT = seconds(5)  # the deploy step of `rolling()` finishes one tick after the start


def at_step(*steps: Obj, **extra: Any) -> Sim:
    """A run of a Rolling workflow whose deploy step is done, at the first of `steps`."""
    sim = Sim(rolling(*steps, **extra))
    sim.reconcile()
    sim.advance(ROLLED_OUT)
    return sim


# Pause


@pytest.mark.parametrize(
    ("duration", "length"),
    [
        pytest.param("30s", seconds(30), id="30s"),
        pytest.param("5m", seconds(300), id="5m"),
        pytest.param("1h30m", seconds(5400), id="1h30m"),
    ],
)
def test_pause_with_a_duration_wakes_up_exactly_at_its_end(duration: str, length: timedelta) -> None:
    sim = at_step(pause(duration=duration))
    start = sim.now

    paused = sim.reconcile()

    record = sim.record("rollout", "pause")
    assert (record.state, record.awaiting) == (StepState.WAITING, Awaiting.PAUSE)
    assert sim.status.phase is RunPhase.RUNNING
    assert paused.wake_at == start + length

    sim.now = start + length - seconds(1)
    assert sim.reconcile().wake_at == start + length
    assert sim.record("rollout", "pause").state is StepState.WAITING

    sim.now = start + length
    sim.reconcile()
    assert sim.record("rollout", "pause").state is StepState.SUCCEEDED
    assert sim.status.result is RunResult.SUCCEEDED


@pytest.mark.parametrize("action", ["Resume", "Promote", "PromoteFull"])
def test_pause_without_duration_holds_until_resumed(action: str) -> None:
    sim = at_step(pause())

    paused = sim.reconcile()
    assert sim.status.phase is RunPhase.PAUSED
    assert paused.wake_at is None

    resumed = sim.decide(action, by="bob")

    record = sim.record("rollout", "pause")
    assert record.state is StepState.SUCCEEDED
    assert record.decided_by == "bob"
    assert "Resumed" in reasons(resumed)
    assert sim.status.result is RunResult.SUCCEEDED


def test_a_step_timeout_applies_to_a_pause_without_duration() -> None:
    sim = at_step(pause(timeout="1h"), failure_strategies=[strategy("Abort")])
    start = sim.now

    assert sim.reconcile().wake_at == start + seconds(3600)
    sim.now = start + seconds(3600)
    sim.reconcile()

    assert sim.record("rollout", "pause").error is ErrorKind.TIMEOUT
    assert sim.status.result is RunResult.ABORTED


# Approval


def test_approval_waits_with_an_event_and_wakes_at_its_timeout() -> None:
    sim = at_step(approval(approvers=["bob"], timeout="2h"))
    start = sim.now

    waiting = sim.reconcile()

    record = sim.record("rollout", "approve")
    assert (record.state, record.awaiting) == (StepState.WAITING, Awaiting.APPROVAL)
    assert record.message == "waiting for approval by bob"
    assert sim.status.phase is RunPhase.WAITING_FOR_APPROVAL
    assert waiting.wake_at == start + seconds(7200)
    assert "WaitingForApproval" in reasons(waiting)

    again = sim.reconcile()
    assert "WaitingForApproval" not in reasons(again), "the event is asked for once, when the wait begins"


@pytest.mark.parametrize(
    ("approvers", "by", "groups", "approved"),
    [
        pytest.param([], "anyone", [], True, id="no-approvers-anyone"),
        pytest.param(["bob", "carol"], "carol", [], True, id="named-approver"),
        pytest.param(["bob", "group:sre"], "dave", ["dev", "sre"], True, id="approver-by-group"),
        pytest.param(["bob"], "mallory", [], False, id="not-an-approver"),
        pytest.param(["group:sre"], "mallory", ["dev"], False, id="wrong-group"),
        pytest.param(["group:sre"], "sre", [], False, id="user-named-like-the-group"),
    ],
)
def test_who_may_approve(approvers: list[str], by: str, groups: list[str], approved: bool) -> None:
    sim = at_step(approval(approvers=approvers))
    sim.reconcile()
    before = sim.record("rollout", "approve").model_copy()

    decided = sim.decide("Approve", by=by, groups=groups)

    record = sim.record("rollout", "approve")
    if approved:
        assert record.state is StepState.SUCCEEDED
        assert record.decided_by == by
        assert "Approved" in reasons(decided)
        assert sim.status.result is RunResult.SUCCEEDED
    else:
        assert record == before, "a refused approval changes nothing"
        (event,) = actions_of(decided, RecordEvent)
        assert (event.reason, event.warning) == ("ApprovalRefused", True)
        assert by in event.message
        assert sim.status.phase is RunPhase.WAITING_FOR_APPROVAL
        assert sim.status.decisions_seen == 1


@pytest.mark.parametrize(
    ("strategies", "result"),
    [
        pytest.param([], RunResult.ROLLED_BACK, id="default-rollback"),
        pytest.param([strategy("Abort", "ApprovalRejected")], RunResult.ABORTED, id="abort"),
        pytest.param([strategy("Ignore", "ApprovalRejected")], RunResult.SUCCEEDED, id="ignore"),
    ],
)
def test_rejection_fails_the_approval_and_applies_the_failure_strategy(
    strategies: list[Obj], result: RunResult
) -> None:
    sim = at_step(approval(), failure_strategies=strategies)
    sim.reconcile()

    rejected = sim.decide("Reject", by="bob", reason="not today")
    sim.run()

    record = sim.record("rollout", "approve")
    assert record.error is ErrorKind.APPROVAL_REJECTED
    assert record.message == "rejected by bob: not today"
    assert record.decided_by == "bob"
    assert "Rejected" in reasons(rejected)
    assert sim.status.result is result


@pytest.mark.parametrize(
    ("timeout_action", "state", "result"),
    [
        pytest.param("Approve", StepState.SUCCEEDED, RunResult.SUCCEEDED, id="approve"),
        pytest.param("Reject", StepState.FAILED, RunResult.ROLLED_BACK, id="reject"),
    ],
)
def test_approval_timeout_takes_the_timeout_action(timeout_action: str, state: StepState, result: RunResult) -> None:
    sim = at_step(approval(timeout="1h", timeout_action=timeout_action))
    sim.reconcile()

    sim.now += seconds(3600)
    sim.run()

    record = sim.record("rollout", "approve")
    assert record.state is state
    assert record.decided_by == "timeout"
    assert sim.status.result is result
    if state is StepState.FAILED:
        assert record.error is ErrorKind.APPROVAL_REJECTED
        assert record.message == "nobody approved within 1h"


def test_waiting_for_approval_sends_the_notification_once() -> None:
    wf_notifications = [{"events": ["WaitingForApproval"], "notify": {"message": "approve ${run.name}"}}]
    sim = at_step(approval(), notifications=wf_notifications)

    sim.reconcile()
    sim.reconcile()

    assert [n.message for n in sim.cluster.notified.values()] == ["approve web-1"]
    assert sum(isinstance(a, Notify) for p in sim.plans for a in p.actions) == 1


# Job


def test_job_outputs_wait_for_the_job_and_come_from_its_termination_message() -> None:
    sim = at_step(job(outputs=[{"name": "digest"}, {"name": "by"}], backoff_limit=2))
    sim.cluster.job_default = JobResult(succeeded=True, termination_messages=('{"digest": "sha256:abc", "by": "ci"}',))

    running = sim.reconcile()

    (ensure,) = actions_of(running, EnsureJob)
    assert ensure.name == "web-1-rollout-deploy-migrate-1"
    assert ensure.namespace == "shop"
    assert ensure.backoff_limit == 2
    assert ensure.labels == {"convoy.dev/run": "web-1", "convoy.dev/step": "migrate"}
    record = sim.record("rollout", "migrate")
    assert (record.state, record.awaiting) == (StepState.RUNNING, Awaiting.JOB)
    assert sim.status.outputs == {}

    sim.advance(seconds(5))
    sim.reconcile()

    record = sim.record("rollout", "migrate")
    assert record.state is StepState.SUCCEEDED
    assert record.message == "job web-1-rollout-deploy-migrate-1 succeeded, produced digest, by"
    assert sim.status.outputs == {"digest": "sha256:abc", "by": "ci"}


@pytest.mark.parametrize(
    ("messages", "outputs"),
    [
        pytest.param(('{"image": "registry.example/web:4f2c"}',), {"image": "registry.example/web:4f2c"}, id="json"),
        pytest.param(
            ('{"image": "r/web:1", "size": 12, "signed": true}',),
            {"image": "r/web:1", "size": "12", "signed": "true"},
            id="json-numbers-and-booleans-as-json-writes-them",
        ),
        pytest.param(
            ("image=r/web:1\ndigest=sha256:ab=cd\n",),
            {"image": "r/web:1", "digest": "sha256:ab=cd"},
            id="key-value-lines-split-at-the-first-equals",
        ),
        pytest.param(
            ("# written by the builder\n\n  image=r/web:1  \n",), {"image": "r/web:1"}, id="comments-blank-lines"
        ),
        pytest.param(("image=r/web:1", "", '{"image": "r/web:2"}'), {"image": "r/web:2"}, id="later-container-wins"),
        pytest.param(("",), {}, id="empty"),
    ],
)
def test_produced_outputs_reads_json_or_key_value_lines(messages: tuple[str, ...], outputs: dict[str, str]) -> None:
    assert produced_outputs(messages) == outputs


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        pytest.param(
            ("digest=sha256:ab",),
            "job web-1-rollout-deploy-migrate-1 succeeded without producing output image: its container writes "
            "outputs to /dev/termination-log, as a JSON object or KEY=VALUE lines",
            id="declared-output-missing",
        ),
        pytest.param(
            (),
            "job web-1-rollout-deploy-migrate-1 succeeded without producing output image: its container writes "
            "outputs to /dev/termination-log, as a JSON object or KEY=VALUE lines",
            id="no-message-at-all",
        ),
        pytest.param(
            None,
            "job web-1-rollout-deploy-migrate-1 succeeded, but its pod is gone: its outputs are lost",
            id="pod-gone",
        ),
        pytest.param(
            ('{"image": ',),
            "job web-1-rollout-deploy-migrate-1 succeeded, but its termination message is not valid JSON "
            "(Expecting value at character 9)",
            id="broken-json",
        ),
        pytest.param(
            ('["r/web:1"]',),
            "job web-1-rollout-deploy-migrate-1 succeeded, but its termination message is not a JSON object",
            id="json-not-an-object",
        ),
        pytest.param(
            ('{"image": {"repo": "r/web"}}',),
            "job web-1-rollout-deploy-migrate-1 succeeded, but its termination message gives output 'image' a "
            "dict, not a string",
            id="json-nested-value",
        ),
        pytest.param(
            ("built r/web:1",),
            "job web-1-rollout-deploy-migrate-1 succeeded, but its termination message line 1 is not KEY=VALUE "
            "(nor is the message a JSON object)",
            id="free-text",
        ),
    ],
)
def test_a_job_that_does_not_produce_its_outputs_fails(messages: tuple[str, ...] | None, message: str) -> None:
    sim = at_step(job(outputs=[{"name": "image"}]), failure_strategies=[strategy("Abort")])
    sim.cluster.job_default = JobResult(succeeded=True, termination_messages=messages)

    sim.run()

    record = sim.record("rollout", "migrate")
    assert (record.state, record.error, record.message) == (StepState.FAILED, ErrorKind.JOB_FAILED, message)
    assert sim.status.outputs == {}
    assert sim.status.result is RunResult.ABORTED


def test_a_job_without_declared_outputs_ignores_its_termination_message() -> None:
    sim = at_step(job())
    sim.cluster.job_default = JobResult(succeeded=True, termination_messages=("not outputs at all",))

    sim.run()

    assert sim.record("rollout", "migrate").state is StepState.SUCCEEDED
    assert sim.status.outputs == {}


@pytest.mark.parametrize(
    "outputs",
    [
        pytest.param({"image": "registry.example/web:${workflow.variables.version}"}, id="old-map-form"),
        pytest.param([{"name": "image", "description": "The pushed image."}], id="list"),
    ],
)
def test_outputs_are_declared_by_name(outputs: Any) -> None:
    """A workflow recorded with the old map of templated values stays readable: its keys are what the Job must write."""
    spec = JobStep.model_validate({"template": {}, "outputs": outputs})

    assert [output.name for output in spec.outputs] == ["image"]


def test_job_failure_is_a_job_failed_error_with_the_jobs_message() -> None:
    sim = at_step(job(), failure_strategies=[strategy("Abort")])
    sim.cluster.job_default = JobResult(failed=True, message="DeadlineExceeded")

    sim.run()

    record = sim.record("rollout", "migrate")
    assert record.error is ErrorKind.JOB_FAILED
    assert record.message == "job web-1-rollout-deploy-migrate-1 failed: DeadlineExceeded"
    assert sim.status.outputs == {}
    assert sim.status.result is RunResult.ABORTED


def test_each_job_attempt_has_its_own_job() -> None:
    sim = at_step(job(failureStrategies=[strategy("Retry", count=2, interval="1s")]))
    sim.cluster.job_default = FAILED
    sim.cluster.job_outcomes["web-1-rollout-deploy-migrate-3"] = JobResult(succeeded=True)

    sim.run()

    assert [j.name for j in sim.cluster.created_jobs] == [
        "web-1-rollout-deploy-migrate-1",
        "web-1-rollout-deploy-migrate-2",
        "web-1-rollout-deploy-migrate-3",
    ]
    assert sim.record("rollout", "migrate").attempts == 3
    assert sim.status.result is RunResult.SUCCEEDED


def test_job_that_runs_past_its_timeout_fails_with_timeout() -> None:
    sim = at_step(job(timeout="15m"), failure_strategies=[strategy("Abort")])
    sim.cluster.job_default = None  # never finishes
    start = sim.now

    assert sim.reconcile().wake_at == start + seconds(900)
    sim.now = start + seconds(900)
    sim.reconcile()

    assert sim.record("rollout", "migrate").error is ErrorKind.TIMEOUT


def test_job_that_succeeded_while_nobody_looked_is_not_a_timeout() -> None:
    sim = at_step(job(timeout="15m"))
    sim.reconcile()

    sim.advance(seconds(7200))
    sim.reconcile()

    assert sim.record("rollout", "migrate").state is StepState.SUCCEEDED


# Verify: http and prometheus measurements


@pytest.mark.parametrize(
    ("check", "outcomes", "state", "counts"),
    [
        pytest.param(verify_http(count=3), "SSS", StepState.SUCCEEDED, (3, 0, 0), id="http-all-pass"),
        pytest.param(verify_http(count=2), "F", StepState.FAILED, (0, 1, 0), id="http-first-failure-no-limit"),
        pytest.param(
            verify_http(count=2, failure_limit=1), "FSS", StepState.SUCCEEDED, (2, 1, 0), id="http-failure-tolerated"
        ),
        pytest.param(
            verify_http(count=3, failure_limit=1), "SFSF", StepState.FAILED, (2, 2, 0), id="http-over-the-limit"
        ),
        pytest.param(
            verify_prometheus(count=2, inconclusive_is="Failure"),
            "I",
            StepState.FAILED,
            (0, 1, 0),
            id="prometheus-inconclusive-is-failure",
        ),
        pytest.param(
            verify_prometheus(count=2, inconclusive_is="Success"),
            "IS",
            StepState.SUCCEEDED,
            (2, 0, 0),
            id="prometheus-inconclusive-is-success",
        ),
        pytest.param(
            verify_prometheus(count=2, inconclusive_is="Retry"),
            "IISIS",
            StepState.SUCCEEDED,
            (2, 0, 3),
            id="prometheus-inconclusive-measures-again",
        ),
        pytest.param(
            verify_prometheus(count=1, failure_limit=1, inconclusive_is="Retry"),
            "IFIF",
            StepState.FAILED,
            (0, 2, 2),
            id="prometheus-retry-then-failures",
        ),
    ],
)
def test_verification_counts_measurements(
    check: Obj, outcomes: str, state: StepState, counts: tuple[int, int, int]
) -> None:
    sim = at_step(check, failure_strategies=[strategy("Abort")])
    codes = {"S": Outcome.SUCCESS, "F": Outcome.FAILURE, "I": Outcome.INCONCLUSIVE}
    sim.cluster.script_measurements(*(codes[o] for o in outcomes))

    sim.run()

    record = sim.status.phases[0].steps[1]
    assert record.state is state
    assert (record.successes, record.failures, record.inconclusive) == counts
    assert len(sim.cluster.measured) == len(outcomes), "one measurement per scripted outcome, none more"
    assert len({m.key for m in sim.cluster.measured}) == len(outcomes)
    if state is StepState.FAILED:
        assert record.error is ErrorKind.VERIFICATION_FAILED


@pytest.mark.parametrize(("interval", "gap"), [("10s", seconds(10)), ("1m", seconds(60))])
def test_verification_respects_its_interval(interval: str, gap: timedelta) -> None:
    sim = at_step(verify_http(count=3, interval=interval))
    start = sim.now

    first = sim.reconcile()

    assert len(sim.cluster.measured) == 1
    assert first.wake_at == start + gap
    record = sim.record("rollout", "smoke")
    assert (record.state, record.awaiting, record.successes) == (StepState.WAITING, Awaiting.MEASUREMENT, 1)

    sim.now = start + gap - seconds(1)
    early = sim.reconcile()
    assert len(sim.cluster.measured) == 1, "no measurement before the interval passed"
    assert early.wake_at == start + gap

    sim.now = start + gap
    on_time = sim.reconcile()
    assert len(sim.cluster.measured) == 2
    assert sim.record("rollout", "smoke").successes == 2
    assert on_time.wake_at == start + gap + gap


def test_a_measurement_is_counted_in_the_reconcile_that_took_it() -> None:
    sim = at_step(verify_http())

    asked = sim.plan_once()
    (measure,) = actions_of(asked, Measure)
    assert measure.key == "web-1/rollout/deploy/smoke/1/0"
    assert asked.status.phases[0].steps[1].awaiting is Awaiting.MEASUREMENT

    sim.reconcile()

    assert sim.cluster.measured == [measure]
    assert sim.record("rollout", "smoke").state is StepState.SUCCEEDED
    assert sim.record("rollout", "smoke").message == "1/1 passed, 0 failed (limit 0): ok"


@pytest.mark.parametrize(
    ("check", "timeout"),
    [
        pytest.param({"count": 1, "failureLimit": 0, "interval": "10s"}, "30m", id="short-check-30m"),
        pytest.param({"count": 60, "failureLimit": 2, "interval": "1m"}, "7440s", id="long-check-twice-its-time"),
        pytest.param({"count": 90, "failureLimit": 0, "interval": "10s"}, "30m", id="exactly-30m"),
    ],
)
def test_verify_timeout_default(check: Obj, timeout: str) -> None:
    spec = VerifyStep.model_validate({"http": {"url": "http://web.shop.svc/healthz"}, **check})

    assert verify_timeout(spec) == timeout


@pytest.mark.parametrize(
    ("extra", "limit"),
    [
        pytest.param({}, seconds(1800), id="default-30m"),
        pytest.param({"timeout": "2m"}, seconds(120), id="step-timeout-wins"),
    ],
)
def test_a_verification_that_stays_inconclusive_times_out(extra: Obj, limit: timedelta) -> None:
    sim = at_step(verify_prometheus(count=2, inconclusive_is="Retry", **extra), failure_strategies=[strategy("Abort")])
    start = sim.now
    sim.cluster.script_measurements(Outcome.SUCCESS, *[Outcome.INCONCLUSIVE] * 400)

    sim.run(max_cycles=400)

    record = sim.record("rollout", "metrics")
    assert (record.state, record.error) == (StepState.FAILED, ErrorKind.TIMEOUT)
    assert record.message == (
        f"step 'metrics' did not finish within {extra.get('timeout', '30m')}: 1/2 passed, 0 failed, "
        f"{record.inconclusive} inconclusive"
    )
    assert record.inconclusive == limit // seconds(10)  # one every 10s after the first success, the last at the end
    assert sim.now - start == limit
    assert sim.status.result is RunResult.ABORTED


def test_verify_job_success_and_failure() -> None:
    passing = at_step(verify_job())
    passing.run()
    assert passing.record("rollout", "smoke").state is StepState.SUCCEEDED
    assert [j.name for j in passing.cluster.created_jobs] == ["web-1-rollout-deploy-smoke-1"]

    failing = at_step(verify_job(), failure_strategies=[strategy("Abort")])
    failing.cluster.job_default = FAILED
    failing.run()
    record = failing.record("rollout", "smoke")
    assert record.error is ErrorKind.VERIFICATION_FAILED
    assert record.message == "job web-1-rollout-deploy-smoke-1 failed: BackoffLimitExceeded"


# Notify


def test_notify_sends_the_message_and_records_an_event() -> None:
    webhook = {"urlFrom": {"name": "hooks", "key": "slack"}}
    sim = Sim(rolling(notify(message="web ${run.name} is out", webhook=webhook)))

    sim.run()

    (sent,) = sim.cluster.notified.values()
    assert sent.key == "shop/web-1/rollout/deploy/announce/1"
    assert sent.message == "web web-1 is out"
    assert sent.webhook is not None and (sent.webhook.name, sent.webhook.key) == ("hooks", "slack")
    event = sim.cluster.events["web-1/rollout/deploy/announce/1/notify"]
    assert (event.reason, event.message) == ("Notification", "web web-1 is out")
    assert sim.record("rollout", "announce").state is StepState.SUCCEEDED


# Barrier


def test_barrier_outside_a_pipeline_does_not_block() -> None:
    sim = at_step(barrier())

    crossed = sim.reconcile()

    assert sim.record("rollout", "sync").state is StepState.SUCCEEDED
    assert actions_of(crossed, MarkBarrier) == []
    assert sim.status.result is RunResult.SUCCEEDED


def test_barrier_in_a_pipeline_waits_until_everyone_reached_it() -> None:
    sim = at_step(barrier(timeout="10m"))
    sim.in_pipeline = True
    start = sim.now

    waiting = sim.reconcile()

    assert actions_of(waiting, MarkBarrier) == [MarkBarrier("meet", "reached")]
    assert sim.status.phase is RunPhase.WAITING_AT_BARRIER
    assert sim.record("rollout", "sync").message == "waiting at barrier meet for the other participants"
    assert waiting.wake_at == start + seconds(600)

    sim.cluster.barriers["meet"] = BarrierView(missing=("db-1",))
    sim.reconcile()
    assert sim.record("rollout", "sync").message == "waiting at barrier meet for db-1"

    sim.cluster.barriers["meet"] = BarrierView(all_reached=True)
    crossed = sim.reconcile()

    assert actions_of(crossed, MarkBarrier) == [MarkBarrier("meet", "crossed")]
    assert sim.record("rollout", "sync").state is StepState.SUCCEEDED
    assert sim.status.result is RunResult.SUCCEEDED
    assert sim.cluster.marks == {"meet": "crossed"}


@pytest.mark.parametrize(
    ("view", "wait", "error"),
    [
        pytest.param(BarrierView(failed_by="db-1"), seconds(0), ErrorKind.BARRIER_FAILED, id="failed-by-another"),
        pytest.param(BarrierView(missing=("db-1",)), seconds(600), ErrorKind.TIMEOUT, id="timeout"),
    ],
)
def test_barrier_failure(view: BarrierView, wait: timedelta, error: ErrorKind) -> None:
    sim = at_step(barrier(timeout="10m"), failure_strategies=[strategy("Abort")])
    sim.in_pipeline = True
    sim.reconcile()

    sim.cluster.barriers["meet"] = view
    sim.now += wait
    sim.reconcile()

    record = sim.record("rollout", "sync")
    assert record.error is error
    assert sim.status.result is RunResult.ABORTED
    assert sim.cluster.marks == {"meet": "failed"}


# when


@pytest.mark.parametrize(
    ("when", "env", "runs"),
    [
        pytest.param("${workflow.variables.env} == 'prod'", "prod", True, id="equal-holds"),
        pytest.param("${workflow.variables.env} == 'prod'", "dev", False, id="equal-does-not-hold"),
        pytest.param("${workflow.variables.env} != 'prod'", "dev", True, id="not-equal-holds"),
        pytest.param("${workflow.variables.canary}", "dev", False, id="false-value"),
        pytest.param("false", "dev", False, id="literal-false"),
    ],
)
def test_when_decides_whether_a_step_runs(when: str, env: str, runs: bool) -> None:
    wf = workflow(
        rolling_wire(
            notify(when=when),
            variables=[{"name": "env"}, {"name": "canary", "default": "no"}],
        )
    )
    sim = Sim(wf, variables={"env": env})

    sim.run()

    record = sim.record("rollout", "announce")
    assert record.state is (StepState.SUCCEEDED if runs else StepState.SKIPPED)
    assert bool(sim.cluster.notified) is runs
    assert record.attempts == (1 if runs else 0)
    assert sim.status.result is RunResult.SUCCEEDED
