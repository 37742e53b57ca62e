"""Attacks across namespaces: a tenant holding the chart's deploy role in its own namespace ("team-a-like") tries
to make Convoy change, run or reveal something in another ("prod-like"), or in the cluster's scope, through
target.namespace, workflowRef, pipelineRef, rerunOf, a stage's namespace or context, a Basic workflow's
manifests, a GitOps trigger, a Rollback, or another ServiceAccount. Each is refused: by the API server, or by the
run failing with a message that names the missing Grant or the Forbidden request. Written given / when / then."""

from __future__ import annotations

from typing import Any

import pytest
from attacks import RUN_FINISHED, V1, Tenant, accepted, grant, holds, manifest, refused
from harness import Operator
from kubernetes import client
from test_pipelines import job, stage
from test_workflowruns import rolling
from waiting import wait_for

pytestmark = pytest.mark.e2e


def run(name: str, workflow: str, variables: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return manifest("WorkflowRun", name, {"workflowRef": {"name": workflow}, "variables": variables or {}, **spec})


def failed_with(tenant: Tenant, name: str, *phrases: str, plural: str = "workflowruns") -> str:
    """The run ended (or stopped) without doing anything, and says `phrases`."""
    status = tenant.settle(name, plural)
    assert status["phase"] not in ("Succeeded",), status
    return tenant.wait_story(name, *phrases, plural=plural)


def build_workflow() -> dict[str, Any]:
    """A quick job with no outputs (a stage that only has to succeed)."""
    return {"type": "Build", "phases": [{"name": "work", "steps": [job("run")]}]}


# 1. target.namespace


def test_an_inline_workflow_targeting_another_namespace_is_refused(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given prod's web at v1
    before = victim.snapshot()
    # when mallory (deploy role in team-a) runs an inline workflow whose target is prod's web
    inline = rolling(target="web")
    inline["target"]["namespace"] = victim.namespace
    result = attacker.create_as(
        "mallory", manifest("WorkflowRun", "steal", {"workflow": inline, "variables": {"version": "evil"}})
    )
    # then it is refused at admission (an inline workflow needs the right to create Workflows), or, should it
    # get through, the run fails naming the missing Grant
    if result.returncode == 0:
        failed_with(attacker, "steal", "Grant")
    else:
        refused(result, "workflow")
    # and nothing changed in prod
    victim.assert_untouched(before)


def test_a_workflow_targeting_another_namespace_without_a_grant_fails_naming_the_grant(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given team-a's own Workflow (written by team-a's admin) whose target is prod's web
    spec = rolling(target="web")
    spec["target"]["namespace"] = victim.namespace
    attacker.apply(manifest("Workflow", "web-prod", spec))
    before = victim.snapshot()
    # when mallory runs it
    accepted(attacker.create_as("mallory", run("steal", "web-prod", {"version": "evil"})))
    # then the run fails and says which Grant is missing
    story = failed_with(attacker, "steal", "Grant", victim.namespace)
    assert "evil" not in victim.runs.image("web")
    assert story
    # and prod's web was never touched
    victim.assert_untouched(before)


def test_a_grant_is_not_rbac_the_write_is_still_forbidden_to_the_service_account(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given prod grants team-a's Workflows its Deployment web, but binds no role to team-a's ServiceAccount
    victim.apply(
        grant(
            "team-a", [("Workflow", attacker.namespace), ("WorkflowRun", attacker.namespace)], [("Deployment", "web")]
        )
    )
    spec = rolling(target="web")
    spec["target"]["namespace"] = victim.namespace
    attacker.apply(manifest("Workflow", "web-prod", spec))
    before = victim.snapshot()
    # when mallory runs it
    accepted(attacker.create_as("mallory", run("push", "web-prod", {"version": "2.0"})))
    # then the deploy step fails Forbidden, naming the ServiceAccount, the verb, the resource and the namespace
    story = failed_with(attacker, "push", "Forbidden", "convoy-runner", "deployments", victim.namespace)
    assert "patch" in story or "update" in story or "get" in story
    # and prod's web kept v1
    victim.assert_untouched(before)


# 2. Basic workflows applying RBAC


def cluster_admin_binding(name: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def everything_role(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }


def basic(*manifests: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Basic",
        "target": {"manifests": list(manifests)},
        "phases": [{"name": "apply", "steps": [{"name": "apply", "deploy": {}}]}],
    }


@pytest.mark.parametrize(
    ("planted", "resource"),
    [
        pytest.param(
            cluster_admin_binding("mallory-is-admin", "mallory"), "clusterrolebindings", id="cluster-role-binding"
        ),
        pytest.param(everything_role("mallory-everything"), "roles", id="role-in-its-namespace"),
    ],
)
def test_a_basic_workflow_cannot_apply_rbac_objects(
    convoy: Operator, attacker: Tenant, api_client: client.ApiClient, planted: dict[str, Any], resource: str
) -> None:
    # given a Basic workflow in team-a whose manifests grant mallory more rights
    attacker.apply(manifest("Workflow", "escalate", basic(planted)))
    # when mallory runs it
    accepted(attacker.create_as("mallory", run("escalate-1", "escalate")))
    # then the apply step fails Forbidden as team-a's ServiceAccount, and says what was refused
    status = attacker.settle("escalate-1")
    assert status["phase"] in RUN_FINISHED and status["phase"] != "Succeeded", status
    story = attacker.wait_story("escalate-1", "convoy-runner", resource, attacker.namespace)
    assert "Forbidden" in story or "may not" in story, story[:3000]
    # and no such object exists
    rbac = client.RbacAuthorizationV1Api(api_client)
    if resource == "clusterrolebindings":
        found: Any = rbac.list_cluster_role_binding()
    else:
        found = rbac.list_namespaced_role(attacker.namespace)
    assert planted["metadata"]["name"] not in [item.metadata.name for item in found.items]


def test_a_basic_manifest_placed_in_another_namespace_is_refused(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given a Basic workflow in team-a whose manifest names prod's namespace
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planted", "namespace": victim.namespace}}
    attacker.apply(manifest("Workflow", "plant", basic(config)))
    # when mallory runs it
    accepted(attacker.create_as("mallory", run("plant-1", "plant")))
    # then nothing appears in prod: the run fails (no Grant, or Forbidden as team-a's ServiceAccount), or the
    # object is placed in the target's namespace, team-a's own, whatever the manifest says
    status = attacker.settle("plant-1")
    if status["phase"] == "Succeeded":
        assert attacker.runs.core.read_namespaced_config_map("planted", attacker.namespace)
    else:
        story = attacker.story("plant-1")
        assert "Grant" in story or "Forbidden" in story, story[:2000]
    assert not victim.runs.core.list_namespaced_config_map(
        victim.namespace, field_selector="metadata.name=planted"
    ).items


# 3. workflowRef / pipelineRef; 6. status.workflowSpec


SECRET_MARK = "prod-only-deploy-token-5f1c"


def prod_workflow() -> dict[str, Any]:
    """prod's Workflow: a job step carrying something only prod should see."""
    template = {
        "metadata": {"annotations": {"convoy.dev/fake-duration": "1s"}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/tools:1", "env": [{"name": "TOKEN", "value": SECRET_MARK}]}]},
    }  # fmt: skip
    return rolling({"name": "smoke", "job": {"template": template}})


def test_a_workflow_ref_to_another_namespace_without_a_grant_is_refused_and_reveals_nothing(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given prod's Workflow web, and no Grant
    victim.apply(manifest("Workflow", "web", prod_workflow()))
    before = victim.snapshot()
    # when mallory runs it from team-a
    body = manifest(
        "WorkflowRun",
        "borrow",
        {"workflowRef": {"name": "web", "namespace": victim.namespace}, "variables": {"version": "2.0"}},
    )
    result = attacker.create_as("mallory", body)
    # then it is refused, at admission or by the run naming the missing Grant
    if result.returncode != 0:
        refused(result, "Grant")
    else:
        failed_with(attacker, "borrow", "Grant")
        # and what mallory can read of the run does not show prod's Workflow
        seen = attacker.as_user("mallory", "get", "workflowrun", "borrow", "-o", "json")
        accepted(seen)
        assert SECRET_MARK not in seen.stdout
        assert "workflowSpec" not in attacker.runs.status("borrow")
    assert attacker.runs.image("web") == V1
    victim.assert_untouched(before)


def test_a_pipeline_ref_to_another_namespace_without_a_grant_is_refused(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given prod's Pipeline release, and no Grant
    victim.apply(
        manifest("Workflow", "work", build_workflow()), manifest("Pipeline", "release", {"stages": [stage("build")]})
    )
    before = victim.snapshot()
    # when mallory runs it from team-a
    body = manifest("PipelineRun", "borrow", {"pipelineRef": {"name": "release", "namespace": victim.namespace}})
    result = attacker.create_as("mallory", body)
    # then it is refused, naming the missing Grant, and no stage run exists anywhere
    if result.returncode != 0:
        refused(result, "Grant")
    else:
        failed_with(attacker, "borrow", "Grant", plural="pipelineruns")
        assert "pipelineSpec" not in attacker.runs.status("borrow", "pipelineruns")
    assert attacker.custom_list("workflowruns") == []
    victim.assert_untouched(before)


# 4. rerunOf


def gated_pipeline() -> dict[str, Any]:
    """build -> approval by alice -> deploy (a Rolling run of web, with the pipeline's version)."""
    hold = {"name": "hold", "approval": {"approvers": ["alice"]}}
    return {
        "variables": [{"name": "version", "required": True}],
        "stages": [stage("build"), hold, stage("deploy", "web", {"version": "${pipeline.variables.version}"})],
    }


def approved_release(tenant: Tenant, name: str, version: str) -> dict[str, Any]:
    """A PipelineRun of `release` that alice approved and that deployed `version`."""
    spec = {"pipelineRef": {"name": "release"}, "variables": {"version": version}, "decisions": []}
    tenant.apply(manifest("PipelineRun", name, spec))
    assert tenant.settle(name, "pipelineruns", timeout=90)["phase"] == "WaitingForApproval"
    accepted(tenant.decide_as("alice", "pipelineruns", name, {"action": "Approve", "stage": "hold"}))
    status = tenant.runs.wait_phase(name, "Succeeded", "Failed", "Aborted", timeout=120, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    return status


@pytest.fixture
def released(victim: Tenant) -> dict[str, Any]:
    """Given prod's gated release pipeline, approved by alice, that deployed 2.0."""
    victim.allow("alice", "approve", "view")
    victim.apply(
        manifest("Workflow", "work", build_workflow()),
        manifest("Workflow", "web", rolling()),
        manifest("Pipeline", "release", gated_pipeline()),
    )
    return approved_release(victim, "rel-1", "2.0")


def test_rerun_of_another_namespaces_pipeline_run_is_refused(
    convoy: Operator, victim: Tenant, attacker: Tenant, released: dict[str, Any]
) -> None:
    # given team-a's copy of the gated pipeline (its admin wrote it)
    attacker.apply(
        manifest("Workflow", "work", build_workflow()),
        manifest("Workflow", "web", rolling()),
        manifest("Pipeline", "release", gated_pipeline()),
    )
    before = victim.snapshot()
    # when mallory reruns prod's approved release from team-a
    body = manifest(
        "PipelineRun",
        "reuse",
        {
            "pipelineRef": {"name": "release"},
            "variables": {"version": "2.0"},
            "rerunOf": {"name": "rel-1", "namespace": victim.namespace},
        },
    )
    result = attacker.create_as("mallory", body)
    # then it is refused, or fails naming the Grant / namespace: prod's approval is not reused
    if result.returncode != 0:
        refused(result, "rerunOf")
    else:
        status = attacker.settle("reuse", "pipelineruns")
        assert all(s["state"] != "Reused" for s in status.get("stages", [])), status
        assert status["phase"] != "Succeeded"
        story = attacker.story("reuse", "pipelineruns")
        assert "Grant" in story or "namespace" in story, story[:2000]
    victim.assert_untouched(before)


def test_rerun_with_other_variables_does_not_reuse_the_approval(
    convoy: Operator, victim: Tenant, released: dict[str, Any]
) -> None:
    # given mallory holds the deploy role in prod (she may start releases, not approve them)
    victim.allow("mallory", "deploy", "view")
    before = victim.snapshot()
    # when she reruns the approved release with another version
    body = manifest(
        "PipelineRun",
        "rel-2",
        {"pipelineRef": {"name": "release"}, "variables": {"version": "6.6.6"}, "rerunOf": {"name": "rel-1"}},
    )
    result = victim.create_as("mallory", body)
    # then either it is refused, or it waits for a fresh approval: alice's is not reused for other variables
    if result.returncode != 0:
        refused(result, "variables")
    else:
        status = victim.settle("rel-2", "pipelineruns", timeout=90)
        hold = next(s for s in status["stages"] if s["name"] == "hold")
        assert hold["state"] != "Reused", status
        assert status["phase"] in ("WaitingForApproval", "Failed"), status
        holds(lambda: victim.runs.status("rel-2", "pipelineruns")["phase"] != "Succeeded", 3)
    assert victim.runs.image("web") == "registry.example/web:2.0"
    assert victim.snapshot().deployments == before.deployments


# 5. a stage's namespace and context


def test_a_stage_in_another_namespace_without_a_grant_is_refused(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given team-a's pipeline whose stage runs in prod
    attacker.apply(
        manifest("Workflow", "work", build_workflow()),
        manifest("Pipeline", "into-prod", {"stages": [stage("build", namespace=victim.namespace)]}),
    )
    before = victim.snapshot()
    # when mallory runs it
    accepted(
        attacker.create_as("mallory", manifest("PipelineRun", "into-prod-1", {"pipelineRef": {"name": "into-prod"}}))
    )
    # then it fails naming the missing Grant, and no run (nor Job) appears in prod
    failed_with(attacker, "into-prod-1", "Grant", victim.namespace, plural="pipelineruns")
    holds(lambda: victim.custom_list("workflowruns") == [], 2)
    victim.assert_untouched(before)


def test_a_stage_context_secret_of_another_namespace_needs_its_own_grant(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given prod holds a Secret, and grants team-a's pipelines to create runs in prod, but not to read the Secret
    victim.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-credentials"}, "stringData": {"PASSWORD": "hunter2"}},
        grant("team-a-runs", [("Pipeline", attacker.namespace), ("PipelineRun", attacker.namespace)], [("WorkflowRun", None), ("Workflow", None)]),
        manifest("Workflow", "work", build_workflow()),
    )  # fmt: skip
    part = stage("build", namespace=victim.namespace)
    part["workflow"]["workflowRef"] = {"name": "work", "namespace": victim.namespace}
    part["context"] = {"secret": "db-credentials"}
    attacker.apply(manifest("Pipeline", "exfiltrate", {"stages": [part]}))
    before = victim.snapshot()
    # when mallory runs it
    accepted(
        attacker.create_as("mallory", manifest("PipelineRun", "exfiltrate-1", {"pipelineRef": {"name": "exfiltrate"}}))
    )
    # then it fails naming the Grant the Secret would need, and no Job in prod mounts it
    failed_with(attacker, "exfiltrate-1", "Grant", "Secret", plural="pipelineruns")
    victim.assert_untouched(before)


# 19. GitOps triggers and Rollbacks


def test_a_gitops_trigger_cannot_pause_a_deployment_of_another_namespace(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given prod's web at v1, and team-a's triggered Canary workflow aimed at it
    spec = {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web", "namespace": victim.namespace},
        "artifact": {"image": "${workflow.variables.image}"},
        "variables": [{"name": "image", "required": True}],
        "triggers": [{"source": "PodTemplate", "imageVariable": "image"}],
        "phases": [{"name": "full", "weight": 100, "steps": [{"name": "promote", "deploy": {}}]}],
    }
    before = victim.snapshot()
    # when team-a's admin applies it
    attacker.apply(manifest("Workflow", "hijack", spec))
    # then the Workflow says the Grant is missing, and prod's web is neither paused nor annotated
    attacker.wait_story("hijack", "Grant", plural="workflows")
    holds(lambda: victim.snapshot().deployments == before.deployments, 3)
    victim.assert_untouched(before)


@pytest.mark.parametrize("ref", ["workflowRef", "workflowRunRef"])
def test_a_rollback_of_another_namespaces_deployment_is_refused(
    convoy: Operator, victim: Tenant, attacker: Tenant, ref: str
) -> None:
    # given prod deployed 2.0 with its Workflow web
    victim.apply(manifest("Workflow", "web", rolling()), run("web-2", "web", {"version": "2.0"}))
    assert victim.runs.wait_phase("web-2", *RUN_FINISHED, timeout=90)["phase"] == "Succeeded"
    attacker.allow("mallory", "rollback")
    before = victim.snapshot()
    # when mallory (rollback role in team-a) creates a Rollback there that names prod's workflow or run
    name = "web" if ref == "workflowRef" else "web-2"
    body = manifest("Rollback", "undo-prod", {ref: {"name": name, "namespace": victim.namespace}})
    result = attacker.create_as("mallory", body)
    # then it is refused, naming the missing Grant, and prod keeps 2.0 and its run stays Succeeded
    if result.returncode != 0:
        refused(result, "Grant")
    else:
        status = attacker.runs.wait_phase("undo-prod", "Refused", "Failed", "Succeeded", plural="rollbacks")
        assert status["phase"] in ("Refused", "Failed"), status
        story = attacker.story("undo-prod", "rollbacks")
        assert "Grant" in story or "own namespace" in story, story[:2000]
    victim.assert_untouched(before)
    assert victim.runs.image("web") == "registry.example/web:2.0"


# 20. impersonating another ServiceAccount


@pytest.mark.parametrize("account", ["default", "deployer-admin"])
def test_a_service_account_outside_the_allowed_names_is_not_impersonated(
    convoy: Operator, attacker: Tenant, api_client: client.ApiClient, account: str
) -> None:
    # given team-a has a ServiceAccount bound to cluster-admin, and a Workflow naming it (or `default`)
    attacker.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer-admin"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "deployer-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer-admin", "namespace": attacker.namespace}],
        },
        manifest("Workflow", "web", {**rolling(), "serviceAccountName": account}),
    )
    before = attacker.snapshot()
    # when mallory runs it
    accepted(attacker.create_as("mallory", run("as-admin", "web", {"version": "evil"})))
    # then it fails Forbidden (the operator may not impersonate that account), and web kept v1
    story = failed_with(attacker, "as-admin", "Forbidden", account)
    assert "impersonate" in story.lower() or "serviceaccount" in story.lower(), story[:2000]
    wait_for(lambda: attacker.runs.image("web") == V1, 5)
    assert attacker.snapshot().deployments == before.deployments
