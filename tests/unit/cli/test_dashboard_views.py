"""The dashboard's view models from plain objects: the pipeline graph's layout, barrier and approval summaries, the
buttons each run offers, the list's filters, and a canary run's weight and pods."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.cli.dashboard import views
from convoy.cli.tree import step_detail

from . import states
from .states import NOW, ago

Body = dict[str, Any]


def workflow_stage(name: str, **extra: Any) -> Body:
    return {"name": name, "workflow": {"workflowRef": {"name": "web"}}, **extra}


def pipeline_run(spec_stages: list[Body] | None, records: list[Body]) -> Body:
    status: Body = {"phase": "Running", "stages": records}
    if spec_stages is not None:
        status["pipelineSpec"] = {"stages": spec_stages}
    return {
        "metadata": {"name": "rel-1", "namespace": "shop"},
        "spec": {"pipelineRef": {"name": "rel"}},
        "status": status,
    }


def records(*names: str) -> list[Body]:
    return [{"name": n, "state": "Pending"} for n in names]


@pytest.mark.parametrize(
    ("spec_stages", "places", "edges"),
    [
        pytest.param(
            [workflow_stage("build"), workflow_stage("test"), workflow_stage("deploy")],
            {"build": (0, 0), "test": (1, 0), "deploy": (2, 0)},
            [["build", "test"], ["test", "deploy"]],
            id="sequence",
        ),
        pytest.param(
            [
                {"name": "approve", "approval": {"approvers": ["alice"]}},
                workflow_stage("region1"),
                workflow_stage("region2", parallel=True),
                workflow_stage("verify"),
            ],
            {"approve": (0, 0), "region1": (1, 0), "region2": (1, 1), "verify": (2, 0)},
            [["approve", "region1"], ["approve", "region2"], ["region1", "verify"], ["region2", "verify"]],
            id="parallel",
        ),
        pytest.param(
            [
                workflow_stage("build"),
                *[workflow_stage(f"test-{n}", requires=["build"]) for n in (1, 2, 3)],
                workflow_stage("deploy", requires=["test-1", "test-2", "test-3"]),
            ],
            {"build": (0, 0), "test-1": (1, 0), "test-2": (1, 1), "test-3": (1, 2), "deploy": (2, 0)},
            [
                ["build", "test-1"],
                ["build", "test-2"],
                ["build", "test-3"],
                ["test-1", "deploy"],
                ["test-2", "deploy"],
                ["test-3", "deploy"],
            ],
            id="fan-out-fan-in",
        ),
        pytest.param(
            None,
            {"build": (0, 0), "test": (1, 0), "deploy": (2, 0)},
            [["build", "test"], ["test", "deploy"]],
            id="not-started-yet",
        ),
    ],
)
def test_the_graph_places_each_stage_by_its_depth_in_the_requires_dag(
    spec_stages: list[Body] | None, places: dict[str, tuple[int, int]], edges: list[list[str]]
) -> None:
    names = [s["name"] for s in spec_stages] if spec_stages else ["build", "test", "deploy"]
    view = views.pipeline_run(pipeline_run(spec_stages, records(*names)), {}, NOW)
    assert {s["name"]: (s["column"], s["row"]) for s in view["stages"]} == places
    assert view["edges"] == edges


def test_a_waiting_approval_stage_says_who_may_approve_who_has_and_what_is_missing() -> None:
    approval = {"approvers": ["alice", "bob", "group:release"], "minApprovals": 2, "message": "Ship it?"}
    record = {
        "name": "approve",
        "state": "WaitingForApproval",
        "approvers": ["alice", "bob", "group:release"],
        "approvedBy": ["alice"],
        "deadline": states.later(3600),
    }
    view = views.pipeline_run(pipeline_run([{"name": "approve", "approval": approval}], [record]), {}, NOW)
    (stage,) = view["stages"]
    assert stage["kind"] == "approval"
    assert stage["approval"] == {
        "approvers": ["alice", "bob", "group:release"],
        "approvedBy": ["alice"],
        "needed": 1,
        "message": "Ship it?",
        "deadline": "2025-06-01T13:00:00Z (in 1h)",
    }
    assert [(a["verb"], a["kind"], a["namespace"], a["name"], a["stage"]) for a in stage["actions"]] == [
        ("approve", "pipelinerun", "shop", "rel-1", "approve"),
        ("reject", "pipelinerun", "shop", "rel-1", "approve"),
    ]
    assert [a["verb"] for a in view["actions"]] == ["abort"]


def with_mark(run: Body, state: str | None) -> Body:
    if state is not None:
        run["metadata"]["annotations"] = {"barrier.convoy.dev/regions-deployed": f"{state}/{'0' * 40}"}
    return run


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        pytest.param(
            {"region1": "reached", "region2": None},
            {"arrived": ["region1"], "failed": [], "missing": ["region2"], "state": "Waiting"},
            id="one-waits-for-the-other",
        ),
        pytest.param(
            {"region1": "crossed", "region2": "crossed"},
            {"arrived": ["region1", "region2"], "failed": [], "missing": [], "state": "Succeeded"},
            id="both-crossed",
        ),
        pytest.param(
            {"region1": "reached", "region2": "failed"},
            {"arrived": ["region1"], "failed": ["region2"], "missing": [], "state": "Failed"},
            id="one-failed",
        ),
    ],
)
def test_a_barrier_says_who_has_arrived_and_who_is_missing(
    marks: dict[str, str | None], expected: dict[str, Any]
) -> None:
    _, runs = states.pipeline_at_barrier()
    runs = {stage: with_mark(run, marks[stage]) for stage, run in runs.items()}
    (barrier,) = views.barriers(runs)
    assert {**barrier, "state": barrier["state"]["name"]} == {"name": "regions-deployed", **expected}


def test_a_run_whose_barrier_step_was_skipped_does_not_take_part() -> None:
    _, runs = states.pipeline_at_barrier()
    runs["region2"]["status"]["phases"][1]["steps"][0]["state"] = "Skipped"
    (barrier,) = views.barriers({**runs, "region3": "workflowruns web-3 not found"})
    assert (barrier["arrived"], barrier["missing"]) == ([], ["region1"])


def test_a_stage_whose_run_cannot_be_read_says_why() -> None:
    plr, _ = states.pipeline_at_barrier()
    view = views.pipeline_run(plr, {"region1": "workflowruns web-regions-7-region1 is forbidden"}, NOW)
    region1 = next(s for s in view["stages"] if s["name"] == "region1")
    assert region1["runError"] == "workflowrun web-regions-7-region1: workflowruns web-regions-7-region1 is forbidden"
    assert region1["run"] is None


def awaiting(kind: str, phase: str) -> Body:
    run = states.workflow_run("web-1", {"phase": phase, "phases": []})
    step = states.step("hold", "pause", "Waiting", 10, awaiting=kind)
    run["status"]["phases"] = [states.phase("one", "Running", step, start=10)]
    return run


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        pytest.param(
            states.approval_waiting(),
            [("approve", "go-live"), ("reject", "go-live"), ("abort", None), ("rollback", None)],
            id="approval",
        ),
        pytest.param(
            awaiting("Resume", "Paused"),
            [("promote", None), ("resume", "hold"), ("abort", None), ("rollback", None)],
            id="paused",
        ),
        pytest.param(
            states.waiting_for_intervention(),
            [("retry", None), ("ignore", None), ("abort", None), ("rollback", None)],
            id="intervention",
        ),
        pytest.param(states.canary_at_30_verifying(), [("abort", None), ("rollback", None)], id="running"),
        pytest.param(
            states.workflow_run("web-1", {"phase": "Succeeded"}), [("rollback", None)], id="succeeded-can-roll-back"
        ),
        pytest.param(states.failed_and_rolled_back(), [], id="rolled-back"),
    ],
)
def test_a_run_offers_the_decisions_it_can_take_now(run: Body, expected: list[tuple[str, str | None]]) -> None:
    actions = views.run_actions(run)
    assert [(a["verb"], a.get("step")) for a in actions] == expected
    assert {(a["kind"], a["namespace"], a["name"]) for a in actions} <= {
        ("workflowrun", "shop", run["metadata"]["name"])
    }


def test_a_canary_run_shows_its_weight_pods_and_the_plugins_step_details() -> None:
    run = states.canary_at_30_verifying()
    view = views.workflow_run(run, NOW)
    assert (view["weight"], view["pods"]) == (30, {"total": 10, "stable": 7, "canary": 3})
    assert view["podsText"] == "pods 7 stable + 3 canary (of 10)"
    assert [(p["name"], p["weight"], p["state"]["name"]) for p in view["phases"]] == [
        ("canary-10", 10, "Succeeded"),
        ("canary-30", 30, "Running"),
        ("canary-60", 60, "Pending"),
        ("full", 100, "Pending"),
    ]
    verifying = view["phases"][1]["steps"][1]
    record = run["status"]["phases"][1]["steps"][1]
    assert (verifying["detail"], verifying["tone"]) == step_detail("web-canary-1-1", record, {}, NOW)
    assert verifying["state"] == {"name": "Waiting", "symbol": "⏸", "tone": "yellow"}
    assert view["elapsed"] == "4m10s"


def test_a_queued_run_shows_its_place() -> None:
    assert views.workflow_run(states.waiting_for_a_slot(), NOW)["queue"] == "queue position 3 (progress limit)"


def test_the_list_filters_by_namespace_and_state_and_offers_what_there_is() -> None:
    objects: dict[str, list[Body] | str] = {
        "workflowruns": [
            states.approval_waiting(),
            states.canary_at_30_verifying(),
            states.workflow_run("api-1", {"phase": "Running"}, namespace="payments", created=30),
        ],
        "pipelineruns": [states.pipeline_at_barrier()[0]],
        "rollbacks": 'error: rollbacks.convoy.dev is forbidden: User "mallory" cannot list resource',
    }
    everything = views.listing(objects, NOW)
    assert everything["namespaces"] == ["payments", "shop"]
    assert everything["states"] == ["Running", "WaitingForApproval"]
    runs = everything["sections"][0]
    assert runs["kind"] == "WorkflowRun"
    assert [r["name"] for r in runs["rows"]] == ["api-1", "web-canary-1-1", "web-2-0"]  # newest first
    assert runs["rows"][1]["link"] == "#/workflowrun/shop/web-canary-1-1"
    assert runs["rows"][1]["cells"] == ["web-canary", "Canary", "canary-30/check-error-rate", "1/4", "30%", ""]
    assert everything["sections"][2] == {"kind": "Rollback", "headers": [], "rows": [], "error": objects["rollbacks"]}
    running_in_shop = views.listing(objects, NOW, namespace="shop", phase="Running")
    shown = {s["kind"]: [r["name"] for r in s["rows"]] for s in running_in_shop["sections"] if not s["error"]}
    assert shown == {"WorkflowRun": ["web-canary-1-1"], "PipelineRun": ["web-regions-7"]}
    assert running_in_shop["filter"] == {"namespace": "shop", "state": "Running"}


def test_a_workflow_is_listed_with_its_readiness() -> None:
    ready: Body = {
        "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": ago(60)},
        "spec": {"type": "Canary"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]},
    }
    broken: Body = {
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"type": "Rolling"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "bad"}]},
    }
    (section,) = views.listing({"workflows": [ready, broken]}, NOW)["sections"]
    assert [(r["name"], r["state"]["name"], r["cells"]) for r in section["rows"]] == [
        ("web", "Ready", ["Canary", "ok"]),
        ("api", "InvalidSpec", ["Rolling", "bad"]),
    ]
