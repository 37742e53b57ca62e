"""Workflow: how a service is deployed. A Workflow is a template; a WorkflowRun executes it once."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from convoy.api.common import ConvoyModel, DNSLabel, Duration, ResourceName, Variable, VariableName
from convoy.api.steps import FailureStrategy, NotifyStep, Step


class WorkflowType(StrEnum):
    BASIC = "Basic"
    ROLLING = "Rolling"
    CANARY = "Canary"
    BLUE_GREEN = "BlueGreen"
    MULTI_SERVICE = "MultiService"
    BUILD = "Build"


class Target(ConvoyModel):
    """What a workflow (or one MultiService phase) deploys, in the run's namespace unless `namespace` is set.

    `deployment`, `service` and `namespace` may use variables, so one Workflow deploys many services
    (`${workflow.variables.service}`); each run renders them once, when it starts, and the rendered value must be a
    Kubernetes name."""

    deployment: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="The Deployment the artifact goes into; may use variables, e.g. '${workflow.variables.service}'.",
    )
    service: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="The Service in front of the Deployment (Canary replica split); may use variables.",
    )
    manifests: list[dict[str, Any]] | None = Field(
        default=None, max_length=50, description="Basic only: Kubernetes objects applied as they are (templated)."
    )
    namespace: str | None = Field(
        default=None,
        max_length=63,
        description="Namespace of the target; may use variables, e.g. '${workflow.variables.region}'.",
    )


class Artifact(ConvoyModel):
    """The image a run deploys; may use variables (`registry/web:${workflow.variables.version}`)."""

    image: str = Field(min_length=1, max_length=512)
    container: DNSLabel | None = Field(
        default=None, description="The container that gets the image; default: the first."
    )


class CanarySplit(StrEnum):
    REPLICAS = "Replicas"
    TRAFFIC_ROUTE = "TrafficRoute"


class HeaderMatch(ConvoyModel):
    """Send requests with this header (exact value) to the canary whatever the weight."""

    name: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
    value: str = Field(min_length=1, max_length=4096)


class TrafficRoute(ConvoyModel):
    """Gateway API routing: Convoy sets the backend weights of the stable and canary Services in an HTTPRoute."""

    http_route: ResourceName = Field(description="The HTTPRoute whose first rule Convoy manages.")
    stable_service: ResourceName = Field(description="Service that selects the stable pods.")
    canary_service: ResourceName = Field(description="Service that selects the canary pods.")
    header_match: list[HeaderMatch] = Field(default_factory=list, max_length=8)


class Instances(StrEnum):
    SAME_AS_RUNNING = "SameAsRunning"
    FIXED = "Fixed"


class ResizeStrategy(StrEnum):
    TOGETHER = "Together"
    NEW_FIRST = "NewFirst"
    OLD_DOWN_FIRST = "OldDownFirst"


class ServiceSetup(ConvoyModel):
    """How many instances the service runs during the canary (the phases' weights are percentages of it), and in
    which order a phase moves pods between the old and the new version, as the reference's ECS Service Setup.

    `SameAsRunning` (default): the instances already running, counted when the run starts. `Fixed`: `fixedCount`,
    whatever runs now; the promotion leaves the service at that count. With a HorizontalPodAutoscaler on the
    target, the total follows the HPA instead. Resize strategies, for every change of
    weight (forward or back): `Together` (default) scales both at once; `NewFirst` adds the growing side's pods and
    waits until they are ready before removing the shrinking side's (capacity never drops, briefly more pods);
    `OldDownFirst` removes first and adds once they are gone (never more pods, briefly less capacity). The
    promotion (weight 100) always brings the stable Deployment up with the new version before the canary goes."""

    instances: Instances = Field(default=Instances.SAME_AS_RUNNING, description="SameAsRunning or Fixed.")
    fixed_count: int | None = Field(
        default=None, ge=1, le=1000, description="Fixed only: the number of instances the service runs."
    )
    resize_strategy: ResizeStrategy = Field(
        default=ResizeStrategy.TOGETHER, description="Together, NewFirst (add, then remove) or OldDownFirst."
    )

    @model_validator(mode="after")
    def _count_when_fixed(self) -> ServiceSetup:
        if (self.instances is Instances.FIXED) != (self.fixed_count is not None):
            raise ValueError("set fixedCount exactly when instances is Fixed")
        return self


class CanaryStrategy(ConvoyModel):
    """How a Canary workflow splits traffic between the stable and canary pods."""

    split: CanarySplit = Field(
        default=CanarySplit.REPLICAS,
        description="Replicas: traffic follows pod counts behind one Service. TrafficRoute: HTTPRoute weights.",
    )
    max_surge: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Replica split: extra pods allowed above the Deployment's replicas while the canary runs.",
    )
    traffic_route: TrafficRoute | None = None
    setup: ServiceSetup | None = Field(
        default=None,
        description="The service's size during the canary and the resize order; default: the instances already "
        "running, both sides resized together.",
    )


class BlueGreenStrategy(ConvoyModel):
    """Two colored Deployments behind an active and a preview Service."""

    active_service: ResourceName = Field(description="The Service clients use; swapped to the new color.")
    preview_service: ResourceName = Field(description="The Service that reaches the new color before the swap.")
    scale_down_delay: Duration = Field(
        default="30s", description="How long the old color stays up after the swap, for an instant rollback."
    )


class Phase(ConvoyModel):
    """A group of steps. Phases run strictly in order; rollback undoes them in reverse order."""

    name: DNSLabel
    weight: int | None = Field(default=None, ge=0, le=100, description="Canary only: the percentage this phase sets.")
    target: Target | None = Field(default=None, description="MultiService only: what this phase deploys.")
    steps: list[Step] = Field(min_length=1, max_length=50, description="Run one after the other, in order.")
    rollback_steps: list[Step] | None = Field(
        default=None,
        max_length=50,
        description="Run when the workflow rolls back, phases in reverse order. Default: one 'rollback' step.",
    )


class ConcurrencyPolicy(StrEnum):
    QUEUE = "Queue"
    ALLOW = "Allow"


class Concurrency(ConvoyModel):
    """Queue (default): one active run per target, later runs wait in creation order. Allow: no limit."""

    policy: ConcurrencyPolicy = ConcurrencyPolicy.QUEUE


class NotificationEvent(StrEnum):
    STARTED = "Started"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    WAITING_FOR_APPROVAL = "WaitingForApproval"


class Notification(ConvoyModel):
    """Notify when the run reaches one of `events`."""

    events: list[NotificationEvent] = Field(min_length=1, max_length=6)
    notify: NotifyStep


class TriggerSource(StrEnum):
    POD_TEMPLATE = "PodTemplate"


class Trigger(ConvoyModel):
    """Start a run by itself when the target changes, e.g. an image bumped in git and synced by Argo CD or Flux.

    A Canary workflow with a trigger keeps its target Deployment paused between runs, so a template changed in
    git does not roll out on its own: the run's canary runs the new template, promotion unpauses the Deployment,
    and the run pauses it again when it ends. See docs/gitops.md for the fields Convoy manages."""

    source: TriggerSource = Field(description="PodTemplate: the target Deployment's pod template changed.")
    image_variable: VariableName | None = Field(
        default=None, description="The workflow variable that receives the image found in the changed pod template."
    )
    variables: dict[str, str] = Field(default_factory=dict, description="Variable values for the started run.")


class WorkflowSpec(ConvoyModel):
    """How a service is deployed: what, in which phases and steps, and what to do when something fails."""

    type: WorkflowType = Field(description="Basic, Rolling, Canary, BlueGreen, MultiService or Build.")
    service_account_name: ResourceName | None = Field(
        default=None,
        description="The ServiceAccount, in this object's namespace, that Convoy acts as for every change it makes "
        "(RBAC decides what it may touch); empty: the operator's default (convoy-runner).",
    )
    target: Target | None = None
    artifact: Artifact | None = None
    variables: list[Variable] = Field(
        default_factory=list, max_length=50, description="Template variables; each run gives their values."
    )
    canary: CanaryStrategy | None = None
    blue_green: BlueGreenStrategy | None = None
    phases: list[Phase] = Field(
        min_length=1, max_length=20, description="Run strictly in order; on rollback, undone in reverse order."
    )
    failure_strategies: list[FailureStrategy] = Field(
        default_factory=list, max_length=8, description="Used when a failing step has no matching strategy of its own."
    )
    steady_state_timeout: Duration = Field(
        default="10m", description="How long a deploy step waits for the workload to become steady."
    )
    concurrency: Concurrency = Field(default_factory=Concurrency)
    notifications: list[Notification] = Field(default_factory=list, max_length=10)
    triggers: list[Trigger] = Field(default_factory=list, max_length=4)
    revision_history_limit: int = Field(
        default=10, ge=1, le=50, description="How many successful deployments status.history keeps (newest last)."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete each of its runs this long after it finished, unless the run sets its own; empty: keep.",
    )
    run_history_limit: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="How many finished runs of this Workflow to keep; older ones are deleted (the revision history "
        "keeps their deployments, and the newest successful run stays for a Rollback). Empty: keep all.",
    )
