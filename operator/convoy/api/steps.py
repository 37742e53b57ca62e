"""Steps: the units of work inside a workflow phase. A step is a tagged union with one field per kind.

Exactly one kind field is set on a step; `kind` names it. Keeping every kind a plain optional field (rather than
a `type:` discriminator) keeps manifests short and the generated schema structural.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import re2
from pydantic import Field, model_validator

from convoy.api.common import ConvoyModel, DNSLabel, Duration, ResourceName, SecretKeyRef


class ErrorKind(StrEnum):
    """Why a step failed; failure strategies match on it."""

    VERIFICATION_FAILED = "VerificationFailed"
    TIMEOUT = "Timeout"
    JOB_FAILED = "JobFailed"
    APPROVAL_REJECTED = "ApprovalRejected"
    BARRIER_FAILED = "BarrierFailed"
    DEPLOYMENT_FAILED = "DeploymentFailed"
    FORBIDDEN = "Forbidden"
    """The API server refused a change as the workflow's ServiceAccount (RBAC, a missing grant)."""
    INVALID = "Invalid"
    """The API server refused a change as invalid (422, 400, an admission policy)."""
    NOT_FOUND = "NotFound"
    """Something the step needs does not exist."""
    CONFLICT = "Conflict"
    """Someone else owns what the step would change, and retrying cannot help."""
    ANY = "Any"


class FailureAction(StrEnum):
    RETRY = "Retry"
    IGNORE = "Ignore"
    ABORT = "Abort"
    ROLLBACK = "Rollback"
    MANUAL_INTERVENTION = "ManualIntervention"


class RetryPolicy(ConvoyModel):
    """How often to attempt a failed step again, and what to do once the attempts are spent."""

    count: int = Field(default=1, ge=1, le=10, description="Attempts after the first one.")
    interval: Duration = Field(default="10s", description="Wait before the first retry.")
    backoff: float = Field(default=2.0, ge=1.0, le=10.0, description="Each wait is the previous one times this.")
    then: FailureAction = Field(
        default=FailureAction.ROLLBACK,
        description="What to do once every retry failed: Ignore, Abort, Rollback or ManualIntervention.",
    )


class ManualInterventionPolicy(ConvoyModel):
    """Wait for a person's decision (retry, ignore, abort, rollback) and take `defaultAction` after `timeout`."""

    timeout: Duration = "1h"
    default_action: FailureAction = Field(
        default=FailureAction.ROLLBACK, description="Taken when nobody decides in time: Ignore, Abort or Rollback."
    )


class FailureStrategy(ConvoyModel):
    """What to do when a step fails with one of `errors`. Step-level strategies win over workflow-level ones."""

    errors: list[ErrorKind] = Field(default_factory=lambda: [ErrorKind.ANY], min_length=1, max_length=8)
    action: FailureAction
    retry: RetryPolicy | None = Field(default=None, description="Settings of the Retry action.")
    manual_intervention: ManualInterventionPolicy | None = Field(
        default=None, description="Settings of the ManualIntervention action."
    )


class DeployStep(ConvoyModel):
    """Deploy the artifact the way the workflow type says: roll the Deployment (Rolling), set the phase's canary
    weight (Canary), stage the new color behind the preview Service (BlueGreen), apply the manifests (Basic), or
    roll the phase's own target (MultiService)."""

    weight: int | None = Field(
        default=None, ge=0, le=100, description="Canary only: the weight to set; defaults to the phase's weight."
    )


class SwapStep(ConvoyModel):
    """BlueGreen only: point the active Service at the new color. The old color is kept for scaleDownDelay."""


class RollbackStep(ConvoyModel):
    """Undo what this phase deployed: restore the previous revision, return the canary weight to what it was
    before the phase, or swap blue/green back. The default rollback step of every phase."""


class SecretRef(ConvoyModel):
    """A Secret in the run's namespace."""

    name: ResourceName


BODY_LIMIT = 1024 * 1024
"""The most of a body an http check reads to match `bodyPattern`; a longer body fails the measurement."""


class HttpCheck(ConvoyModel):
    """Call a URL and compare the answer.

    `bodyPattern` runs on RE2, whose time is linear in the body: a user's pattern cannot stall the operator. Request
    headers come from a Secret (`headersFrom`), read only when measuring, so credentials never enter the workflow,
    the run's status, an Event or a log.
    """

    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://")
    method: str = Field(default="GET", pattern=r"^(GET|HEAD|POST|PUT)$")
    expected_status: list[int] = Field(default_factory=lambda: [200], min_length=1, max_length=16)
    body_pattern: str | None = Field(
        default=None,
        max_length=1024,
        description="A regular expression in RE2 syntax (no backreferences or lookaround) that must match somewhere "
        "in the body; at most 1 MiB of body is read.",
    )
    headers_from: SecretRef | None = Field(
        default=None,
        description="A Secret in the run's namespace whose keys are header names and values the header values, sent "
        "with the request. Redirects are then not followed: list 3xx in expectedStatus if the URL redirects.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_plain_headers(cls, data: Any) -> Any:
        """`headers` (plain text, copied into the run's status) gave way to `headersFrom`. Every workflow recorded
        before that carries an empty `headers: {}`, which is dropped so those runs stay readable; headers with values
        are refused."""
        if isinstance(data, dict) and "headers" in data:
            if data["headers"]:
                raise ValueError(
                    "headers are no longer written in the workflow: put them in a Secret and name it in headersFrom"
                )
            data = {k: v for k, v in data.items() if k != "headers"}
        return data

    def body_regex(self) -> re2._Regexp[str] | None:
        """`bodyPattern` compiled by RE2; raises re2.error when it is not valid RE2 syntax."""
        if self.body_pattern is None:
            return None
        return re2.compile(self.body_pattern, _RE2_OPTIONS)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported as a validation error, not printed on stderr


SUCCESS_CONDITION = r"^\s*result\s*(<|<=|>|>=|==|!=)\s*-?[0-9.eE+-]+\s*$"


class PrometheusCheck(ConvoyModel):
    """Run a PromQL query and test its result: a scalar, or every series of a vector (one failing series fails the
    measurement, and the message names its labels)."""

    address: str = Field(min_length=1, max_length=2048, pattern=r"^https?://", description="Prometheus base URL.")
    query: str = Field(min_length=1, max_length=8192)
    success_condition: str = Field(
        min_length=1,
        max_length=256,
        pattern=SUCCESS_CONDITION,
        description="A comparison of `result` with a number, e.g. 'result < 0.05'.",
    )
    inconclusive_is: str = Field(
        default="Failure",
        pattern=r"^(Failure|Success|Retry)$",
        description="How an empty or NaN result counts: Failure, Success, or Retry (measure again; the step's "
        "timeout ends a result that stays inconclusive).",
    )


class JobCheck(ConvoyModel):
    """Run a batch Job; its success is the check's success."""

    template: dict[str, Any] = Field(description="A pod template (metadata and spec) for the Job.")
    backoff_limit: int = Field(default=0, ge=0, le=10)


class VerifyStep(ConvoyModel):
    """Measure until `count` successes or more than `failureLimit` failures. Exactly one provider is set."""

    http: HttpCheck | None = None
    prometheus: PrometheusCheck | None = None
    job: JobCheck | None = None
    interval: Duration = Field(default="10s", description="Time between measurements.")
    count: int = Field(default=1, ge=1, le=1000, description="Successful measurements needed.")
    failure_limit: int = Field(default=0, ge=0, le=1000, description="Failed measurements tolerated.")

    @model_validator(mode="after")
    def _one_provider(self) -> VerifyStep:
        if sum(p is not None for p in (self.http, self.prometheus, self.job)) != 1:
            raise ValueError("set exactly one of http, prometheus or job")
        return self


class TimeoutAction(StrEnum):
    APPROVE = "Approve"
    REJECT = "Reject"


class ApprovalStep(ConvoyModel):
    """Hold until enough people approve, or one rejects (`kubectl convoy approve|reject`)."""

    approvers: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Users, or groups as 'group:NAME', who may decide; empty means anyone allowed to patch the run.",
    )
    min_approvals: int = Field(
        default=1, ge=1, le=10, description="How many distinct approvers must approve; one rejection is enough."
    )
    allow_self_approval: bool = Field(
        default=False, description="Whether the user who created the run may approve it (rejecting is always allowed)."
    )
    timeout: Duration = Field(default="24h", description="How long to wait for a decision.")
    timeout_action: TimeoutAction = Field(
        default=TimeoutAction.REJECT, description="The decision taken when nobody decided in time."
    )
    message: str | None = Field(default=None, max_length=1024, description="Shown to the approvers.")

    @model_validator(mode="after")
    def _enough_approvers(self) -> ApprovalStep:
        users = [a for a in self.approvers if not a.startswith("group:")]
        if self.approvers and len(users) == len(self.approvers) and len(set(users)) < self.min_approvals:
            raise ValueError(
                f"minApprovals is {self.min_approvals} but only {len(set(users))} approvers are named: "
                "it could never be met"
            )
        return self


class PauseStep(ConvoyModel):
    """Wait for `duration`, or, without one, until resumed (`kubectl convoy resume`)."""

    duration: Duration | None = None


OUTPUT_NAME = r"^[A-Za-z0-9_.-]+$"


class JobOutput(ConvoyModel):
    """A value the Job produces: its container writes it to its termination message (/dev/termination-log)."""

    name: str = Field(min_length=1, max_length=63, pattern=OUTPUT_NAME, description="The output's key.")
    description: str | None = Field(default=None, max_length=1024)


class JobStep(ConvoyModel):
    """Run a batch Job from a pod template; the step succeeds when the Job completes.

    Outputs are what the Job produced, not what the workflow claims: once the Job completed, Convoy reads the
    termination message of its succeeded pod's containers (the file at `terminationMessagePath`, by default
    /dev/termination-log), either a JSON object of strings or `KEY=VALUE` lines, and publishes the declared
    `outputs` in the run's status (`${stages.STAGE.outputs.KEY}` in a pipeline). A declared output the message does
    not hold fails the step (JobFailed); keys that are not declared are ignored.
    """

    template: dict[str, Any] = Field(description="A pod template (metadata and spec) for the Job.")
    backoff_limit: int = Field(default=0, ge=0, le=10)
    outputs: list[JobOutput] = Field(
        default_factory=list,
        max_length=32,
        description="Outputs the Job writes to its termination message as a JSON object of strings or KEY=VALUE "
        "lines (at most 4 KiB per container), published in the run's status once the Job succeeded.",
    )

    @model_validator(mode="before")
    @classmethod
    def _outputs_are_produced(cls, data: Any) -> Any:
        """`outputs` was a map of templated values copied into the status whatever the Job did. A workflow recorded
        in that form stays readable: its keys are the outputs the Job must now write (the API server's schema
        refuses the map form in anything written anew)."""
        if isinstance(data, dict) and isinstance(data.get("outputs"), dict):
            data = {**data, "outputs": [{"name": name} for name in data["outputs"]]}
        return data


BARRIER_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class BarrierStep(ConvoyModel):
    """Wait until every run of the same PipelineRun that declares this barrier has reached it, then cross together."""

    name: str = Field(
        pattern=BARRIER_NAME, max_length=40, description="Barrier name, a DNS-1123 label of at most 40 characters."
    )
    timeout: Duration = "30m"


class WebhookTarget(ConvoyModel):
    """A webhook whose URL is kept in a Secret, so it never appears in a spec, status, Event or log."""

    url_from: SecretKeyRef


class NotifyStep(ConvoyModel):
    """Send a message: always as a Kubernetes Event on the run, and to a webhook when one is given."""

    message: str = Field(min_length=1, max_length=4096)
    webhook: WebhookTarget | None = None


STEP_KINDS = ("deploy", "swap", "rollback", "verify", "approval", "pause", "job", "barrier", "notify")


class Step(ConvoyModel):
    """One step of a phase. Set exactly one of: deploy, swap, rollback, verify, approval, pause, job, barrier,
    notify."""

    name: DNSLabel
    deploy: DeployStep | None = None
    swap: SwapStep | None = None
    rollback: RollbackStep | None = None
    verify: VerifyStep | None = None
    approval: ApprovalStep | None = None
    pause: PauseStep | None = None
    job: JobStep | None = None
    barrier: BarrierStep | None = None
    notify: NotifyStep | None = None
    timeout: Duration | None = Field(
        default=None,
        description="Fail the step with Timeout after this long. Defaults: deploy and rollback steps, the workflow's "
        "steadyStateTimeout; verify steps, 30m or twice (count + failureLimit) x interval when that is longer, so a "
        "result that stays inconclusive ends.",
    )
    failure_strategies: list[FailureStrategy] = Field(
        default_factory=list, max_length=8, description="Checked before the workflow's; the first match wins."
    )
    when: str | None = Field(
        default=None,
        max_length=1024,
        description="Run the step only when this holds, e.g. \"${workflow.variables.env} == 'prod'\"; "
        "otherwise it is Skipped.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"set exactly one step kind of {', '.join(STEP_KINDS)} (found: {found})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)
