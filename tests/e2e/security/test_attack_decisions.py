"""Attacks on decisions: skipping or forging approvals in the victim's namespace ("prod-like") by users holding the
chart's deploy or approve role there. Decisions on CREATE are refused, a forged `by` is overwritten and sealed, a
decision written while the webhooks are gone is ignored ("not sealed"), PromoteFull stops at an approval its
decider may not give, a Rollback decision needs the right to create Rollbacks, the creator of a run may not
approve it, and minApprovals counts distinct people. Written given / when / then."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from attacks import RUN_FINISHED, V1, Tenant, accepted, holds, manifest, refused
from harness import Operator, kubectl
from test_workflowruns import rolling, step_record

pytestmark = pytest.mark.e2e


def run(name: str, workflow: str = "web", version: str = "2.0", **spec: Any) -> dict[str, Any]:
    return manifest(
        "WorkflowRun",
        name,
        {"workflowRef": {"name": workflow}, "variables": {"version": version}, "decisions": [], **spec},
    )


def gated(**approval: Any) -> dict[str, Any]:
    """A Rolling workflow that asks alice (and whoever `approval` adds) before it deploys."""
    spec = rolling()
    gate = {"name": "go-live", "approval": {"approvers": ["alice"], **approval}}
    spec["phases"][0]["steps"] = [gate, *spec["phases"][0]["steps"]]
    return spec


def canary_with_approval() -> dict[str, Any]:
    """A Canary: 25% then an approval by alice, then 100%."""
    return {
        "type": "Canary",
        "target": {"deployment": "web", "service": "web"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": [
            {"name": "canary-25", "weight": 25, "steps": [{"name": "set-weight", "deploy": {}}, {"name": "go-live", "approval": {"approvers": ["alice"]}}]},
            {"name": "full", "weight": 100, "steps": [{"name": "promote", "deploy": {}}]},
        ],
    }  # fmt: skip


@pytest.fixture
def people(victim: Tenant) -> Tenant:
    """Given in prod: mallory and dave may start runs (deploy role), alice and bob may decide (approve role),
    and the Service web in front of web."""
    victim.allow("mallory", "deploy", "approve", "view")
    victim.allow("dave", "deploy", "view")
    victim.allow("alice", "approve", "view")
    victim.allow("bob", "approve", "view")
    victim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
    )
    return victim


def waiting(tenant: Tenant, name: str) -> dict[str, Any]:
    status = tenant.settle(name, timeout=60)
    assert status["phase"] == "WaitingForApproval", status
    return status


def still_waiting(tenant: Tenant, name: str, seconds: float = 4) -> None:
    holds(lambda: tenant.runs.status(name)["phase"] == "WaitingForApproval", seconds)


# 7. decisions on CREATE


@pytest.mark.parametrize("action", ["PromoteFull", "Approve"])
def test_a_run_created_with_a_decision_is_refused(convoy: Operator, people: Tenant, action: str) -> None:
    # given prod's Canary with an approval by alice
    people.apply(manifest("Workflow", "web", canary_with_approval()))
    before = people.snapshot()
    # when mallory creates a run that already carries a decision
    result = people.create_as("mallory", run("skip", decisions=[{"action": action, "by": "alice", "step": "go-live"}]))
    # then the API server refuses it, and no run exists
    refused(result, "cannot be created with decisions")
    assert not people.exists("workflowruns", "skip")
    people.assert_untouched(before)


def test_a_pipeline_run_created_with_an_approval_is_refused(convoy: Operator, people: Tenant) -> None:
    people.apply(
        manifest("Workflow", "web", rolling()),
        manifest("Pipeline", "release", {"stages": [{"name": "hold", "approval": {"approvers": ["alice"]}}, {"name": "deploy", "workflow": {"workflowRef": {"name": "web"}, "variables": {"version": "2.0"}}}]}),
    )  # fmt: skip
    before = people.snapshot()
    body = manifest(
        "PipelineRun",
        "skip",
        {"pipelineRef": {"name": "release"}, "decisions": [{"action": "Approve", "stage": "hold"}]},
    )
    refused(people.create_as("mallory", body), "cannot be created with decisions")
    assert not people.exists("pipelineruns", "skip")
    people.assert_untouched(before)


# 8. forged `by`


def test_a_forged_by_is_overwritten_and_a_non_approver_is_refused(convoy: Operator, people: Tenant) -> None:
    # given a run waiting for alice's approval
    people.apply(manifest("Workflow", "web", gated()))
    people.apply(run("web-2"))
    waiting(people, "web-2")
    before = people.snapshot()
    # when mallory approves claiming to be alice
    result = people.decide_as(
        "mallory", "workflowruns", "web-2", {"action": "Approve", "step": "go-live", "by": "alice"}
    )
    # then she is refused as herself, and nothing moved
    refused(result, "mallory", "approvers")
    still_waiting(people, "web-2")
    people.assert_untouched(before)


@pytest.fixture
def webhooks_restored(convoy: Operator) -> Iterator[None]:
    """Whatever the test does to the webhooks, the operator is restarted afterwards, which registers them again."""
    yield
    convoy.restart()


def test_a_decision_forged_while_the_webhooks_are_gone_has_no_effect(
    convoy: Operator, people: Tenant, webhooks_restored: None
) -> None:
    # given a run waiting for alice's approval
    people.apply(manifest("Workflow", "web", gated()))
    people.apply(run("web-2"))
    waiting(people, "web-2")
    before = people.snapshot()
    # when the webhooks are gone (deleted by hand: the window a stopped operator used to leave)
    for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
        kubectl(people.kubeconfig, "delete", kind, "convoy.dev", "--ignore-not-found")
    # and mallory appends an approval claiming to be alice, then the operator restarts
    forged = {
        "action": "Approve",
        "step": "go-live",
        "by": "alice",
        "groups": ["system:authenticated"],
        "at": "2030-01-01T00:00:00Z",
        "seal": "0" * 40,
    }
    accepted(people.decide_as("mallory", "workflowruns", "web-2", forged))
    convoy.restart()
    # then the forged decision has no effect, and the run says it is not sealed
    people.wait_story("web-2", "not sealed")
    still_waiting(people, "web-2")
    assert step_record(people.runs.status("web-2"), "go-live").get("decidedBy") is None
    people.assert_untouched(before)


# 9. PromoteFull


def test_promote_full_by_a_non_approver_does_not_skip_the_approval(convoy: Operator, people: Tenant) -> None:
    # given a canary at 25% waiting for alice's approval
    people.apply(manifest("Workflow", "web", canary_with_approval()))
    people.apply(run("web-2"))
    waiting(people, "web-2")
    image_before = people.runs.image("web")
    # when mallory (approve role, not an approver of the step) promotes it to full
    result = people.decide_as("mallory", "workflowruns", "web-2", {"action": "PromoteFull"})
    # then it is refused, or the promotion stops at the approval and says who may approve it
    if result.returncode != 0:
        refused(result, "approvers")
    else:
        people.wait_story("web-2", "approvers")
    still_waiting(people, "web-2")
    assert step_record(people.runs.status("web-2"), "go-live")["state"] != "Skipped"
    assert people.runs.image("web") == image_before == V1


# 10. Rollback decision


def test_a_rollback_decision_needs_the_right_to_create_rollbacks(convoy: Operator, people: Tenant) -> None:
    # given a run that deployed 2.0
    people.apply(manifest("Workflow", "web", rolling()))
    people.apply(run("web-2"))
    assert people.runs.wait_phase("web-2", *RUN_FINISHED, timeout=90)["phase"] == "Succeeded"
    before = people.snapshot()
    # when alice (approve role only) appends a Rollback decision
    result = people.decide_as("alice", "workflowruns", "web-2", {"action": "Rollback", "reason": "revert"})
    # then the API server refuses, naming the right she lacks; the run stays Succeeded and 2.0 stays
    refused(result, "rollbacks")
    holds(lambda: people.runs.status("web-2")["phase"] == "Succeeded", 3)
    people.assert_untouched(before)
    assert people.runs.image("web") == "registry.example/web:2.0"


# 11. self-approval and minApprovals


def test_the_creator_of_a_run_may_not_approve_it(convoy: Operator, people: Tenant) -> None:
    # given alice may also start runs, and starts one gated on her own approval
    people.allow("alice", "deploy")
    people.apply(manifest("Workflow", "web", gated()))
    accepted(people.create_as("alice", run("web-2")))
    waiting(people, "web-2")
    before = people.snapshot()
    # when she approves it
    result = people.decide_as("alice", "workflowruns", "web-2", {"action": "Approve", "step": "go-live"})
    # then she is refused: allowSelfApproval is false by default
    refused(result, "created the run", "allowSelfApproval")
    still_waiting(people, "web-2")
    people.assert_untouched(before)


def test_a_forged_creator_annotation_does_not_let_the_creator_approve(convoy: Operator, people: Tenant) -> None:
    # given alice may start runs; she starts one claiming, in its annotations, that bob created it
    people.allow("alice", "deploy")
    people.apply(manifest("Workflow", "web", gated()))
    body = run("web-2")
    body["metadata"]["annotations"] = {"convoy.dev/created-by": "bob"}
    result = people.create_as("alice", body)
    if result.returncode != 0:
        refused(result, "created-by")
        return
    waiting(people, "web-2")
    # then the run records her as its creator, and her approval is refused
    annotations = people.runs.get("workflowruns", "web-2")["metadata"]["annotations"]
    assert annotations["convoy.dev/created-by"] == "alice"
    refused(
        people.decide_as("alice", "workflowruns", "web-2", {"action": "Approve", "step": "go-live"}), "created the run"
    )
    # and she cannot rewrite the annotation afterwards either
    refused(people.annotate_as("alice", "workflowruns", "web-2", {"convoy.dev/created-by": "bob"}))
    still_waiting(people, "web-2")


def test_min_approvals_needs_distinct_approvers(convoy: Operator, people: Tenant) -> None:
    # given a run that needs two of alice, bob and carol
    people.apply(manifest("Workflow", "web", gated(approvers=["alice", "bob", "carol"], minApprovals=2)))
    people.apply(run("web-2"))
    waiting(people, "web-2")
    before = people.snapshot()
    # when alice approves twice
    accepted(people.decide_as("alice", "workflowruns", "web-2", {"action": "Approve", "step": "go-live"}))
    twice = people.decide_as("alice", "workflowruns", "web-2", {"action": "Approve", "step": "go-live"})
    # then her second approval is refused (or counts once), and the run still waits, listing her
    if twice.returncode != 0:
        refused(twice, "already approved")
    still_waiting(people, "web-2")
    assert step_record(people.runs.status("web-2"), "go-live")["approvedBy"] == ["alice"]
    people.assert_untouched(before)
    # when bob approves too, the run goes on and lists both
    accepted(people.decide_as("bob", "workflowruns", "web-2", {"action": "Approve", "step": "go-live"}))
    status = people.runs.wait_phase("web-2", *RUN_FINISHED, timeout=90)
    assert status["phase"] == "Succeeded", status
    assert step_record(status, "go-live")["approvedBy"] == ["alice", "bob"]
