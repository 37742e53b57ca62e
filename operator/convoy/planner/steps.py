"""What each kind of step does in a cycle. Each evaluator looks at the observed world and the step's record,
asks for actions, and moves the record on: Running/Waiting, Succeeded, or Failed with an error kind (the failure
strategy is applied by the caller)."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from convoy.api.common import ContextRef, seconds
from convoy.api.steps import OUTPUT_NAME, ErrorKind, TimeoutAction, VerifyStep, WebhookTarget
from convoy.api.workflow import WorkflowType
from convoy.api.workflowrun import Awaiting, Revisions, StepRecord, StepState
from convoy.planner.actions import (
    ApplyManifests,
    EnsureJob,
    MarkBarrier,
    Measure,
    Notify,
    RestoreSnapshot,
    SetImage,
)
from convoy.planner.cycle import Cycle, Position, clip, label_value, object_name, target_of
from convoy.planner.observed import Outcome
from convoy.planner.timeutil import after, parse, stamp


def succeed(c: Cycle, record: StepRecord, message: str | None = None) -> None:
    record.state, record.awaiting, record.deadline, record.next_at = StepState.SUCCEEDED, None, None, None
    record.finished_at = c.stamp
    record.error = None
    if message:
        record.message = clip(message)


def fail(record: StepRecord, error: ErrorKind, message: str) -> None:
    """Mark the step failed; `finishedAt` stays empty until the failure strategy has been applied."""
    record.state, record.awaiting, record.deadline, record.next_at = StepState.FAILED, None, None, None
    record.error, record.message, record.finished_at = error, clip(message), None


def wait(c: Cycle, record: StepRecord, awaiting: Awaiting, deadline: str | None = None) -> None:
    record.state, record.awaiting = StepState.WAITING, awaiting
    if deadline is not None:
        record.deadline = deadline
        c.wake_at(parse(deadline))


def snapshot_name(c: Cycle, pos: Position) -> str:
    return object_name(c.run.name, pos.phase.name, "snapshot", limit=253)


def time_limit(c: Cycle, pos: Position) -> None:
    """Fail an attempt still at work past the step's timeout (deploy and rollback steps: the steady-state timeout
    by default), else wake up at the deadline. Checked after the step looked at the world, so that work which
    finished while the operator was not looking (a restart, a long outage) counts as done, not as timed out."""
    record = pos.record
    default = c.workflow.steady_state_timeout if pos.step.kind in ("deploy", "rollback") else None
    if pos.step.verify is not None:
        default = verify_timeout(pos.step.verify)
    limit = pos.step.timeout or default
    if limit is None or record.attempt_started_at is None or record.state not in (StepState.RUNNING, StepState.WAITING):
        return
    deadline = after(record.attempt_started_at, limit)
    if c.now < deadline:
        c.wake_at(deadline)
        return
    taken = ""
    if pos.step.verify is not None and pos.step.verify.job is None:
        taken = (
            f": {record.successes}/{pos.step.verify.count} passed, {record.failures} failed, "
            f"{record.inconclusive} inconclusive"
        )
    fail(record, ErrorKind.TIMEOUT, f"step '{pos.step.name}' did not finish within {limit}{taken}")


VERIFY_TIMEOUT = "30m"


def verify_timeout(spec: VerifyStep) -> str:
    """A verify step's timeout when it sets none: 30m, or twice the time its measurements take at their interval
    when that is longer, so a result that stays inconclusive (`inconclusiveIs: Retry`, an unreachable
    Prometheus) ends instead of measuring forever. Pure.

        count 1, failureLimit 0, interval 10s   -> 30m
        count 60, failureLimit 2, interval 1m   -> 7440s (2 x 62 x 60s)
    """
    needed = 2 * (spec.count + spec.failure_limit) * seconds(spec.interval)
    return VERIFY_TIMEOUT if needed <= seconds(VERIFY_TIMEOUT) else f"{math.ceil(needed)}s"


def applied_key(c: Cycle, pos: Position, part: str) -> str:
    """The `applied` mark of a phase's change to its workload: `part` is deploy or rollback."""
    return f"{c.run.name}/{pos.phase.name}/{part}"


def deploy(c: Cycle, pos: Position) -> None:
    wf = c.workflow
    namespace, deployment = target_of(wf, pos.phase, c.run.namespace)
    key = applied_key(c, pos, "deploy")
    if wf.type is WorkflowType.BASIC:
        assert wf.target is not None and wf.target.manifests is not None
        c.act(ApplyManifests(namespace, tuple(wf.target.manifests), snapshot_name(c, pos), key))
        if not confirmed(c, pos, "applying the workflow's objects"):
            return
        deployments = [
            m.get("metadata", {}).get("name", "") for m in wf.target.manifests if m.get("kind") == "Deployment"
        ]
        await_rollout(c, pos, namespace, deployments, key)
        return
    if wf.type not in (WorkflowType.ROLLING, WorkflowType.MULTI_SERVICE):
        unsupported(c, pos)
        return
    assert deployment is not None and wf.artifact is not None
    workload = c.observed.workload(namespace, deployment)
    if workload is None:
        fail(
            pos.record,
            ErrorKind.DEPLOYMENT_FAILED,
            f"Deployment {namespace}/{deployment} not found: create it or fix the workflow's target",
        )
        return
    if pos.phase_index == 0 or wf.type is WorkflowType.MULTI_SERVICE:
        record_revisions(c, stable=workload.image, new=wf.artifact.image)
    c.act(SetImage(namespace, deployment, wf.artifact.container, wf.artifact.image, snapshot_name(c, pos), key))
    await_rollout(c, pos, namespace, [deployment], key)


def confirmed(c: Cycle, pos: Position, doing: str) -> bool:
    """Whether the API server accepted the changes this step attempt asked for. What a step cannot observe (a Basic
    workflow's ConfigMaps or Roles) is done only once it was made: the step waits for the status that records
    the plan to be written and the change to be made, so a refused change fails the step instead of a success
    being claimed for it."""
    if pos.key in c.observed.confirmed:
        return True
    pos.record.state, pos.record.awaiting, pos.record.message = StepState.RUNNING, Awaiting.CONFIRMATION, doing
    return False


def record_revisions(c: Cycle, *, stable: str | None, new: str) -> None:
    if c.status.revisions is None:
        c.status.revisions = Revisions(stable=stable, new=new)


def await_rollout(c: Cycle, pos: Position, namespace: str, deployments: list[str], key: str) -> None:
    pending = []
    for name in deployments:
        workload = c.observed.workload(namespace, name)
        if workload is None or workload.applied != key or not workload.rolled_out:
            pending.append(name)
        elif workload.progress_deadline_exceeded:
            fail(
                pos.record, ErrorKind.DEPLOYMENT_FAILED, f"Deployment {namespace}/{name} exceeded its progress deadline"
            )
            return
    if pending:
        workload = c.observed.workload(namespace, pending[0])
        if workload is not None and workload.applied == key and workload.progress_deadline_exceeded:
            fail(
                pos.record,
                ErrorKind.DEPLOYMENT_FAILED,
                f"Deployment {namespace}/{pending[0]} exceeded its progress deadline",
            )
            return
        pos.record.message = clip(f"waiting for {namespace}/{pending[0]} to roll out")
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
        return
    succeed(c, pos.record, f"rolled out {', '.join(deployments)}")


def rollback(c: Cycle, pos: Position) -> None:
    wf = c.workflow
    deployed = c.status.phases[pos.phase_index]
    if not any(
        s.state not in (StepState.PENDING, StepState.SKIPPED)
        for s, spec in zip(deployed.steps, pos.phase.steps, strict=True)
        if spec.deploy is not None
    ):
        succeed(c, pos.record, "nothing was deployed in this phase")
        return
    namespace, deployment = target_of(wf, pos.phase, c.run.namespace)
    key = applied_key(c, pos, "rollback")
    if wf.type is not WorkflowType.BASIC and deployment is not None:
        # The `applied` mark tells whether a change of this run reached the Deployment: without it there is
        # nothing of this run's to undo, and waiting for a restore that never comes would only end in a timeout.
        # After a run succeeded its change did reach it, even if a later run (one that failed and restored this
        # run's version, say) has marked the Deployment since: a post-deployment rollback always restores.
        workload = c.observed.workload(namespace, deployment)
        mine = workload is not None and (workload.applied or "").startswith(f"{c.run.name}/")
        if workload is None or not (mine or c.status.post_deployment_rollback):
            found = "not found" if workload is None else "not changed by this run"
            succeed(c, pos.record, f"nothing to restore: Deployment {namespace}/{deployment} {found}")
            return
    c.act(RestoreSnapshot(namespace, deployment, snapshot_name(c, pos), key, applied_key(c, pos, "deploy")))
    if wf.type is WorkflowType.BASIC:
        assert wf.target is not None and wf.target.manifests is not None
        if not confirmed(c, pos, "restoring the workflow's objects"):
            return
        # A Deployment the run created is deleted by the restore: once it is gone there is nothing to wait for.
        names = [
            name
            for m in wf.target.manifests
            if m.get("kind") == "Deployment" and c.observed.workload(namespace, name := m["metadata"]["name"])
        ]
    else:
        names = [deployment] if deployment else []
    await_rollout(c, pos, namespace, names, key)


def job(c: Cycle, pos: Position) -> None:
    spec = pos.step.job
    assert spec is not None
    name = job_name(c, pos)
    _run_job(c, pos, name, spec.template, spec.backoff_limit)
    if pos.record.state is not StepState.SUCCEEDED or not spec.outputs:
        return
    declared = [output.name for output in spec.outputs]
    messages = c.observed.jobs[name].termination_messages
    if messages is None:
        fail(pos.record, ErrorKind.JOB_FAILED, f"job {name} succeeded, but its pod is gone: its outputs are lost")
        return
    try:
        produced = produced_outputs(messages)
    except ValueError as error:
        fail(pos.record, ErrorKind.JOB_FAILED, f"job {name} succeeded, but its termination message {error}")
        return
    missing = [key for key in declared if key not in produced]
    if missing:
        fail(
            pos.record,
            ErrorKind.JOB_FAILED,
            f"job {name} succeeded without producing output {', '.join(missing)}: its container writes outputs to "
            "/dev/termination-log, as a JSON object or KEY=VALUE lines",
        )
        return
    c.status.outputs.update({key: clip(produced[key], OUTPUT_LIMIT) for key in declared})
    succeed(c, pos.record, f"job {name} succeeded, produced {', '.join(declared)}")


OUTPUT_LIMIT = 1024


def produced_outputs(messages: tuple[str, ...]) -> dict[str, str]:
    """The outputs in a Job's termination messages, one per container, later containers winning: each is empty,
    a JSON object (string values as they are, numbers and booleans as JSON writes them), or KEY=VALUE lines
    (blank lines and '#' comments skipped). Raises ValueError saying what is wrong. Pure.

        '{"image": "registry.example/web:4f2c", "size": 12}'  -> {'image': 'registry.example/web:4f2c', 'size': '12'}
        'image=registry.example/web:4f2c\ndigest=sha256:ab'  -> {'image': ..., 'digest': 'sha256:ab'}
    """
    out: dict[str, str] = {}
    for message in messages:
        text = message.strip()
        if text.startswith(("{", "[")):
            out.update(_json_outputs(text))
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, equals, value = line.partition("=")
            if not equals or not re.fullmatch(OUTPUT_NAME, key.strip()):
                raise ValueError(f"line {number} is not KEY=VALUE (nor is the message a JSON object)")
            out[key.strip()] = value
    return out


def _json_outputs(text: str) -> dict[str, str]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError("is not a JSON object")
    out = {}
    for key, value in parsed.items():
        if isinstance(value, dict | list) or value is None:
            raise ValueError(f"gives output {key!r} a {type(value).__name__}, not a string")
        out[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return out


def job_name(c: Cycle, pos: Position) -> str:
    """A Job per attempt, named after the phase too: two phases (or a phase's steps and its rollback steps) may
    each have a step of the same name."""
    return object_name(c.run.name, *pos.key.split("/"))


def with_context(template: dict[str, Any], context: ContextRef | None) -> dict[str, Any]:
    """The pod template with the run's context (a Secret and/or ConfigMap) added to every container's envFrom."""
    if context is None:
        return dict(template)
    sources: list[dict[str, Any]] = []
    if context.secret:
        sources.append({"secretRef": {"name": context.secret}})
    if context.config_map:
        sources.append({"configMapRef": {"name": context.config_map}})
    out = copy.deepcopy(template)
    for container in out.get("spec", {}).get("containers", []):
        container["envFrom"] = [*container.get("envFrom", []), *sources]
    return out


def _run_job(c: Cycle, pos: Position, name: str, template: dict[str, Any], backoff_limit: int) -> None:
    labels = {"convoy.dev/run": label_value(c.run.name), "convoy.dev/step": pos.step.name}
    c.act(EnsureJob(c.run.namespace, name, with_context(template, c.spec.context), backoff_limit, labels))
    result = c.observed.jobs.get(name)
    if result is None or not (result.succeeded or result.failed):
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.JOB
        pos.record.message = f"job {name} running"
    elif result.succeeded:
        succeed(c, pos.record, f"job {name} succeeded")
    else:
        fail(pos.record, ErrorKind.JOB_FAILED, f"job {name} failed: {result.message}".rstrip(": "))


def verify(c: Cycle, pos: Position) -> None:
    spec, record = pos.step.verify, pos.record
    assert spec is not None
    if spec.job is not None:
        _run_job(c, pos, job_name(c, pos), spec.job.template, spec.job.backoff_limit)
        if record.state is StepState.FAILED:
            record.error = ErrorKind.VERIFICATION_FAILED
        return
    check = spec.http or spec.prometheus
    assert check is not None
    taken = record.successes + record.failures + record.inconclusive
    key = f"{c.run.name}/{pos.key}/{taken}"
    result = c.observed.measurements.get(key)
    if result is not None:
        outcome = result.outcome
        if outcome is Outcome.INCONCLUSIVE and spec.prometheus is not None:
            outcome = {"Failure": Outcome.FAILURE, "Success": Outcome.SUCCESS}.get(
                spec.prometheus.inconclusive_is, Outcome.INCONCLUSIVE
            )
        record.successes += outcome is Outcome.SUCCESS
        record.failures += outcome is Outcome.FAILURE
        record.inconclusive += outcome is Outcome.INCONCLUSIVE
        record.message = clip(
            f"{record.successes}/{spec.count} passed, {record.failures} failed "
            f"(limit {spec.failure_limit}): {result.message}"
        )
        if record.failures > spec.failure_limit:
            fail(record, ErrorKind.VERIFICATION_FAILED, record.message)
            return
        if record.successes >= spec.count:
            succeed(c, record)
            return
        record.next_at = _stamp_after(c, spec.interval)
    if record.next_at is not None and c.now < parse(record.next_at):
        record.state, record.awaiting = StepState.WAITING, Awaiting.MEASUREMENT
        c.wake_at(parse(record.next_at))
        return
    record.state, record.awaiting = StepState.RUNNING, Awaiting.MEASUREMENT
    c.act(Measure(key, check))


def _stamp_after(c: Cycle, duration: str) -> str:
    return stamp(after(c.stamp, duration))


def approval(c: Cycle, pos: Position) -> None:
    spec, record = pos.step.approval, pos.record
    assert spec is not None
    deadline = record.deadline or _stamp_after(c, spec.timeout)
    if c.now >= parse(deadline):
        if spec.timeout_action is TimeoutAction.APPROVE:
            record.decided_by = "timeout"
            succeed(c, record, f"approved by timeout after {spec.timeout}")
        else:
            record.decided_by = "timeout"
            fail(record, ErrorKind.APPROVAL_REJECTED, f"nobody approved within {spec.timeout}")
        return
    if record.awaiting is not Awaiting.APPROVAL:
        who = ", ".join(spec.approvers) if spec.approvers else "anyone allowed to patch the run"
        who += f" ({spec.min_approvals} distinct approvers needed)" if spec.min_approvals > 1 else ""
        record.message = clip(f"waiting for approval by {who}")
        c.event(f"{pos.key}/waiting", "WaitingForApproval", f"step {pos.step.name}: {record.message}")
    wait(c, record, Awaiting.APPROVAL, deadline)


def pause(c: Cycle, pos: Position) -> None:
    spec, record = pos.step.pause, pos.record
    assert spec is not None
    if spec.duration is None:
        record.message = "paused until resumed (kubectl convoy resume)"
        wait(c, record, Awaiting.RESUME)
        return
    deadline = record.deadline or _stamp_after(c, spec.duration)
    if c.now >= parse(deadline):
        succeed(c, record, f"paused for {spec.duration}")
        return
    record.message = f"paused for {spec.duration}"
    wait(c, record, Awaiting.PAUSE, deadline)


def barrier(c: Cycle, pos: Position) -> None:
    spec, record = pos.step.barrier, pos.record
    assert spec is not None
    if not c.observed.in_pipeline:
        succeed(c, record, "not part of a pipeline: the barrier does not hold")
        return
    view = c.observed.barriers.get(spec.name)
    if view is not None and view.all_reached and not view.failed_by:
        # Only "crossed", never "reached" after it: a plan repeated after a write conflict must not move the mark
        # back, or each repetition changes the run again and the status write conflicts forever.
        c.act(MarkBarrier(spec.name, "crossed"))
        succeed(c, record, f"crossed barrier {spec.name}")
        return
    # One mark per barrier and plan (issue 12, item 11): a barrier another participant failed is marked "failed",
    # never "reached" first (two marks flip the annotation on every replan, and each flip makes the status write
    # conflict again); a run that ends badly in this plan replaces the mark below with "failed" (run.py).
    if view is not None and view.failed_by:
        c.act(MarkBarrier(spec.name, "failed"))
        fail(record, ErrorKind.BARRIER_FAILED, f"barrier {spec.name}: {view.failed_by} failed before reaching it")
        return
    c.act(MarkBarrier(spec.name, "reached"))
    deadline = record.deadline or _stamp_after(c, spec.timeout)
    if c.now >= parse(deadline):
        fail(record, ErrorKind.TIMEOUT, f"barrier {spec.name}: not everyone arrived within {spec.timeout}")
        return
    missing = ", ".join(view.missing) if view is not None and view.missing else "the other participants"
    record.message = clip(f"waiting at barrier {spec.name} for {missing}")
    wait(c, record, Awaiting.BARRIER, deadline)


def notify(c: Cycle, pos: Position) -> None:
    spec = pos.step.notify
    assert spec is not None
    send_notification(c, pos.key, spec.message, spec.webhook)
    succeed(c, pos.record, "sent")


def send_notification(c: Cycle, key: str, message: str, webhook: WebhookTarget | None) -> None:
    ref = webhook.url_from if webhook is not None else None
    c.act(Notify(f"{c.run.namespace}/{c.run.name}/{key}", message, ref))
    c.event(f"{key}/notify", "Notification", message)


def unsupported(c: Cycle, pos: Position) -> None:
    fail(
        pos.record,
        ErrorKind.DEPLOYMENT_FAILED,
        f"{pos.step.kind} steps are not supported in {c.workflow.type.value} workflows by this operator",
    )
