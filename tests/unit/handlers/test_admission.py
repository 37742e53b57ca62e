"""Admission of WorkflowRuns and PipelineRuns: no decisions on CREATE, the creator recorded and fixed, every new
decision stamped and sealed by the mutating webhook and checked by the validating one, approval rules, and the
rights a Rollback decision or an inline workflow implies. What admission sealed is what the reconcile trusts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sealing import use_key

from convoy.adapters import access
from convoy.handlers.admission import (
    ADMITTED_AT,
    ADMITTED_AT_SEAL,
    CREATED_BY,
    CREATED_BY_SEAL,
    access_problems,
    admitted,
    creator,
    provenance,
    stamp_patch,
)

from .admission_objects import NOW, appended, check, created, merge, messages

Obj = dict[str, Any]
CAROL = {"username": "carol", "uid": "u-carol", "groups": ["system:authenticated"]}
ALICE = {"username": "alice", "uid": "u-alice", "groups": ["release", "system:authenticated"]}
MALLORY = {"username": "mallory", "uid": "u-mallory", "groups": ["system:authenticated"]}
NO_DECISIONS = (
    "spec.decisions: a run cannot be created with decisions; decide once it exists (kubectl convoy approve ...)"
)
STAMPED = (
    "spec.decisions[0]: by, groups, at and seal are written by Convoy's admission webhook for the requesting user "
    "and cannot be set or changed"
)
FIXED = (
    "metadata.annotations: convoy.dev/created-by and convoy.dev/created-by-seal record who created the run and cannot "
    "be changed"
)
ADMISSION_FIXED = (
    "metadata.annotations: convoy.dev/admitted-at and convoy.dev/admitted-at-seal record when Convoy admitted the run "
    "(its place in a queue) and cannot be set or changed"
)
WORKFLOW = {
    "type": "Rolling",
    "target": {"deployment": "web"},
    "artifact": {"image": "registry.example/web:1.1"},
    "phases": [
        {
            "name": "rollout",
            "steps": [
                {"name": "deploy", "deploy": {}},
                {"name": "release", "approval": {"approvers": ["alice", "bob"]}},
            ],
        }
    ],
}


def workflow_run(**spec: Any) -> Obj:
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "WorkflowRun",
        "metadata": {"name": "web-1", "namespace": "shop"},
        "spec": {"workflowRef": {"name": "web"}, **spec},
    }


def pipeline_run(**spec: Any) -> Obj:
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"generateName": "rel-", "namespace": "shop"},
        "spec": {"pipelineRef": {"name": "release"}, **spec},
    }


BODIES = {"WorkflowRun": workflow_run, "PipelineRun": pipeline_run}


def stored(kind: str, by: Obj = CAROL) -> Obj:
    """A run `by` created, as stored (a generated name filled in, as the API server does after mutation)."""
    body = created(kind, BODIES[kind](), by)
    body["metadata"].setdefault("name", "rel-x7k2p")
    return body


def waiting_for_approval(by: Obj = CAROL) -> Obj:
    run = stored("WorkflowRun", by)
    run["status"] = {
        "startedAt": "2025-03-01T12:00:00Z",
        "workflowSpec": WORKFLOW,
        "currentStep": "release",
        "phases": [{"name": "rollout", "steps": [{"name": "deploy"}, {"name": "release", "approvedBy": []}]}],
    }
    return run


# CREATE


@pytest.mark.parametrize(
    "kind", [pytest.param("WorkflowRun", id="workflowrun"), pytest.param("PipelineRun", id="pipelinerun")]
)
@pytest.mark.parametrize(
    ("decisions", "problems"),
    [
        pytest.param([], [], id="none"),
        pytest.param([{"action": "PromoteFull"}], [NO_DECISIONS], id="promote-full"),
        pytest.param([{"action": "Approve", "by": "alice"}], [NO_DECISIONS], id="approve-by-someone-else"),
        pytest.param([{"action": "Rollback"}], [NO_DECISIONS], id="rollback"),
    ],
)  # fmt: skip
def test_a_run_cannot_be_created_with_decisions(kind: str, decisions: list[Obj], problems: list[str]) -> None:
    body = BODIES[kind](decisions=decisions)
    assert check(kind, created(kind, body, MALLORY), None, MALLORY) == problems


@pytest.mark.parametrize(
    ("annotations", "problems"),
    [
        pytest.param({}, [], id="stamped-by-the-webhook"),
        pytest.param({CREATED_BY: "alice"}, [FIXED], id="creator-changed-after-stamping"),
        pytest.param({CREATED_BY_SEAL: "0" * 40}, [FIXED], id="seal-changed-after-stamping"),
    ],
)
def test_the_creator_is_stamped_on_create(annotations: Obj, problems: list[str]) -> None:
    body = created("WorkflowRun", workflow_run(), MALLORY)
    body["metadata"]["annotations"].update(annotations)
    assert check("WorkflowRun", body, None, MALLORY) == problems


def test_what_a_user_writes_as_creator_is_overwritten() -> None:
    body = workflow_run()
    body["metadata"]["annotations"] = {CREATED_BY: "alice", CREATED_BY_SEAL: "forged"}
    stamped = created("WorkflowRun", body, MALLORY)
    assert stamped["metadata"]["annotations"][CREATED_BY] == "mallory"
    assert creator("WorkflowRun", stamped) == "mallory"


@pytest.mark.parametrize(
    "kind", [pytest.param("WorkflowRun", id="workflowrun"), pytest.param("PipelineRun", id="pipelinerun")]
)
def test_the_creator_seal_holds_once_the_name_is_generated(kind: str) -> None:
    assert creator(kind, stored(kind)) == "carol"


# UPDATE: the creator annotations


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        pytest.param(lambda a: a.update({"team": "web"}), [], id="other-annotation"),
        pytest.param(lambda a: a.update({CREATED_BY: "alice"}), [FIXED], id="creator-changed"),
        pytest.param(lambda a: a.pop(CREATED_BY_SEAL), [FIXED], id="seal-removed"),
        pytest.param(lambda a: a.clear(), [FIXED, ADMISSION_FIXED], id="all-removed"),
    ],
)  # fmt: skip
def test_the_creator_cannot_be_changed(change: Any, problems: list[str]) -> None:
    old = stored("WorkflowRun")
    new = copy.deepcopy(old)
    change(new["metadata"]["annotations"])
    assert check("WorkflowRun", new, old, MALLORY) == problems


# UPDATE: decisions are stamped, sealed, append-only


def test_a_new_decision_is_stamped_and_sealed() -> None:
    old = stored("WorkflowRun")
    new = appended("WorkflowRun", old, ALICE, {"action": "Resume", "by": "someone-else", "seal": "x"})
    (decision,) = new["spec"]["decisions"]
    assert (decision["by"], decision["groups"], decision["at"]) == ("alice", ALICE["groups"], "2025-03-01T12:00:00Z")
    assert check("WorkflowRun", new, old, ALICE) == []
    assert provenance("WorkflowRun", new).sealed == {0}


@pytest.mark.parametrize(
    ("tamper", "problems"),
    [
        pytest.param(lambda d: None, [], id="as-stamped"),
        pytest.param(lambda d: d.update(by="bob"), [STAMPED], id="by-changed"),
        pytest.param(lambda d: d.update(groups=["admins"]), [STAMPED], id="groups-changed"),
        pytest.param(lambda d: d.update(at="2020-01-01T00:00:00Z"), [STAMPED], id="at-changed"),
        pytest.param(lambda d: d.update(action="PromoteFull"), [STAMPED], id="action-changed"),
        pytest.param(lambda d: d.update(step="other"), [STAMPED], id="step-changed"),
        pytest.param(lambda d: d.pop("seal"), [STAMPED], id="seal-removed"),
        pytest.param(lambda d: d.update(reason="changed"), [], id="reason-is-not-sealed"),
    ],
)  # fmt: skip
def test_a_decision_must_keep_the_stamp_the_mutating_webhook_wrote(tamper: Any, problems: list[str]) -> None:
    """As when another mutating webhook, after Convoy's, rewrote the decision."""
    old = stored("WorkflowRun")
    new = appended("WorkflowRun", old, ALICE, {"action": "Resume", "step": "hold"})
    tamper(new["spec"]["decisions"][0])
    assert check("WorkflowRun", new, old, ALICE) == problems


def test_a_decision_without_the_mutating_webhook_is_refused() -> None:
    old = stored("WorkflowRun")
    new = merge(old, {"spec": {"decisions": [{"action": "Approve", "by": "alice", "groups": [], "at": "now"}]}})
    assert check("WorkflowRun", new, old, ALICE) == [STAMPED]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        pytest.param(lambda ds: ds.pop(0), "spec.decisions: decisions are append-only: add new ones at the end", id="removed"),
        pytest.param(lambda ds: ds[0].update(action="Approve"), "spec.decisions: decisions are append-only: add new ones at the end", id="rewritten"),
    ],
)  # fmt: skip
def test_decisions_are_append_only(edit: Any, problem: str) -> None:
    old = appended("WorkflowRun", stored("WorkflowRun"), ALICE, {"action": "Resume"})
    new = copy.deepcopy(old)
    edit(new["spec"]["decisions"])
    assert check("WorkflowRun", new, old, ALICE) == [problem]


# UPDATE: approval steps of a WorkflowRun


@pytest.mark.parametrize(
    ("user", "action", "creator_user", "approved", "problem"),
    [
        pytest.param(ALICE, "Approve", CAROL, [], None, id="approver"),
        pytest.param(MALLORY, "Approve", CAROL, [], "mallory may not approve step release: the approvers are alice, bob", id="not-an-approver"),
        pytest.param(MALLORY, "Reject", CAROL, [], "mallory may not reject step release: the approvers are alice, bob", id="reject-not-an-approver"),
        pytest.param(MALLORY, "Ignore", CAROL, [], "mallory may not ignore the failure of step release: the approvers are alice, bob", id="ignore-not-an-approver"),
        pytest.param(ALICE, "Approve", ALICE, [], "alice may not approve step release: alice created the run and allowSelfApproval is false", id="self-approval"),
        pytest.param(ALICE, "Reject", ALICE, [], None, id="creator-may-reject"),
        pytest.param(ALICE, "Approve", CAROL, ["alice"], "alice has already approved step release: each approver counts once (1 needed)", id="already-approved"),
        pytest.param(MALLORY, "Resume", CAROL, [], None, id="not-about-approval"),
    ],
)  # fmt: skip
def test_step_approvals(user: Obj, action: str, creator_user: Obj, approved: list[str], problem: str | None) -> None:
    old = waiting_for_approval(creator_user)
    old["status"]["phases"][0]["steps"][1]["approvedBy"] = approved
    new = appended("WorkflowRun", old, user, {"action": action})
    assert check("WorkflowRun", new, old, user) == ([f"spec.decisions[0]: {problem}"] if problem else [])


def test_a_run_without_a_sealed_creator_cannot_be_approved_unless_self_approval_is_allowed() -> None:
    old = waiting_for_approval()
    old["metadata"]["annotations"] = {CREATED_BY: "carol"}  # written while admission was bypassed: no seal
    new = appended("WorkflowRun", old, ALICE, {"action": "Approve"})
    assert check("WorkflowRun", new, old, ALICE) == [
        "spec.decisions[0]: alice may not approve step release: Convoy has no sealed record of who created the run "
        "(annotation convoy.dev/created-by), so self-approval cannot be ruled out (allowSelfApproval is false)"
    ]


# What the reconcile trusts


@pytest.mark.parametrize(
    ("tamper", "sealed", "made_by"),
    [
        pytest.param(lambda run: None, {0, 1}, "carol", id="as-admitted"),
        pytest.param(lambda run: run["spec"]["decisions"][1].update(action="PromoteFull"), {0}, "carol", id="action-rewritten"),
        pytest.param(lambda run: run["spec"]["decisions"][0].update(by="alice"), {1}, "carol", id="decider-rewritten"),
        pytest.param(lambda run: run["spec"]["decisions"].reverse(), set(), "carol", id="reordered"),
        pytest.param(lambda run: run["metadata"].update(uid="another-run"), set(), "carol", id="copied-to-another-run"),
        pytest.param(lambda run: run["spec"]["decisions"].append({"action": "Approve", "by": "alice", "seal": "f" * 40}), {0, 1}, "carol", id="forged-seal"),
        pytest.param(lambda run: run["metadata"]["annotations"].update({CREATED_BY: "alice"}), {0, 1}, None, id="creator-rewritten"),
        pytest.param(lambda run: run["metadata"].update(namespace="prod"), {0, 1}, None, id="creator-copied-to-another-namespace"),
    ],
)  # fmt: skip
def test_provenance_trusts_only_what_admission_sealed(tamper: Any, sealed: set[int], made_by: str | None) -> None:
    run = appended("WorkflowRun", stored("WorkflowRun"), MALLORY, {"action": "Resume"})
    run = appended("WorkflowRun", run, ALICE, {"action": "Approve"})
    tamper(run)
    assert provenance("WorkflowRun", run).sealed == sealed
    assert provenance("WorkflowRun", run).creator == made_by


def test_seals_depend_on_the_key() -> None:
    run = appended("WorkflowRun", stored("WorkflowRun"), ALICE, {"action": "Approve"})
    use_key(b"another key, another installation")
    assert provenance("WorkflowRun", run).sealed == frozenset()
    assert provenance("WorkflowRun", run).creator is None


def test_decisions_are_not_stamped_on_create() -> None:
    """They are refused then; the mutating webhook only records the creator (the run has no uid yet)."""
    patch = stamp_patch("WorkflowRun", workflow_run(decisions=[{"action": "Approve"}]), None, ALICE, NOW)
    assert set(patch) == {"metadata"}


# Rights a write implies: SubjectAccessReviews


class Reviews:
    """A fake API server answering SubjectAccessReviews from a set of (user, resource) pairs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, granted: set[tuple[str, str]], operator: str) -> None:
        self.granted, self.asked = granted, list[tuple[str, str, str, str]]()
        monkeypatch.setattr(access, "may", self.may)
        monkeypatch.setattr(access, "operator_username", self.whoami)
        self.operator = operator

    async def may(self, user: Any, *, verb: str, group: str, resource: str, namespace: str) -> bool:
        self.asked.append((user["username"], verb, f"{resource}.{group}", namespace))
        return (user["username"], resource) in self.granted

    async def whoami(self) -> str:
        return self.operator


OPERATOR_NAME = "system:serviceaccount:convoy-system:convoy"
OPERATOR: Obj = {"username": OPERATOR_NAME, "groups": []}
NO_ROLLBACK = (
    "spec.decisions[0]: mallory may not roll back this run: a Rollback decision needs the right to create rollbacks "
    "(convoy.dev) in namespace shop"
)
NO_INLINE = (
    "spec.workflow: mallory may not run an inline workflow: that needs the right to create workflows (convoy.dev) in "
    "namespace shop; run an existing Workflow with workflowRef instead"
)


@pytest.mark.parametrize(
    "kind", [pytest.param("WorkflowRun", id="workflowrun"), pytest.param("PipelineRun", id="pipelinerun")]
)
@pytest.mark.parametrize(
    ("user", "action", "granted", "problems"),
    [
        pytest.param(MALLORY, "Rollback", set(), [NO_ROLLBACK], id="rollback-without-the-right"),
        pytest.param(MALLORY, "Rollback", {("mallory", "rollbacks")}, [], id="rollback-with-the-right"),
        pytest.param(OPERATOR, "Rollback", set(), [], id="the-operator-for-a-rollback-object"),
        pytest.param(MALLORY, "Abort", set(), [], id="not-a-rollback"),
    ],
)  # fmt: skip
async def test_a_rollback_decision_needs_the_right_to_create_a_rollback(
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    user: Obj,
    action: str,
    granted: set[tuple[str, str]],
    problems: list[str],
) -> None:
    reviews = Reviews(monkeypatch, granted, OPERATOR_NAME)
    old = stored(kind)
    new = appended(kind, old, user, {"action": action})
    assert messages(await access_problems(kind, new, old, user)) == problems
    if action == "Rollback":
        assert reviews.asked == [(user["username"], "create", "rollbacks.convoy.dev", "shop")]


@pytest.mark.parametrize(
    ("old_workflow", "new_workflow", "granted", "problems"),
    [
        pytest.param(None, WORKFLOW, set(), [NO_INLINE], id="create-without-the-right"),
        pytest.param(None, WORKFLOW, {("mallory", "workflows")}, [], id="create-with-the-right"),
        pytest.param(None, None, set(), [], id="create-with-workflowref"),
        pytest.param(WORKFLOW, WORKFLOW, set(), [], id="update-keeps-it"),
        pytest.param(WORKFLOW, {**WORKFLOW, "type": "Basic"}, set(), [NO_INLINE], id="update-changes-it"),
    ],
)  # fmt: skip
async def test_an_inline_workflow_needs_the_right_to_create_workflows(
    monkeypatch: pytest.MonkeyPatch,
    old_workflow: Obj | None,
    new_workflow: Obj | None,
    granted: set[tuple[str, str]],
    problems: list[str],
) -> None:
    Reviews(monkeypatch, granted, OPERATOR_NAME)
    inline = {"workflow": new_workflow} if new_workflow else {"workflowRef": {"name": "web"}}
    new = {**workflow_run(), "spec": inline}
    old = None if old_workflow is None else {**workflow_run(), "spec": {"workflow": old_workflow}}
    assert messages(await access_problems("WorkflowRun", new, old, MALLORY)) == problems


async def test_a_run_of_a_workflow_by_reference_needs_no_review(monkeypatch: pytest.MonkeyPatch) -> None:
    reviews = Reviews(monkeypatch, set(), OPERATOR_NAME)
    assert await access_problems("WorkflowRun", stored("WorkflowRun", MALLORY), None, MALLORY) == []
    assert reviews.asked == []


ON_BEHALF = (
    "spec.decisions[0].requestedBy: only Convoy sets requestedBy, for the user who created the Rollback it decides "
    "for: leave it out"
)


@pytest.mark.parametrize(
    ("user", "problems"),
    [
        pytest.param(OPERATOR, [], id="the-operator-for-a-rollback-object"),
        pytest.param(MALLORY, [ON_BEHALF], id="a-user-claiming-to-decide-for-someone"),
    ],
)
async def test_only_convoy_decides_on_someones_behalf(
    monkeypatch: pytest.MonkeyPatch, user: Obj, problems: list[str]
) -> None:
    Reviews(monkeypatch, {("mallory", "rollbacks")}, OPERATOR_NAME)
    old = stored("WorkflowRun")
    new = appended("WorkflowRun", old, user, {"action": "Rollback", "requestedBy": "oncall-olga"})
    assert messages(await access_problems("WorkflowRun", new, old, user)) == problems


# The admission time: the order of runs created in one second (the Queue policy), stamped and sealed on CREATE


def test_the_admission_time_is_stamped_with_nanoseconds_and_sealed_on_create() -> None:
    body = created("WorkflowRun", workflow_run(), CAROL)
    assert body["metadata"]["annotations"][ADMITTED_AT] == "2025-03-01T12:00:00.000000000Z"
    assert admitted("WorkflowRun", body) == int(NOW.timestamp()) * 1_000_000_000
    live = merge(workflow_run(), stamp_patch("WorkflowRun", workflow_run(), None, CAROL))
    at = live["metadata"]["annotations"][ADMITTED_AT]
    assert len(at.partition(".")[2]) == len("123456789Z"), at
    assert admitted("WorkflowRun", live) is not None


def test_an_admission_time_a_user_writes_is_overwritten() -> None:
    body = workflow_run()
    body["metadata"]["annotations"] = {ADMITTED_AT: "2000-01-01T00:00:00.000000000Z", ADMITTED_AT_SEAL: "forged"}
    stamped = created("WorkflowRun", body, MALLORY)
    assert stamped["metadata"]["annotations"][ADMITTED_AT] == "2025-03-01T12:00:00.000000000Z"
    assert check("WorkflowRun", stamped, None, MALLORY) == []


@pytest.mark.parametrize(
    "kind", [pytest.param("WorkflowRun", id="workflowrun"), pytest.param("PipelineRun", id="pipelinerun")]
)
def test_the_admission_seal_holds_once_the_name_is_generated(kind: str) -> None:
    assert admitted(kind, stored(kind)) == int(NOW.timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        pytest.param(lambda a: None, [], id="as-stamped"),
        pytest.param(lambda a: a.update({ADMITTED_AT: "2025-03-01T11:00:00.000000000Z"}), [ADMISSION_FIXED], id="earlier-time"),
        pytest.param(lambda a: a.update({ADMITTED_AT_SEAL: "0" * 40}), [ADMISSION_FIXED], id="seal-changed"),
        pytest.param(lambda a: a.pop(ADMITTED_AT_SEAL), [ADMISSION_FIXED], id="seal-removed"),
        pytest.param(lambda a: a.pop(ADMITTED_AT), [ADMISSION_FIXED], id="time-removed"),
    ],
)  # fmt: skip
def test_the_admission_time_cannot_be_set_on_create_nor_changed(change: Any, problems: list[str]) -> None:
    # CREATE: what reaches the validating webhook must be what the mutating one wrote
    body = created("WorkflowRun", workflow_run(), MALLORY)
    change(body["metadata"]["annotations"])
    assert check("WorkflowRun", body, None, MALLORY) == problems
    # UPDATE
    old = stored("WorkflowRun")
    new = copy.deepcopy(old)
    change(new["metadata"]["annotations"])
    assert check("WorkflowRun", new, old, MALLORY) == problems


@pytest.mark.parametrize(
    "at",
    [
        pytest.param("2025-03-01T12:00:00Z", id="no-fraction"),
        pytest.param("2025-03-01T12:00:00.123Z", id="milliseconds"),
        pytest.param("yesterday", id="not-a-time"),
    ],
)
def test_an_admission_time_not_written_by_convoy_counts_as_none(at: str) -> None:
    body = stored("WorkflowRun")
    body["metadata"]["annotations"][ADMITTED_AT] = at
    assert admitted("WorkflowRun", body) is None
