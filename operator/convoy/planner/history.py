"""Revision history: which of a Workflow's runs are deployments to remember, merged into the history its status
already holds. Pure.

A run enters the history when it has succeeded. A run that succeeded and was later rolled back (a post-deployment
rollback) is remembered with its original success time and gets the rolled-back mark. Entries outlive their runs:
deleting a run does not rewrite history. The newest `limit` entries are kept; a run older than every kept entry
is not added back once the history is full.

Finished runs are garbage: `surplus` picks those beyond a Workflow's `runHistoryLimit` and `expires_at` says when
one's `ttlSecondsAfterFinished` is up; the history keeps what a Rollback needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from convoy.api.history import PhaseSize, Revision, RolledBack
from convoy.api.workflow import CanarySplit, WorkflowSpec, WorkflowType
from convoy.api.workflowrun import RunResult, WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.canary import canary_pods, split
from convoy.planner.timeutil import parse


@dataclass(frozen=True)
class RunView:
    """A WorkflowRun as listed: enough to tell which Workflow it runs and how it ended."""

    name: str
    namespace: str
    spec: WorkflowRunSpec
    status: WorkflowRunStatus
    annotations: Mapping[str, str] = field(default_factory=dict)
    uid: str = ""

    def runs(self, namespace: str, workflow: str) -> bool:
        """Whether this is a run of Workflow `namespace/workflow` (inline workflows belong to no Workflow)."""
        ref = self.spec.workflow_ref
        return ref is not None and ref.name == workflow and (ref.namespace or self.namespace) == namespace


def entry(run: RunView) -> Revision | None:
    """The history entry a run makes, or None when it is not (or not yet) a successful deployment."""
    status = run.status
    undone = status.post_deployment_rollback
    if status.result is RunResult.SUCCEEDED and status.finished_at is not None:
        deployed_at, mark = status.finished_at, None
    elif undone is not None and undone.succeeded_at is not None and status.result is not None:
        deployed_at = undone.succeeded_at
        mark = RolledBack(
            at=status.finished_at,
            result=status.result,
            restored=status.revisions.stable if status.revisions else None,
            requested_by=undone.requested_by,
            reason=undone.reason,
        )
    else:
        return None
    revisions = status.revisions
    return Revision(
        run=run.name,
        revision=revisions.new if revisions else None,
        previous=revisions.stable if revisions else None,
        deployed_at=deployed_at,
        targets=list(status.targets),
        phases=phase_sizes(status),
        rolled_back=mark,
    )


def phase_sizes(status: WorkflowRunStatus) -> list[PhaseSize]:
    """Each phase's weight and the new pods it added: known for canary runs (from the total they recorded)."""
    if status.workflow_spec is None:
        return []
    workflow = WorkflowSpec.model_validate(status.workflow_spec)
    if workflow.type is not WorkflowType.CANARY or status.canary is None:
        return [PhaseSize(name=p.name) for p in workflow.phases]
    total = status.canary.total
    routed = workflow.canary is not None and workflow.canary.split is CanarySplit.TRAFFIC_ROUTE
    out, before = [], 0
    for phase in workflow.phases:
        weight = phase.weight or 0
        now = total if weight >= 100 else canary_pods(total, weight) if routed else split(total, weight)[1]
        out.append(PhaseSize(name=phase.name, weight=phase.weight, pods=max(0, now - before)))
        before = max(before, now)
    return out


def merge(history: Sequence[Revision], runs: Iterable[RunView], limit: int) -> list[Revision]:
    """`history` with the deployments among `runs` added, rolled-back marks set, oldest first, at most `limit`."""
    found = {(e.run, e.deployed_at): e for e in (entry(run) for run in runs) if e is not None}
    merged = []
    for old in history:
        new = found.pop((old.run, old.deployed_at), None)
        marked = old.rolled_back is None and new is not None and new.rolled_back is not None
        merged.append(old.model_copy(update={"rolled_back": new.rolled_back}) if marked and new else old)
    full = len(history) >= limit
    oldest = min(((e.deployed_at, e.run) for e in history), default=None)
    merged.extend(e for e in found.values() if not (full and oldest and (e.deployed_at, e.run) < oldest))
    merged.sort(key=lambda e: (e.deployed_at, e.run))
    return merged[-limit:]


def surplus(
    runs: Iterable[RunView], *, keep: int, history: Sequence[Revision], followed: frozenset[str] = frozenset()
) -> list[RunView]:
    """The finished runs of one Workflow to delete, oldest first, so that at most `keep` finished runs remain
    (`runHistoryLimit`). Never deleted: runs still going; stage runs (their PipelineRun owns them); runs a Rollback
    follows (`followed`, by name); the newest successful deployment (a Rollback of the Workflow reopens that run); and a run whose
    deployment `history` does not hold yet (its entry is written first, then the run may go)."""
    finished = sorted((r for r in runs if r.status.result is not None), key=_finished_order)
    current = next((r for r in reversed(finished) if r.status.result is RunResult.SUCCEEDED), None)
    held = {(e.run, e.deployed_at) for e in history}
    out = []
    for run in finished[: max(len(finished) - keep, 0)]:
        made = entry(run)
        if (
            run is current
            or run.name in followed
            or run.spec.pipeline_run_ref is not None
            or (made is not None and (made.run, made.deployed_at) not in held)
        ):
            continue
        out.append(run)
    return out


def expires_at(spec: WorkflowRunSpec, status: WorkflowRunStatus) -> datetime | None:
    """When a finished run is deleted (`ttlSecondsAfterFinished`: the run's own, else its workflow's), or None."""
    if status.result is None or status.finished_at is None or spec.pipeline_run_ref is not None:
        return None
    ttl = spec.ttl_seconds_after_finished
    if ttl is None and status.workflow_spec is not None:
        ttl = WorkflowSpec.model_validate(status.workflow_spec).ttl_seconds_after_finished
    return None if ttl is None else parse(status.finished_at) + timedelta(seconds=ttl)


def _finished_order(run: RunView) -> tuple[str, str]:
    return (run.status.finished_at or "", run.name)
