"""Grants: which references from another namespace a Grant permits (pure; the operator reads Grants when a
reference is first followed)."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.grant import GrantSpec
from convoy.api.validation import validate

GRANT: dict[str, Any] = {
    "from": [{"kind": "Workflow", "namespace": "team-a"}, {"kind": "PipelineRun", "namespace": "release"}],
    "to": [{"kind": "Deployment", "name": "web"}, {"kind": "Workflow"}],
}


@pytest.mark.parametrize(
    ("from_kind", "from_namespace", "to_kind", "to_name", "permitted"),
    [
        pytest.param("Workflow", "team-a", "Deployment", "web", True, id="named-deployment"),
        pytest.param("Workflow", "team-a", "Deployment", "db", False, id="other-deployment"),
        pytest.param("Workflow", "team-a", "Workflow", "anything", True, id="every-workflow"),
        pytest.param("Workflow", "team-b", "Deployment", "web", False, id="other-namespace"),
        pytest.param("WorkflowRun", "team-a", "Deployment", "web", False, id="other-referrer-kind"),
        pytest.param("PipelineRun", "release", "Workflow", "web", True, id="second-from"),
        pytest.param("Workflow", "team-a", "Secret", "web", False, id="kind-not-granted"),
    ],
)
def test_a_grant_permits_only_what_it_names(
    from_kind: str, from_namespace: str, to_kind: str, to_name: str, permitted: bool
) -> None:
    grant = GrantSpec.model_validate(GRANT)

    assert grant.permits(from_kind, from_namespace, to_kind, to_name) is permitted


def test_the_admission_check_accepts_a_grant_and_names_a_bad_field() -> None:
    good = {"apiVersion": "convoy.dev/v1alpha1", "kind": "Grant", "metadata": {"name": "g"}, "spec": GRANT}
    bad = {**good, "spec": {**GRANT, "to": [{"kind": "ClusterRoleBinding"}]}}

    assert validate("Grant", good) == []
    assert [e.path for e in validate("Grant", bad)] == ["spec.to[0].kind"]
