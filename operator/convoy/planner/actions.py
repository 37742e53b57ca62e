"""Actions: the effects the planner asks for. Each is idempotent and carries the key that makes it so (run +
phase/step + attempt), so performing it again after a restart changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convoy.api.common import SecretKeyRef
from convoy.api.steps import HttpCheck, PrometheusCheck


@dataclass(frozen=True)
class SetImage:
    """Put `image` into the Deployment's container, after saving its pod template as snapshot `snapshot` (once:
    an existing snapshot is never overwritten). Marks the Deployment with `applied` = key. With `replicas`, the
    same patch sets them: a promotion that changed the template and the count in two patches would have the
    Deployment controller spread the new count over both ReplicaSets, starting pods of the old version."""

    namespace: str
    deployment: str
    container: str | None
    image: str
    snapshot: str
    key: str
    replicas: int | None = None


@dataclass(frozen=True)
class ApplyManifests:
    """Server-side apply of the Basic workflow's objects, after snapshotting the ones that already exist."""

    namespace: str
    manifests: tuple[dict[str, Any], ...]
    snapshot: str
    key: str


@dataclass(frozen=True)
class RestoreSnapshot:
    """Put back what snapshot `snapshot` saved (pod template, or applied objects); marks `applied` = key. `undoes`
    is the `applied` mark of the change put back: a Deployment that still carries it, with the snapshot gone, holds
    a change that nothing can put back."""

    namespace: str
    deployment: str | None
    snapshot: str
    key: str
    undoes: str


@dataclass(frozen=True)
class EnsureJob:
    """A batch Job named `name` exists (created once from the template)."""

    namespace: str
    name: str
    template: dict[str, Any]
    backoff_limit: int
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeleteJob:
    namespace: str
    name: str


@dataclass(frozen=True)
class Measure:
    """Take one measurement now; the result comes back as `Observed.measurements[key]`."""

    key: str
    check: HttpCheck | PrometheusCheck


@dataclass(frozen=True)
class Notify:
    """Send `message` to the webhook (URL read from the Secret when sending). `key` is sent as Idempotency-Key."""

    key: str
    message: str
    webhook: SecretKeyRef | None


@dataclass(frozen=True)
class RecordEvent:
    """A Kubernetes Event on the run; `key` names it, so it is created once."""

    key: str
    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class MarkBarrier:
    """Annotate the run with `barrier.convoy.dev/<name>: <state>` (reached, failed or crossed)."""

    name: str
    state: str


@dataclass(frozen=True)
class EnsureCopy:
    """A Deployment `name` copied from `source` (a canary beside stable, a blue/green color) with `image` and
    `replicas` pods, its pods carrying the label `label`, marked `applied` = key. With a `suffix`, the source
    selector's label values get it ('-canary', '-green'), so Services that select the source never select the
    copy; without one both share the source's labels (the replica-split canary behind one Service)."""

    namespace: str
    source: str
    name: str
    image: str
    container: str | None
    replicas: int
    label: tuple[str, str]
    suffix: str | None
    key: str


@dataclass(frozen=True)
class HandOver:
    """Promote a replica-split canary by giving its ReplicaSet, whose `replicas` pods already run the new version,
    to the stable Deployment, so that no pod is started again (adapters/handover.py). Saves the stable's pod template
    as snapshot `snapshot` first, as SetImage does, and marks the stable `applied` = key; leaves it paused, for the
    planner to resume once the stable counts the canary's pods as its own."""

    namespace: str
    deployment: str
    copy: str
    container: str | None
    image: str
    snapshot: str
    key: str
    replicas: int


@dataclass(frozen=True)
class ScaleDeployment:
    namespace: str
    name: str
    replicas: int


@dataclass(frozen=True)
class SetPaused:
    """Pause or resume a Deployment's rollouts (a triggered canary's stable Deployment waits paused between runs)."""

    namespace: str
    name: str
    paused: bool


@dataclass(frozen=True)
class DeleteDeployment:
    namespace: str
    name: str


@dataclass(frozen=True)
class PointService:
    """Set a Service's selector (the canary Service at the canary's pods; blue/green swaps)."""

    namespace: str
    service: str
    selector: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SetRouteWeights:
    """Set the backend weights of the route's main rule, and the header-match rule that always reaches the canary."""

    namespace: str
    route: str
    stable_service: str
    canary_service: str
    canary_weight: int
    header_match: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SetAutoscalerBounds:
    """Set a HorizontalPodAutoscaler's minReplicas and maxReplicas. With `original`, the HPA is annotated with the
    bounds it had before the canary (to give back later); without it, that annotation goes."""

    namespace: str
    name: str
    min_replicas: int
    max_replicas: int
    original: tuple[int, int] | None


Action = (
    SetImage
    | ApplyManifests
    | RestoreSnapshot
    | EnsureJob
    | DeleteJob
    | Measure
    | Notify
    | RecordEvent
    | MarkBarrier
    | EnsureCopy
    | HandOver
    | ScaleDeployment
    | DeleteDeployment
    | SetPaused
    | PointService
    | SetRouteWeights
    | SetAutoscalerBounds
)

BEFORE_INTENT = (Measure, Notify, RecordEvent)
"""Actions performed before a cycle's status write: reads whose results are planned with, and records and
deliveries that a repeat cannot harm (Events have deterministic names, notifications an idempotency key). Every
other action changes the cluster, and is performed only once the plan that asks for it is in the status."""
