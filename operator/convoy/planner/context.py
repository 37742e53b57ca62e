"""A run's context: the values of its `${...}` references and the workflow rendered with them."""

from __future__ import annotations

from collections.abc import Mapping

from convoy.api.common import Variable
from convoy.api.expressions import ExpressionError, render, render_tree
from convoy.api.validation import FieldError, InvalidSpec, parse_spec, variable_values
from convoy.api.workflow import WorkflowSpec


def values(
    *,
    run_name: str,
    namespace: str,
    declared: list[Variable],
    given: Mapping[str, str],
    pipeline_variables: Mapping[str, str],
    stage_outputs: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    """Reference path → value, for every reference a run may use."""
    out = {"run.name": run_name, "run.namespace": namespace}
    for var in declared:
        value = given.get(var.name, var.default)
        if value is not None:
            out[f"workflow.variables.{var.name}"] = value
    out.update({f"pipeline.variables.{k}": v for k, v in pipeline_variables.items()})
    for stage, outputs in stage_outputs.items():
        out.update({f"stages.{stage}.outputs.{k}": v for k, v in outputs.items()})
    return out


def render_workflow(
    workflow: WorkflowSpec,
    *,
    run_name: str,
    namespace: str,
    given: Mapping[str, str],
    pipeline_variables: Mapping[str, str] | None = None,
    stage_outputs: Mapping[str, Mapping[str, str]] | None = None,
) -> WorkflowSpec:
    """The workflow with this run's values substituted, checked again; raises InvalidSpec naming the field."""
    errors = list(variable_values(workflow.variables, given, "spec.variables"))
    if errors:
        raise InvalidSpec(errors)
    context = values(
        run_name=run_name,
        namespace=namespace,
        declared=workflow.variables,
        given=given,
        pipeline_variables=pipeline_variables or {},
        stage_outputs=stage_outputs or {},
    )
    wire = workflow.to_wire()
    try:
        if workflow.artifact is not None:  # `${artifact.image}` is the image as rendered, variables and all
            context["artifact.image"] = render(workflow.artifact.image, context)
        rendered = render_tree({k: v for k, v in wire.items() if k != "variables"}, context)
    except ExpressionError as error:
        raise InvalidSpec([FieldError("spec.variables", str(error))]) from None
    rendered["variables"] = wire.get("variables", [])
    spec = parse_spec("Workflow", rendered)
    assert isinstance(spec, WorkflowSpec)
    return spec
