"""What the adapters saw in the cluster, as plain frozen data: the planner's only view of the world."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from convoy.api.steps import ErrorKind


@dataclass(frozen=True)
class Workload:
    """A Deployment as seen: enough to tell whether a change was applied and rolled out."""

    namespace: str
    name: str
    generation: int = 1
    observed_generation: int = 1
    replicas: int = 1
    status_replicas: int = 1
    updated_replicas: int = 1
    ready_replicas: int = 1
    available_replicas: int = 1
    image: str | None = None
    applied: str | None = None
    progress_deadline_exceeded: bool = False
    selector: Mapping[str, str] = field(default_factory=dict)
    paused: bool = False
    deleting: bool = False

    @property
    def scaled(self) -> bool:
        """The controller has seen the latest spec and runs `replicas` ready, available pods and no more — of
        whichever template (a paused canary stable keeps the old one while git's new one waits)."""
        return (
            self.observed_generation >= self.generation
            and self.ready_replicas == self.replicas
            and self.available_replicas == self.replicas
            and self.status_replicas == self.replicas
        )

    @property
    def rolled_out(self) -> bool:
        """The controller has seen the latest spec and every desired pod is updated, ready and available, with no
        old pod left."""
        return (
            self.observed_generation >= self.generation
            and self.updated_replicas == self.replicas
            and self.ready_replicas == self.replicas
            and self.available_replicas == self.replicas
            and self.status_replicas == self.replicas
        )


@dataclass(frozen=True)
class Autoscaler:
    """A HorizontalPodAutoscaler that scales a Deployment: its bounds now, and the bounds a canary narrowed it from
    (kept on the HPA itself, so a run that stopped half-way leaves them for the next run to give back)."""

    name: str
    min_replicas: int
    max_replicas: int
    original: tuple[int, int] | None = None


@dataclass(frozen=True)
class Route:
    """A traffic route as seen: the weight of each backend Service of the rule Convoy manages."""

    weights: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    """A Job as seen. `termination_messages`: once it succeeded, what each container of its succeeded pod wrote to
    its termination message (in container order; None when that pod could not be found)."""

    succeeded: bool = False
    failed: bool = False
    message: str = ""
    termination_messages: tuple[str, ...] | None = ()


class Outcome(StrEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True)
class Measurement:
    """The result of one verification measurement (http call, Prometheus query)."""

    outcome: Outcome
    message: str = ""


@dataclass(frozen=True)
class BarrierView:
    """Where the participants of a barrier stand, from their annotations."""

    all_reached: bool = False
    failed_by: str | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """The API server refused an action of a step for good (RBAC, validation, a missing object)."""

    error: ErrorKind
    message: str


@dataclass(frozen=True)
class Provenance:
    """What Convoy's admission webhook vouches for, as the handler checked it against the seals: the indices of
    the run's decisions it sealed (the planner acts on no other), and who created the run (None: not recorded)."""

    sealed: frozenset[int] = frozenset()
    creator: str | None = None


@dataclass(frozen=True)
class SlotWait:
    """A run that may not start yet because as many runs change workloads as the operator allows: its place among
    the runs waiting for a slot (1: the next to start) and why, in words."""

    position: int
    reason: str


@dataclass(frozen=True)
class Observed:
    """Everything the planner may look at this cycle. Keys: workloads, routes and services (their selectors) by
    'namespace/name', jobs by name, measurements by the key of the Measure action that produced them, barriers by
    name."""

    workloads: Mapping[str, Workload] = field(default_factory=dict)
    jobs: Mapping[str, JobResult] = field(default_factory=dict)
    measurements: Mapping[str, Measurement] = field(default_factory=dict)
    barriers: Mapping[str, BarrierView] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)
    autoscalers: Mapping[str, tuple[Autoscaler, ...]] = field(default_factory=dict)
    """The HPAs that scale each observed canary target, by the target's 'namespace/name'."""
    services: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    queued_behind: tuple[str, ...] = ()
    slot_wait: SlotWait | None = None
    """Set while the operator's limit on runs progressing at once keeps this run from starting."""
    in_pipeline: bool = False
    others_in_flight: tuple[str, ...] = ()
    """For a run that succeeded and is asked to roll back: the other unfinished runs of its targets."""
    provenance: Provenance = field(default_factory=Provenance)
    refused: Mapping[str, Refusal] = field(default_factory=dict)
    """Actions the API server refused for good this cycle, by the key of the step attempt that asked for them."""
    confirmed: frozenset[str] = frozenset()
    """Step attempts whose changes the API server accepted this cycle (after the status recorded them)."""

    def workload(self, namespace: str, name: str) -> Workload | None:
        return self.workloads.get(f"{namespace}/{name}")

    def autoscalers_of(self, namespace: str, deployment: str) -> tuple[Autoscaler, ...]:
        return self.autoscalers.get(f"{namespace}/{deployment}", ())

    def route(self, namespace: str, name: str) -> Route | None:
        return self.routes.get(f"{namespace}/{name}")
