"""What a run gets from the pipeline that created it: the stage's context on its job steps (as envFrom, never
as values) and the pipeline's variables in its workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from convoy.api.common import ContextRef
from convoy.api.pipeline import Stage
from convoy.api.validation import InvalidSpec, parse_spec
from convoy.api.workflowrun import RunPhase, WorkflowRunSpec, WorkflowRunStatus
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


SERVICE_VARIABLES = [{"name": "service", "required": True}, {"name": "region", "default": "eu"}]


def templated(**target: str) -> dict[str, Any]:
    """A Rolling workflow whose target uses variables: one Workflow for many services."""
    return {**rolling_wire(), "variables": SERVICE_VARIABLES, "target": target}


def plan_with(wire: dict[str, Any], variables: dict[str, str], *workloads: Workload) -> Any:
    return plan(
        run=RunIdentity("web-1", NAMESPACE),
        spec=WorkflowRunSpec.model_validate({"workflowRef": {"name": "web"}, "variables": variables}),
        workflow=workflow(wire), status=WorkflowRunStatus(),
        observed=Observed(workloads={f"{w.namespace}/{w.name}": w for w in workloads}), now=NOW,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("target", "variables", "namespace", "deployment"),
    [
        pytest.param({"deployment": "${workflow.variables.service}"}, {"service": "cart"}, NAMESPACE, "cart", id="name"),
        pytest.param(
            {"deployment": "${workflow.variables.service}-${workflow.variables.region}", "service": "${workflow.variables.service}"},
            {"service": "cart"}, NAMESPACE, "cart-eu", id="name-with-a-default-variable",
        ),
        pytest.param(
            {"deployment": "${workflow.variables.service}", "namespace": "${workflow.variables.region}"},
            {"service": "pay", "region": "us"}, "us", "pay", id="name-and-namespace",
        ),
        pytest.param({"deployment": "web-${run.name}"}, {"service": "x"}, NAMESPACE, "web-web-1", id="run-reference"),
    ],
)  # fmt: skip
def test_a_target_deployment_and_service_use_variables(
    target: dict[str, str], variables: dict[str, str], namespace: str, deployment: str
) -> None:
    result = plan_with(templated(**target), variables, Workload(namespace, deployment, image=OLD_IMAGE))

    assert [(a.namespace, a.deployment) for a in result.actions if isinstance(a, SetImage)] == [(namespace, deployment)]
    assert result.status.targets == [f"{namespace}/{deployment}"]
    rendered = result.status.workflow_spec["target"]
    assert "${" not in str(rendered), "the run records the names it deploys, rendered once"


@pytest.mark.parametrize(
    ("target", "variables", "path", "message"),
    [
        pytest.param(
            {"deployment": "${workflow.variables.service}"}, {"service": "Cart_Service"}, "spec.target.deployment",
            "'Cart_Service' is not a Kubernetes object name", id="rendered-deployment-not-a-name",
        ),
        pytest.param(
            {"deployment": "web", "service": "${workflow.variables.service}."}, {"service": "cart"},
            "spec.target.service", "'cart.' is not a Kubernetes object name", id="rendered-service-not-a-name",
        ),
        pytest.param(
            {"deployment": "${workflow.variables.service}"}, {}, "spec.variables", "service", id="variable-not-given",
        ),
    ],
)  # fmt: skip
def test_a_target_that_renders_to_no_name_fails_the_run_naming_the_field(
    target: dict[str, str], variables: dict[str, str], path: str, message: str
) -> None:
    result = plan_with(templated(**target), variables)

    assert result.status.phase is RunPhase.FAILED
    assert path in (result.status.message or "") and message in (result.status.message or "")
    assert not [a for a in result.actions if isinstance(a, SetImage)]


@pytest.mark.parametrize(
    ("wire", "path", "message"),
    [
        pytest.param(templated(deployment="Web"), "spec.target.deployment", "'Web' is not", id="plain-name-checked"),
        pytest.param(templated(deployment="web", service="a_b"), "spec.target.service", "'a_b' is not", id="service"),
        pytest.param(
            templated(deployment="${workflow.variables.nope}"), "spec.target.deployment", "not declared", id="undeclared"
        ),
        pytest.param(
            {**templated(deployment="${workflow.variables.service}"), "triggers": [{"source": "PodTemplate"}]},
            "spec.triggers[0]", "cannot use variables", id="trigger-on-a-templated-target",
        ),
    ],
)  # fmt: skip
def test_a_target_name_is_checked_when_the_workflow_is_admitted(wire: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec("Workflow", wire)

    assert any(e.path == path and message in e.message for e in raised.value.errors), raised.value.errors
