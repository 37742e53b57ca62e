"""What the adapters saw in the cluster, as plain frozen data: the planner's only view of the world."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


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
class Route:
    """A traffic route as seen: the weight of each backend Service of the rule Convoy manages."""

    weights: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    succeeded: bool = False
    failed: bool = False
    message: str = ""


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
class Observed:
    """Everything the planner may look at this cycle. Keys: workloads, routes and services (their selectors) by
    'namespace/name', jobs by name, measurements by the key of the Measure action that produced them, barriers by
    name."""

    workloads: Mapping[str, Workload] = field(default_factory=dict)
    jobs: Mapping[str, JobResult] = field(default_factory=dict)
    measurements: Mapping[str, Measurement] = field(default_factory=dict)
    barriers: Mapping[str, BarrierView] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)
    services: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    queued_behind: tuple[str, ...] = ()
    in_pipeline: bool = False
    others_in_flight: tuple[str, ...] = ()
    """For a run that succeeded and is asked to roll back: the other unfinished runs of its targets."""

    def workload(self, namespace: str, name: str) -> Workload | None:
        return self.workloads.get(f"{namespace}/{name}")

    def route(self, namespace: str, name: str) -> Route | None:
        return self.routes.get(f"{namespace}/{name}")
