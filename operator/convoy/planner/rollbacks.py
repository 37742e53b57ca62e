"""Rollback objects: whether one may go ahead, and its status while the run it rolls back does so. Pure.

A Rollback executes no step itself. It picks the run to roll back and asks that run to (a Rollback decision, which
handlers/rollbacks.py appends); the run executes its workflow's rollback steps, phases in reverse order, and the
Rollback mirrors them. The rules, from the reference:

- `workflowRef`: the Workflow's most recent successful deployment is rolled back (a post-deployment rollback).
- `workflowRunRef`: that run. A run in flight is stopped and rolls back the phases it started. A finished run must
  be its Workflow's most recent successful deployment, and is then rolled back as with `workflowRef`.
- A post-deployment rollback needs at least two successful deployments of the Workflow: the version it returns to
  was itself deployed successfully. It is refused for MultiService and Build workflows (as in the reference), while
  a run of the same targets is in flight, when that deployment was rolled back already (older deployments are
  history only), and when the Workflow changed since that deployment, unless `force` is set.
- References stay in the Rollback's namespace: the right to create Rollbacks in one namespace does not reach
  another's runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from convoy.api.decisions import Decision, DecisionAction
from convoy.api.history import Revision
from convoy.api.rollback import RollbackPhase, RollbackSpec, RollbackStatus
from convoy.api.validation import InvalidSpec
from convoy.api.workflow import WorkflowSpec, WorkflowType
from convoy.api.workflowrun import RunResult
from convoy.planner import history
from convoy.planner.actions import RecordEvent
from convoy.planner.conditions import kstatus
from convoy.planner.context import render_workflow
from convoy.planner.cycle import clip
from convoy.planner.history import RunView
from convoy.planner.timeutil import stamp

ANNOTATION = "convoy.dev/rollback"
"""On a run: the Rollback (namespace/name) that asked it to roll back, so that the run's events wake that Rollback."""
NOT_AFTER_THE_FACT = (WorkflowType.MULTI_SERVICE, WorkflowType.BUILD)
FINAL = (RollbackPhase.SUCCEEDED, RollbackPhase.FAILED, RollbackPhase.REFUSED)


@dataclass(frozen=True)
class Target:
    """The run to roll back, and what the Rollback says about it."""

    run: str
    workflow: str | None
    post_deployment: bool
    revision: str | None
    restored: str | None
    message: str


@dataclass(frozen=True)
class Refusal:
    message: str


def workflow_name(spec: RollbackSpec, runs: Sequence[RunView]) -> str | None:
    """The Workflow a Rollback is about: the one it names, or the referenced run's."""
    if spec.workflow_ref is not None:
        return spec.workflow_ref.name
    assert spec.workflow_run_ref is not None
    run = next((r for r in runs if r.name == spec.workflow_run_ref.name), None)
    ref = run.spec.workflow_ref if run is not None else None
    return ref.name if ref is not None else None


def choose(
    *,
    rollback: str,
    namespace: str,
    spec: RollbackSpec,
    runs: Sequence[RunView],
    workflow: WorkflowSpec | InvalidSpec | None,
    workflow_history: Sequence[Revision],
) -> Target | Refusal:
    """Which run this Rollback rolls back, or why it may not. `runs`: the namespace's WorkflowRuns; `workflow` and
    `workflow_history`: the Workflow it is about (None when there is none) and its status.history."""
    for ref in (spec.workflow_ref, spec.workflow_run_ref):
        if ref is not None and ref.namespace not in (None, namespace):
            return Refusal(f"a Rollback may only refer to objects of its own namespace ({namespace})")
    by_name = {r.name: r for r in runs}
    name = workflow_name(spec, runs)
    if spec.workflow_run_ref is not None:
        run = by_name.get(spec.workflow_run_ref.name)
        if run is None:
            return Refusal(f"WorkflowRun {spec.workflow_run_ref.name} not found")
        if run.status.result is None:
            return _in_flight(rollback, run)
        if run.status.result is not RunResult.SUCCEEDED:
            done = "was rolled back already" if run.status.post_deployment_rollback else f"ended {run.status.result}"
            return Refusal(
                f"WorkflowRun {run.name} {done}: only a successful deployment or a run in flight can be rolled back"
            )
        if name is None:
            return Refusal(
                f"WorkflowRun {run.name} ran an inline workflow: a post-deployment rollback needs a Workflow's history"
            )
    assert name is not None
    if workflow is None:
        return Refusal(f"Workflow {name} not found")
    wanted = spec.workflow_run_ref.name if spec.workflow_run_ref is not None else None
    return _after_the_fact(rollback, namespace, spec, name, workflow, workflow_history, runs, wanted)


def _in_flight(rollback: str, run: RunView) -> Target | Refusal:
    status = run.status
    other = _other_rollback(rollback, run)
    if other:
        return Refusal(other)
    if status.post_deployment_rollback is not None:
        return Refusal(f"WorkflowRun {run.name} is being rolled back already")
    if status.started_at is None:
        return Refusal(f"WorkflowRun {run.name} is queued and has deployed nothing: abort it instead")
    revisions = status.revisions
    return Target(
        run=run.name,
        workflow=status.workflow if run.spec.workflow_ref is not None else None,
        post_deployment=False,
        revision=revisions.new if revisions else None,
        restored=revisions.stable if revisions else None,
        message=f"WorkflowRun {run.name} is in flight: it stops and rolls back the phases it started, in reverse order",
    )


def _other_rollback(rollback: str, run: RunView) -> str | None:
    marked = run.annotations.get(ANNOTATION)
    if marked and marked.rpartition("/")[2] != rollback:
        return f"WorkflowRun {run.name} is rolled back by Rollback {marked} already"
    return None


def _after_the_fact(
    rollback: str,
    namespace: str,
    spec: RollbackSpec,
    name: str,
    workflow: WorkflowSpec | InvalidSpec,
    workflow_history: Sequence[Revision],
    runs: Sequence[RunView],
    wanted: str | None,
) -> Target | Refusal:
    mine = [r for r in runs if r.runs(namespace, name)]
    deployments = history.merge(workflow_history, mine, limit=len(workflow_history) + len(mine) + 1)
    latest = deployments[-1] if deployments else None
    targets = set(latest.targets) if latest else set()
    names = {r.name for r in mine}
    busy = [r.name for r in runs if r.status.result is None and (r.name in names or targets & set(r.status.targets))]
    if busy:
        return Refusal(
            f"{', '.join(sorted(busy))} of the same target is in flight: roll it back by its run "
            "(workflowRunRef), or wait until it ends"
        )
    if latest is None or len(deployments) < 2:
        found = f"{len(deployments)} ({latest.run})" if latest else "none"
        return Refusal(
            f"a post-deployment rollback needs at least two successful deployments of Workflow {name}; it has "
            f"{found}, so there is no earlier good version to return to"
        )
    if wanted is not None and wanted != latest.run:
        return Refusal(
            f"WorkflowRun {wanted} is not the most recent successful deployment of Workflow {name} ({latest.run} "
            "is): older deployments are history only"
        )
    if latest.rolled_back is not None:
        return Refusal(
            f"the most recent deployment of Workflow {name}, {latest.run}, was rolled back already: older "
            "deployments are history only, so run the workflow with the version you want instead"
        )
    run = next((r for r in runs if r.name == latest.run), None)
    if run is None or run.status.workflow_spec is None:
        return Refusal(f"WorkflowRun {latest.run} was deleted, and with it the snapshot of what ran before it")
    other = _other_rollback(rollback, run)
    if other:
        return Refusal(other)
    recorded = WorkflowSpec.model_validate(run.status.workflow_spec)
    if recorded.type in NOT_AFTER_THE_FACT:
        return Refusal(
            f"{recorded.type.value} workflows cannot be rolled back after the fact; roll back a run in flight"
        )
    changed = changes(workflow, run)
    if changed and not spec.force:
        return Refusal(
            f"Workflow {name} changed since {run.name} deployed {latest.revision or 'it'} ({changed}): rolling back "
            "with a changed workflow can have unpredictable results; set force: true to roll back anyway"
        )
    forced = f" (forced: the Workflow changed since: {changed})" if changed else ""
    return Target(
        run=run.name,
        workflow=name,
        post_deployment=True,
        revision=latest.revision,
        restored=latest.previous,
        message=clip(f"rolling back {run.name}: {latest.previous or 'the previous version'} runs again{forced}"),
    )


def changes(workflow: WorkflowSpec | InvalidSpec, run: RunView) -> str | None:
    """How the Workflow, rendered now with the run's variables, differs from what the run executed; None if not."""
    if isinstance(workflow, InvalidSpec):
        return f"it is not valid now: {workflow}"
    try:
        now = render_workflow(workflow, run_name=run.name, namespace=run.namespace, given=run.spec.variables)
    except InvalidSpec as invalid:
        return f"it cannot be rendered with the run's variables now: {invalid}"
    then = WorkflowSpec.model_validate(run.status.workflow_spec).to_wire()
    fields = sorted(k for k in {*now.to_wire(), *then} if now.to_wire().get(k) != then.get(k))
    return f"spec.{', spec.'.join(fields)} differ" if fields else None


def decision(rollback: str, spec: RollbackSpec, requested_by: str | None) -> Decision:
    """The decision the run gets, for the user who created the Rollback (as admission recorded them); the
    admission webhook stamps the operator as its author, and when."""
    reason = f"Rollback {rollback}" + (f": {spec.reason}" if spec.reason else "")
    return Decision(action=DecisionAction.ROLLBACK, reason=clip(reason, 1024), requested_by=requested_by)


def accepted(status: RollbackStatus, target: Target, generation: int | None, now: datetime) -> RollbackStatus:
    updated = status.model_copy(
        update={
            "workflow": target.workflow,
            "workflow_run": target.run,
            "post_deployment": target.post_deployment,
            "revision": target.revision,
            "restored_revision": target.restored,
            "started_at": stamp(now),
        }
    )
    return _at(updated, RollbackPhase.RUNNING, target.message, generation, now)


def refused(status: RollbackStatus, message: str, generation: int | None, now: datetime) -> RollbackStatus:
    updated = status.model_copy(update={"finished_at": stamp(now)})
    return _at(updated, RollbackPhase.REFUSED, message, generation, now)


def progress(status: RollbackStatus, run: RunView | None, generation: int | None, now: datetime) -> RollbackStatus:
    """The Rollback's status from its run's: Running while the run rolls back (or has not taken the decision yet),
    Succeeded once the run is RolledBack, Failed when its rollback failed, was aborted, or the run vanished."""
    if run is None:
        gone = f"WorkflowRun {status.workflow_run} was deleted before its rollback ended"
        return _at(status.model_copy(update={"finished_at": stamp(now)}), RollbackPhase.FAILED, gone, generation, now)
    rs = run.status
    update: dict[str, object] = {"phases": [p.model_copy(deep=True) for p in rs.rollback]}
    if rs.post_deployment_rollback is not None:
        update["post_deployment"] = True
    if rs.result is None or rs.result is RunResult.SUCCEEDED:  # Succeeded: the decision is not taken yet
        message = rs.message if rs.rolling_back and rs.message else f"waiting for {run.name} to roll back"
        return _at(status.model_copy(update=update), RollbackPhase.RUNNING, message, generation, now)
    update["finished_at"] = rs.finished_at or stamp(now)
    if rs.result is RunResult.ROLLED_BACK:
        restored = status.restored_revision or "the previous version"
        phase, message = RollbackPhase.SUCCEEDED, f"{run.name} rolled back: {restored} runs again"
    elif rs.result is RunResult.ABORTED:
        phase, message = RollbackPhase.FAILED, f"{run.name} was aborted: {rs.message or 'during its rollback'}"
    else:
        phase, message = RollbackPhase.FAILED, f"the rollback of {run.name} failed: {rs.message or 'see its status'}"
    return _at(status.model_copy(update=update), phase, message, generation, now)


def events(name: str, before: RollbackStatus, after: RollbackStatus) -> list[RecordEvent]:
    """The Events of a change of phase: accepted, refused, succeeded or failed (each once, by key)."""
    if after.phase is before.phase:
        return []
    reason = {
        RollbackPhase.RUNNING: "RollingBack",
        RollbackPhase.REFUSED: "Refused",
        RollbackPhase.SUCCEEDED: "RolledBack",
        RollbackPhase.FAILED: "RollbackFailed",
    }.get(after.phase)
    if reason is None:
        return []
    warning = after.phase in (RollbackPhase.REFUSED, RollbackPhase.FAILED)
    return [RecordEvent(f"{name}/{after.phase.value}", reason, after.message or reason, warning=warning)]


def _at(
    status: RollbackStatus, phase: RollbackPhase, message: str, generation: int | None, now: datetime
) -> RollbackStatus:
    message = clip(message, 1024)
    finished = phase in FINAL
    conditions = kstatus(
        status.conditions,
        succeeded=phase is RollbackPhase.SUCCEEDED,
        running=not finished,
        reason=phase.value,
        message=message,
        now=now,
        generation=generation,
    )
    return status.model_copy(
        update={"phase": phase, "message": message, "observed_generation": generation, "conditions": conditions}
    )
