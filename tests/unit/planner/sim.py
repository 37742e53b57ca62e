"""A simulated cluster and a driver for the planner tests.

The cluster performs the actions a plan asks for on in-memory objects, as the adapters do on real ones: SetImage
snapshots the pod template once, sets the image and marks the Deployment `applied`, which then rolls out after a
tick (or gets stuck, or exceeds its progress deadline, as the test says); EnsureJob creates a Job whose result
the test decides; Measure returns the next scripted measurement; events are created once by key.

`Sim.reconcile()` mirrors the handler's `_reconcile_once`: plan, perform what is new, and plan again from the
same input status with the measurements taken, until nothing new is measured; then the status is stored in wire
form and read back, as the API server would. `Sim.run()` repeats that, moving time to the next wake-up, until the
run finishes or waits for a person.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from convoy.api.common import ObjectRef
from convoy.api.decisions import Decision, DecisionAction
from convoy.api.validation import InvalidSpec
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import PhaseRecord, PipelineRunRef, RunPhase, StepRecord, WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.actions import (
    BEFORE_INTENT,
    Action,
    ApplyManifests,
    DeleteDeployment,
    DeleteJob,
    EnsureCopy,
    EnsureJob,
    HandOver,
    MarkBarrier,
    Measure,
    Notify,
    PointService,
    RecordEvent,
    RestoreSnapshot,
    ScaleDeployment,
    SetImage,
    SetPaused,
    SetRouteWeights,
)
from convoy.planner.cycle import RunIdentity
from convoy.planner.observed import (
    BarrierView,
    JobResult,
    Measurement,
    Observed,
    Outcome,
    Provenance,
    Refusal,
    Route,
    Workload,
)
from convoy.planner.run import Plan, awaits_confirmation, plan

from .builders import DEPLOYMENT, NAMESPACE, OLD_IMAGE, RUN_NAME

A = TypeVar("A")
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
RUN = RunIdentity(RUN_NAME, NAMESPACE)
TICK = timedelta(seconds=5)
MAX_PLANS = 5  # as the handler: plans per reconcile while measurements come back
PERSON_WAITS = {RunPhase.WAITING_FOR_APPROVAL, RunPhase.WAITING_FOR_INTERVENTION, RunPhase.PAUSED}

SUCCEEDED = JobResult(succeeded=True)
FAILED = JobResult(failed=True, message="BackoffLimitExceeded")


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


class Rollout(StrEnum):
    """How a Deployment's rollout goes: done after a tick, never done, or past its progress deadline."""

    STEADY = "Steady"
    ROLLING = "Rolling"
    STUCK = "Stuck"
    DEADLINE_EXCEEDED = "DeadlineExceeded"


@dataclass
class Deployment:
    namespace: str
    name: str
    image: str
    applied: str | None = None
    replicas: int = 3
    generation: int = 1
    rollout: Rollout = Rollout.STEADY
    available: int | None = None  # pods available while a rollout goes on (default: one short)
    paused: bool = False
    deleting: bool = False  # deleted, and kept until the garbage collector has orphaned its dependents

    def workload(self) -> Workload:
        if self.rollout is Rollout.STEADY:
            return Workload(
                self.namespace,
                self.name,
                generation=self.generation,
                observed_generation=self.generation,
                replicas=self.replicas,
                status_replicas=self.replicas,
                updated_replicas=self.replicas,
                ready_replicas=self.replicas,
                available_replicas=self.replicas,
                image=self.image,
                applied=self.applied,
                paused=self.paused,
                deleting=self.deleting,
            )
        return Workload(
            self.namespace,
            self.name,
            generation=self.generation,
            observed_generation=self.generation,
            replicas=self.replicas,
            status_replicas=self.replicas + 1,
            updated_replicas=1,
            ready_replicas=self.replicas,
            available_replicas=self.replicas - 1 if self.available is None else self.available,
            image=self.image,
            applied=self.applied,
            paused=self.paused,
            deleting=self.deleting,
            progress_deadline_exceeded=self.rollout is Rollout.DEADLINE_EXCEEDED,
        )


@dataclass
class Cluster:
    """In-memory objects and what the test scripts: how rollouts go, how jobs end, what measurements say."""

    deployments: dict[str, Deployment] = field(default_factory=dict)
    rollouts: dict[str, Rollout] = field(default_factory=dict)  # by deployment name: how its next rollout goes
    job_outcomes: dict[str, JobResult | None] = field(default_factory=dict)  # by job name; None: keeps running
    job_default: JobResult | None = SUCCEEDED
    measurements: deque[Measurement] = field(default_factory=deque)  # consumed in order; then Success
    barriers: dict[str, BarrierView] = field(default_factory=dict)
    snapshots: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, JobResult | None] = field(default_factory=dict)  # None: running
    created_jobs: list[EnsureJob] = field(default_factory=list)
    measured: list[Measure] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)
    events: dict[str, RecordEvent] = field(default_factory=dict)
    event_log: list[RecordEvent] = field(default_factory=list)  # every RecordEvent performed, repeats included
    notified: dict[str, Notify] = field(default_factory=dict)
    changes: list[SetImage | RestoreSnapshot | HandOver] = field(
        default_factory=list
    )  # changes that patched a Deployment
    changed: bool = False  # an object changed since the last observation: a watch event is on its way
    routes: dict[str, dict[str, int]] = field(default_factory=dict)  # by "namespace/route": weight per Service
    route_headers: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    services: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # selectors Convoy set
    refusals: dict[type[Action], Refusal] = field(default_factory=dict)  # what the API server refuses for good

    @classmethod
    def with_deployments(cls, *names: str, image: str = OLD_IMAGE) -> Cluster:
        return cls(deployments={f"{NAMESPACE}/{n}": Deployment(NAMESPACE, n, image) for n in names})

    def deployment(self, name: str = DEPLOYMENT, namespace: str = NAMESPACE) -> Deployment:
        return self.deployments[f"{namespace}/{name}"]

    def script_measurements(self, *outcomes: Outcome) -> None:
        self.measurements.extend(Measurement(o, f"measured {o.value}") for o in outcomes)

    def observe(self, *, queued_behind: tuple[str, ...], in_pipeline: bool) -> Observed:
        self.changed = False
        return Observed(
            workloads={k: d.workload() for k, d in self.deployments.items()},
            routes={k: Route(weights=dict(w)) for k, w in self.routes.items()},
            services={k: dict(v) for k, v in self.services.items()},
            jobs={name: result or JobResult() for name, result in self.jobs.items()},
            barriers=dict(self.barriers),
            queued_behind=queued_behind,
            in_pipeline=in_pipeline,
        )

    def busy(self) -> bool:
        """Something changed, or will change by itself on the next tick."""
        rolling = any(d.rollout is Rollout.ROLLING for d in self.deployments.values())
        return self.changed or rolling or any(r is None and self._outcome(n) is not None for n, r in self.jobs.items())

    def tick(self) -> None:
        for d in self.deployments.values():
            if d.rollout is Rollout.ROLLING:
                d.rollout = Rollout.STEADY
        for name, result in self.jobs.items():
            if result is None:
                self.jobs[name] = self._outcome(name)

    def _outcome(self, name: str) -> JobResult | None:
        return self.job_outcomes.get(name, self.job_default)

    def perform_or_refuse(self, action: Action, measurements: dict[str, Measurement]) -> Refusal | None:
        """As handlers/execute.py: a refusal comes back instead of the action taking effect."""
        refusal = self.refusals.get(type(action))
        if refusal is None:
            self.perform(action, measurements)
        return refusal

    def perform(self, action: Action, measurements: dict[str, Measurement]) -> None:
        match action:
            case SetImage():
                self._set_image(action)
            case RestoreSnapshot():
                self._restore(action)
            case EnsureJob():
                if action.name not in self.jobs:
                    self.jobs[action.name], self.changed = None, True
                    self.created_jobs.append(action)
            case DeleteJob():
                self.jobs.pop(action.name, None)
            case Measure():
                self.measured.append(action)
                measurements[action.key] = (
                    self.measurements.popleft() if self.measurements else Measurement(Outcome.SUCCESS, "ok")
                )
            case Notify():
                self.notified.setdefault(action.key, action)
            case RecordEvent():
                self.event_log.append(action)
                self.events.setdefault(action.key, action)
            case MarkBarrier():
                self.marks[action.name] = action.state
            case ApplyManifests():
                raise AssertionError("Basic workflows are not simulated")
            case EnsureCopy():
                self._ensure_copy(action)
            case ScaleDeployment():
                d = self.deployments.get(f"{action.namespace}/{action.name}")
                if d is not None and d.replicas != action.replicas:
                    d.replicas, d.generation, self.changed = action.replicas, d.generation + 1, True
                    d.rollout = self.rollouts.get(d.name, Rollout.ROLLING)
            case DeleteDeployment():
                if self.deployments.pop(f"{action.namespace}/{action.name}", None) is not None:
                    self.changed = True
            case HandOver():
                self._hand_over(action)
            case SetPaused():
                d = self.deployments.get(f"{action.namespace}/{action.name}")
                if d is not None and d.paused != action.paused:
                    d.paused, d.generation, self.changed = action.paused, d.generation + 1, True
            case SetRouteWeights():
                key = f"{action.namespace}/{action.route}"
                if key in self.routes:
                    self.routes[key] = {
                        action.stable_service: 100 - action.canary_weight,
                        action.canary_service: action.canary_weight,
                    }
                    self.route_headers[key] = action.header_match
            case PointService():
                key = f"{action.namespace}/{action.service}"
                if self.services.get(key) != action.selector:
                    self.services[key], self.changed = action.selector, True

    def _ensure_copy(self, action: EnsureCopy) -> None:
        key = f"{action.namespace}/{action.name}"
        d = self.deployments.get(key)
        if d is None:
            self.deployments[key] = Deployment(
                action.namespace, action.name, action.image, action.key, action.replicas, rollout=Rollout.ROLLING
            )
            self.changed = True
        elif (d.image, d.replicas, d.applied) != (action.image, action.replicas, action.key):
            d.image, d.replicas, d.applied, d.generation = action.image, action.replicas, action.key, d.generation + 1
            d.rollout, self.changed = self.rollouts.get(d.name, Rollout.ROLLING), True

    def _set_image(self, action: SetImage) -> None:
        d = self.deployments.get(f"{action.namespace}/{action.deployment}")
        if d is None:
            return
        self.snapshots.setdefault(action.snapshot, d.image)
        if d.image == action.image and d.applied == action.key and action.replicas in (None, d.replicas):
            return
        self.changes.append(action)
        if action.replicas is not None and d.replicas != action.replicas:  # in the same patch as the template
            d.replicas, d.generation = action.replicas, d.generation + 1
            d.rollout, self.changed = self.rollouts.get(d.name, Rollout.ROLLING), True
        self._roll(d, action.image, action.key)

    def _hand_over(self, action: HandOver) -> None:
        """As adapters/handover.py, at once: the stable takes the copy's pods (and is left paused), the copy goes."""
        d = self.deployments.get(f"{action.namespace}/{action.deployment}")
        if d is None:
            return
        self.snapshots.setdefault(action.snapshot, d.image)
        if not (d.paused and d.applied == action.key):
            self.changes.append(action)
            d.image, d.applied, d.paused, d.generation = action.image, action.key, True, d.generation + 1
        copy = self.deployments.pop(f"{action.namespace}/{action.copy}", None)
        if copy is not None:  # adopted with its pods running, and grown to the count if short of it
            short = copy.replicas < action.replicas
            d.replicas, d.rollout = (
                action.replicas,
                self.rollouts.get(d.name, Rollout.ROLLING) if short else Rollout.STEADY,
            )
        elif d.replicas != action.replicas:
            d.replicas, d.rollout = action.replicas, self.rollouts.get(d.name, Rollout.ROLLING)
        self.changed = True

    def _restore(self, action: RestoreSnapshot) -> None:
        d = self.deployments.get(f"{action.namespace}/{action.deployment}")
        if d is None or action.snapshot not in self.snapshots or d.applied == action.key:
            return
        self.changes.append(action)
        self._roll(d, self.snapshots[action.snapshot], action.key)

    def _roll(self, d: Deployment, image: str, key: str) -> None:
        self.changed = True
        moved = d.image != image
        d.image, d.applied = image, key
        if moved:
            d.generation += 1
            d.rollout = self.rollouts.get(d.name, Rollout.ROLLING)


@dataclass
class Sim:
    """One WorkflowRun against a simulated cluster, with a clock the test moves."""

    workflow: WorkflowSpec | InvalidSpec
    cluster: Cluster = field(default_factory=lambda: Cluster.with_deployments(DEPLOYMENT))
    variables: dict[str, str] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    in_pipeline: bool = False
    queued_behind: tuple[str, ...] = ()
    now: datetime = T0
    status: WorkflowRunStatus = field(default_factory=WorkflowRunStatus)
    plans: list[Plan] = field(default_factory=list)
    creator: str | None = "creator"
    """Who created the run, as admission recorded it (None: no sealed record)."""
    unsealed: set[int] = field(default_factory=set)
    """Indices of decisions admission did not seal (written while it was bypassed)."""

    @property
    def provenance(self) -> Provenance:
        sealed = frozenset(i for i in range(len(self.decisions)) if i not in self.unsealed)
        return Provenance(sealed=sealed, creator=self.creator)

    @property
    def spec(self) -> WorkflowRunSpec:
        return WorkflowRunSpec(
            workflow_ref=ObjectRef(name="web"),
            variables=self.variables,
            decisions=self.decisions,
            pipeline_run_ref=PipelineRunRef(name="release", stage="web") if self.in_pipeline else None,
        )

    @property
    def last(self) -> Plan:
        return self.plans[-1]

    def plan_once(self) -> Plan:
        """One plan from the stored status, without performing anything (as a pure call)."""
        observed = self.cluster.observe(queued_behind=self._queue(), in_pipeline=self.in_pipeline)
        observed = replace(observed, provenance=self.provenance)
        return plan(
            run=RUN, spec=self.spec, workflow=self.workflow, status=self.status, observed=observed, now=self.now
        )

    def _queue(self) -> tuple[str, ...]:
        return () if self.status.started_at else self.queued_behind

    def reconcile(self, *, write_conflicts: bool = False, dies_after_write: bool = False) -> Plan:
        """As the handler's `_reconcile_once`: plan; perform the reads and deliveries and plan again with what they
        return; write the status (intent); then perform the changes, and plan again if the API refused one.
        `write_conflicts`: the status write fails with a 409, so nothing after it happens. `dies_after_write`: the
        operator is killed between the status write and the changes."""
        observed = self.cluster.observe(queued_behind=self._queue(), in_pipeline=self.in_pipeline)
        observed = replace(observed, provenance=self.provenance)
        done: list[Action] = []
        measurements: dict[str, Measurement] = {}
        refused: dict[str, Refusal] = {}
        performed: set[str] = set()
        result: Plan | None = None
        for _ in range(MAX_PLANS):
            result = plan(
                run=RUN, spec=self.spec, workflow=self.workflow, status=self.status, observed=observed, now=self.now
            )
            known = len(refused)
            self._perform(result, done, measurements, refused, before_intent=True)
            if len(refused) > known or len(measurements) > len(observed.measurements):
                observed = replace(observed, measurements=dict(measurements), refused=dict(refused))
                continue
            if write_conflicts:
                break
            self.status = WorkflowRunStatus.model_validate(result.status.to_wire())
            if dies_after_write:
                break
            self._perform(result, done, measurements, refused, before_intent=False, performed=performed)
            if len(refused) == known and not awaits_confirmation(result.status, performed):
                break
            observed = replace(observed, refused=dict(refused), confirmed=frozenset(performed))
        assert result is not None
        self.plans.append(result)
        return result

    def _perform(
        self,
        result: Plan,
        done: list[Action],
        measurements: dict[str, Measurement],
        refused: dict[str, Refusal],
        *,
        before_intent: bool,
        performed: set[str] | None = None,
    ) -> None:
        for position, action in enumerate(result.actions):
            if action in done or isinstance(action, BEFORE_INTENT) is not before_intent:
                continue
            refusal = self.cluster.perform_or_refuse(action, measurements)
            origin = result.origin(position)
            if refusal is not None and origin is not None:
                refused[origin] = refusal
                return
            done.append(action)
            if origin is not None and performed is not None:
                performed.add(origin)

    def decide(
        self,
        action: str,
        step: str | None = None,
        by: str = "alice",
        groups: Iterable[str] = (),
        reason: str | None = None,
    ) -> Plan:
        """A person appends a decision to the run; the operator reconciles."""
        self.decisions.append(
            Decision(action=DecisionAction(action), step=step, by=by, groups=list(groups), reason=reason)
        )
        return self.reconcile()

    def advance(self, by: timedelta) -> None:
        """Time passes and the cluster moves on."""
        self.now += by
        self.cluster.tick()

    def cycle(self, *, wait_out: bool = False) -> bool:
        """One reconcile, then time moves on to what happens next: a tick while the cluster is busy, else the
        planner's wake-up. False when there is nothing to move on to: the run has finished, or waits for a
        person (unless `wait_out`: nobody decides, and time runs on to the deadline of such a wait)."""
        woken = self.reconcile().wake_at
        if self.status.result is not None or (self.status.phase in PERSON_WAITS and not wait_out):
            return False
        if self.cluster.busy():
            self.now = min(self.now + TICK, woken) if woken else self.now + TICK
        elif woken is not None:
            self.now = woken
        else:
            return False
        self.cluster.tick()
        return True

    def run(self, *, wait_out: bool = False, max_cycles: int = 200) -> WorkflowRunStatus:
        """Cycle until the run has finished or waits for a person."""
        if self.status.result is not None:
            return self.status
        for _ in range(max_cycles):
            if not self.cycle(wait_out=wait_out):
                return self.status
        raise AssertionError(f"the run did not settle in {max_cycles} cycles: {self.status.message}")

    # Reading the status.

    def record(self, phase: str, step: str) -> StepRecord:
        return find(self.status.phases, phase, step)

    def rollback_record(self, phase: str, step: str = "rollback") -> StepRecord:
        return find(self.status.rollback, phase, step)

    def event_reasons(self) -> list[str]:
        """Reasons of the Events created, in order of creation."""
        return [e.reason for e in self.cluster.events.values()]


def find(phases: Iterable[PhaseRecord], phase: str, step: str) -> StepRecord:
    for p in phases:
        if p.name == phase:
            for s in p.steps:
                if s.name == step:
                    return s
    raise AssertionError(f"no record of {phase}/{step}")


def reasons(result: Plan) -> list[str]:
    """Reasons of the Events a plan asks for."""
    return [a.reason for a in result.actions if isinstance(a, RecordEvent)]


def actions_of(result: Plan, kind: type[A]) -> list[A]:
    return [a for a in result.actions if isinstance(a, kind)]
