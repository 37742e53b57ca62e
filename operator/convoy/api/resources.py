"""The registry of Convoy's kinds: names, short names, spec and status models, printer columns.

The CRD generator, the validator, the handlers and the plugin all read it, so a kind is described once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convoy.api.common import ConvoyModel, ResourceStatus
from convoy.api.grant import GrantSpec
from convoy.api.history import WorkflowStatus
from convoy.api.pipeline import PipelineRunSpec, PipelineRunStatus, PipelineSpec
from convoy.api.rollback import RollbackSpec, RollbackStatus
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import WorkflowRunSpec, WorkflowRunStatus


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_name: str
    spec: type[ConvoyModel]
    status: type[ConvoyModel] | None
    description: str
    columns: tuple[PrinterColumn, ...] = field(default_factory=tuple)

    @property
    def singular(self) -> str:
        return self.kind.lower()


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

WORKFLOW = Kind(
    kind="Workflow",
    plural="workflows",
    short_name="wf",
    spec=WorkflowSpec,
    status=WorkflowStatus,
    description="How a service is deployed: its type, target, artifact, phases of steps, rollback and failure "
    "strategies. Started by a WorkflowRun.",
    columns=(
        PrinterColumn("Type", ".spec.type", description="Basic, Rolling, Canary, BlueGreen, MultiService or Build."),
        PrinterColumn("Target", ".spec.target.deployment"),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        AGE,
    ),
)
WORKFLOW_RUN = Kind(
    kind="WorkflowRun",
    plural="workflowruns",
    short_name="wfr",
    spec=WorkflowRunSpec,
    status=WorkflowRunStatus,
    description="One execution of a Workflow; its status tells the phase, step, progress and canary weight.",
    columns=(
        PrinterColumn("Workflow", ".status.workflow"),
        PrinterColumn("Type", ".status.type"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Step", ".status.currentStep"),
        PrinterColumn("Progress", ".status.progress"),
        PrinterColumn("Weight", ".status.weight", "integer"),
        AGE,
    ),
)
PIPELINE = Kind(
    kind="Pipeline",
    plural="pipelines",
    short_name="pl",
    spec=PipelineSpec,
    status=ResourceStatus,
    description="Workflows chained into stages: in sequence, in parallel or as a requires DAG, with approvals.",
    columns=(PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'), AGE),
)
PIPELINE_RUN = Kind(
    kind="PipelineRun",
    plural="pipelineruns",
    short_name="plr",
    spec=PipelineRunSpec,
    status=PipelineRunStatus,
    description="One execution of a Pipeline; each workflow stage creates a WorkflowRun.",
    columns=(
        PrinterColumn("Pipeline", ".spec.pipelineRef.name"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Stages", ".status.stagesDone", description="Finished stages / all stages."),
        AGE,
    ),
)
ROLLBACK = Kind(
    kind="Rollback",
    plural="rollbacks",
    short_name="rb",
    spec=RollbackSpec,
    status=RollbackStatus,
    description="Return a target to its last good version, or roll back a given WorkflowRun.",
    columns=(
        PrinterColumn("Workflow", ".status.workflow"),
        PrinterColumn("Run", ".status.workflowRun"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Restored", ".status.restoredRevision"),
        AGE,
    ),
)

GRANT = Kind(
    kind="Grant",
    plural="grants",
    short_name="grant",
    spec=GrantSpec,
    status=None,
    description="Lets Workflows, Pipelines and runs of other namespaces refer to objects of this one (a target "
    "Deployment, a Workflow, a context Secret). Changes are still made as the referrer's ServiceAccount.",
    columns=(AGE,),
)

KINDS: tuple[Kind, ...] = (WORKFLOW, WORKFLOW_RUN, PIPELINE, PIPELINE_RUN, ROLLBACK, GRANT)
BY_KIND = {k.kind: k for k in KINDS}
BY_PLURAL = {k.plural: k for k in KINDS}
