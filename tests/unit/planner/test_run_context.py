"""What a run gets from the pipeline that created it: the stage's context on its job steps (as envFrom, never
as values) and the pipeline's variables in its workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from convoy.api.common import ContextRef
from convoy.api.pipeline import Stage
from convoy.api.workflowrun import WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.actions import EnsureJob, SetImage
from convoy.planner.cycle import RunIdentity
from convoy.planner.observed import Observed, Workload
from convoy.planner.run import plan
from convoy.planner.stages import manifest
from convoy.planner.steps import with_context

from .builders import DEPLOYMENT, NAMESPACE, NEW_IMAGE, OLD_IMAGE, deploy, job, phase, rolling_wire, workflow

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_context_becomes_env_from_on_every_container() -> None:
    template: dict[str, Any] = {
        "spec": {"containers": [{"name": "a"}, {"name": "b", "envFrom": [{"secretRef": {"name": "own"}}]}]}
    }
    out = with_context(template, ContextRef(secret="deploy-keys", config_map="settings"))
    assert out["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "deploy-keys"}},
        {"configMapRef": {"name": "settings"}},
    ]
    assert out["spec"]["containers"][1]["envFrom"][0] == {"secretRef": {"name": "own"}}
    assert "envFrom" not in template["spec"]["containers"][0], "the input template is not changed"


def test_a_job_step_of_a_run_with_a_context_reads_it() -> None:
    wf = workflow(rolling_wire(phases=[phase("checks", deploy(), job("migrate"))]))
    spec = WorkflowRunSpec.model_validate({"workflowRef": {"name": "web"}, "context": {"secret": "deploy-keys"}})
    rolled = Workload(NAMESPACE, DEPLOYMENT, image=NEW_IMAGE, applied="web-1/checks/deploy")
    result = plan(
        run=RunIdentity("web-1", NAMESPACE), spec=spec, workflow=wf, status=WorkflowRunStatus(),
        observed=Observed(workloads={f"{NAMESPACE}/{DEPLOYMENT}": rolled}), now=NOW,
    )  # fmt: skip
    jobs = [a for a in result.actions if isinstance(a, EnsureJob)]
    assert jobs and jobs[0].template["spec"]["containers"][0]["envFrom"] == [{"secretRef": {"name": "deploy-keys"}}]
    assert "deploy-keys" not in str(result.status.to_wire()), "the context is named in the job, not copied to status"


def test_pipeline_variables_render_in_the_workflow() -> None:
    wire = rolling_wire(image="registry.example/web:${pipeline.variables.release}")
    result = plan(
        run=RunIdentity("web-1", NAMESPACE), spec=WorkflowRunSpec.model_validate({"workflowRef": {"name": "web"}}),
        workflow=workflow(wire), status=WorkflowRunStatus(),
        observed=Observed(workloads={f"{NAMESPACE}/{DEPLOYMENT}": Workload(NAMESPACE, DEPLOYMENT, image=OLD_IMAGE)}),
        now=NOW, pipeline_variables={"release": "7.1"},
    )  # fmt: skip
    assert [a.image for a in result.actions if isinstance(a, SetImage)] == ["registry.example/web:7.1"]


def test_a_stage_passes_its_context_to_the_run_it_creates() -> None:
    stage = Stage.model_validate(
        {"name": "deploy", "workflow": {"workflowRef": {"name": "web"}}, "context": {"configMap": "settings"}}
    )
    body = manifest(
        pipeline_run=RunIdentity("release-1", NAMESPACE), pipeline_namespace=NAMESPACE, stage=stage,
        namespace=NAMESPACE, variables={},
    )  # fmt: skip
    assert body["spec"]["context"] == {"configMap": "settings"}
    assert WorkflowRunSpec.model_validate(body["spec"]).context == ContextRef(config_map="settings")
