"""The Prometheus series about WorkflowRuns (docs/metrics.md describes every series the operator serves).

Two kinds, fed two ways. What the runs *are* now — how many are in each phase, the weight of each canary in
flight, how many wait for an approval — is read from the run index when Prometheus scrapes, so it is right
after a restart and forgets a deleted run by itself. What *happened* — a step or a phase finished, and how long
it took — is observed once, after the status write that finished it, from the difference between the status the
reconcile read and the one it wrote (`finished`, pure).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from convoy.api.workflow import WorkflowType
from convoy.api.workflowrun import PhaseRecord, RunPhase, StepRecord, WorkflowRunStatus
from convoy.handlers.index import Entry, RunIndex
from convoy.planner.timeutil import parse

# Steps range from a notification (no time) to an approval (up to a day by default).
BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600)
STEP_SECONDS = Histogram(
    "convoy_step_duration_seconds",
    "Time from a step's start to its end, retries included; observed once, when the step finishes.",
    ["type", "kind", "part", "state"],
    buckets=BUCKETS,
)
PHASE_SECONDS = Histogram(
    "convoy_phase_duration_seconds",
    "Time from a phase's start to its end; observed once, when the phase finishes.",
    ["type", "part", "state"],
    buckets=BUCKETS,
)


class Timed(StrEnum):
    STEP = "step"
    PHASE = "phase"


@dataclass(frozen=True)
class Finished:
    """A step or a phase that one status write finished, with the labels of its histogram."""

    what: Timed
    labels: tuple[str, ...]
    seconds: float


def finished(old: WorkflowRunStatus, new: WorkflowRunStatus) -> list[Finished]:
    """Every step and phase whose end `new` records and `old` did not. A step that never started (skipped) has no
    duration and is left out. Labels: the workflow type, the step kind, the part of the run (`deploy` or
    `rollback`) and the final state. Pure."""
    kind = new.type.value if new.type else ""
    out: list[Finished] = []
    for part, old_phases, new_phases in (
        ("deploy", old.phases, new.phases),
        ("rollback", old.rollback, new.rollback),
    ):
        for index, phase in enumerate(new_phases):
            before = old_phases[index] if index < len(old_phases) else None
            if before is not None and before.name != phase.name:
                before = None
            for step_index, step in enumerate(phase.steps):
                was = before.steps[step_index] if before is not None and step_index < len(before.steps) else None
                seconds = _newly_finished(was, step)
                if seconds is not None:
                    out.append(Finished(Timed.STEP, (kind, step.kind, part, step.state.value), seconds))
            seconds = _newly_finished(before, phase)
            if seconds is not None:
                out.append(Finished(Timed.PHASE, (kind, part, phase.state.value), seconds))
    return out


def _newly_finished(old: StepRecord | PhaseRecord | None, new: StepRecord | PhaseRecord) -> float | None:
    if new.started_at is None or new.finished_at is None or (old is not None and old.finished_at is not None):
        return None
    return max(0.0, (parse(new.finished_at) - parse(new.started_at)).total_seconds())


def observe_write(old: WorkflowRunStatus, new: WorkflowRunStatus) -> None:
    """Observe the durations of what the write of `new` over `old` finished; called once per status write."""
    for item in finished(old, new):
        histogram = STEP_SECONDS if item.what is Timed.STEP else PHASE_SECONDS
        histogram.labels(*item.labels).observe(item.seconds)


@dataclass(frozen=True)
class RunSeries:
    """The run gauges' samples, by their label values."""

    runs: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # namespace, workflow, type, phase
    weights: dict[tuple[str, str], int] = field(default_factory=dict)  # namespace, run
    approvals: Counter[str] = field(default_factory=Counter)  # namespace


def run_series(entries: Iterable[Entry]) -> RunSeries:
    """Runs by workflow, type and phase; the weight of each canary run in flight (none once it ended); the runs
    waiting for an approval. Pure."""
    series = RunSeries()
    for e in entries:
        series.runs[(e.namespace, e.workflow, e.type, e.phase)] += 1
        if e.finished:
            continue
        if e.type == WorkflowType.CANARY.value and e.weight is not None:
            series.weights[(e.namespace, e.name)] = e.weight
        if e.phase == RunPhase.WAITING_FOR_APPROVAL.value:
            series.approvals[e.namespace] += 1
    return series


class RunCollector(Collector):
    """Serves the run gauges from the index at each scrape."""

    def __init__(self, index: RunIndex) -> None:
        self._index = index

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(_families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # The metrics server answers from its own thread: take a snapshot of the entries in one step.
        series = run_series(tuple(self._index.entries.values()))
        runs, weights, approvals = _families()
        for labels, count in sorted(series.runs.items()):
            runs.add_metric(labels, count)
        for (namespace, name), weight in sorted(series.weights.items()):
            weights.add_metric([namespace, name], weight)
        for namespace, count in sorted(series.approvals.items()):
            approvals.add_metric([namespace], count)
        return iter((runs, weights, approvals))


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "convoy_workflow_runs",
            "WorkflowRuns by workflow, workflow type and phase (finished runs count until deleted).",
            labels=["namespace", "workflow", "type", "phase"],
        ),
        GaugeMetricFamily(
            "convoy_canary_weight",
            "Current canary weight (percent) of each Canary run in flight; gone once the run ended.",
            labels=["namespace", "run"],
        ),
        GaugeMetricFamily(
            "convoy_approvals_waiting",
            "WorkflowRuns waiting for an approval.",
            labels=["namespace"],
        ),
    )


def report_runs(index: RunIndex) -> None:
    """Serve the run gauges of `index` with the process's other metrics. Once per process."""
    REGISTRY.register(RunCollector(index))
