"""One planning cycle's working state: the run, its rendered workflow, a private copy of the status, what was
observed, the time, and the actions and wake-up times gathered so far."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from convoy.api.steps import RollbackStep, Step
from convoy.api.workflow import Phase, WorkflowSpec, WorkflowType
from convoy.api.workflowrun import PhaseRecord, StepRecord, StepState, WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.actions import Action, RecordEvent
from convoy.planner.observed import Observed
from convoy.planner.timeutil import stamp

MESSAGE_LIMIT = 1000
DEFAULT_ROLLBACK = (Step(name="rollback", rollback=RollbackStep()),)


@dataclass(frozen=True)
class RunIdentity:
    name: str
    namespace: str
    generation: int = 1


@dataclass(frozen=True)
class Position:
    """Where a step stands: its phase, its spec and its record (records are mutated in place)."""

    phase_index: int
    phase: Phase
    step: Step
    record: StepRecord
    phase_record: PhaseRecord
    rollback: bool

    @property
    def key(self) -> str:
        part = "rollback" if self.rollback else "deploy"
        return f"{self.phase.name}/{part}/{self.step.name}/{self.record.attempts}"


@dataclass
class Cycle:
    run: RunIdentity
    spec: WorkflowRunSpec
    workflow: WorkflowSpec
    status: WorkflowRunStatus
    observed: Observed
    now: datetime
    actions: list[Action] = field(default_factory=list)
    origins: list[str | None] = field(default_factory=list)
    """For each action, the key of the step attempt that asked for it (None: the run itself)."""
    wake: list[datetime] = field(default_factory=list)
    step_key: str | None = None
    """The step attempt being evaluated, so its actions can be traced back to it when the API refuses them."""

    @property
    def stamp(self) -> str:
        return stamp(self.now)

    def act(self, action: Action) -> None:
        self.actions.append(action)
        self.origins.append(self.step_key)

    def wake_at(self, moment: datetime) -> None:
        self.wake.append(moment)

    def event(self, key: str, reason: str, message: str, *, warning: bool = False) -> None:
        self.act(RecordEvent(key=f"{self.run.name}/{key}", reason=reason, message=clip(message), warning=warning))

    def phases_of(self, *, rollback: bool) -> Iterator[tuple[int, Phase, PhaseRecord]]:
        if not rollback:
            yield from ((i, p, self.status.phases[i]) for i, p in enumerate(self.workflow.phases))
            return
        by_name = {p.name: (i, p) for i, p in enumerate(self.workflow.phases)}
        for record in self.status.rollback:
            i, phase = by_name[record.name]
            yield i, phase, record

    def steps_of(self, phase: Phase, *, rollback: bool) -> tuple[Step, ...]:
        if not rollback:
            return tuple(phase.steps)
        return tuple(phase.rollback_steps) if phase.rollback_steps is not None else DEFAULT_ROLLBACK

    def current(self) -> Position | None:
        """The first step, in order, that has not finished; None when every step has."""
        rollback = self.status.rolling_back
        for index, phase, phase_record in self.phases_of(rollback=rollback):
            for step, record in zip(self.steps_of(phase, rollback=rollback), phase_record.steps, strict=True):
                if not finished(record):
                    return Position(index, phase, step, record, phase_record, rollback)
        return None


def finished(record: StepRecord) -> bool:
    """Done with, one way or another. A Failed step is done once its failure was handled (`finishedAt` set and
    nothing awaited); before that, or while it awaits a retry or an intervention, it is still current."""
    return record.state in (StepState.SUCCEEDED, StepState.IGNORED, StepState.SKIPPED, StepState.ABORTED) or (
        record.state is StepState.FAILED and record.awaiting is None and record.finished_at is not None
    )


def target_of(workflow: WorkflowSpec, phase: Phase, run_namespace: str) -> tuple[str, str | None]:
    """(namespace, deployment) a phase deploys to."""
    target = phase.target if workflow.type is WorkflowType.MULTI_SERVICE else workflow.target
    if target is None:
        return run_namespace, None
    return target.namespace or run_namespace, target.deployment


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def label_value(name: str) -> str:
    """An object's name as a label value (at most 63 characters, where names may have 253): hash-shortened when
    too long. Labels are written and selected with this same function, so both sides agree."""
    return object_name(name)


def object_name(*parts: str, limit: int = 63) -> str:
    """A DNS-1123 name from parts, shortened with a stable hash suffix when too long."""
    name = "-".join(parts).lower()
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"
