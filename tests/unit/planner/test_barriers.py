"""Barrier views: where the other participants of a barrier stand. The participants are the stage runs the
PipelineRun records (namespace, name, uid), never a run that merely says it belongs; and a plan writes one mark
per barrier."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from convoy.api.pipeline import PipelineRunStatus, StageRecord, StageState
from convoy.api.workflowrun import RunPhase
from convoy.planner.actions import MarkBarrier
from convoy.planner.barriers import (
    StageRunRef,
    barrier_views,
    declared_barriers,
    mark_value,
    participant,
    read_mark,
    recorded_runs,
)
from convoy.planner.observed import BarrierView

from .builders import barrier, deploy, phase, rolling, strategy
from .pipeline_sim import workflow_stage
from .sim import Sim, actions_of, seconds

Obj = dict[str, Any]
ME = StageRunRef("region1", "rel-1-region1", "region1", "uid-region1")


def workflow(*barriers: str) -> Obj:
    """A rendered workflow (status.workflowSpec): deploy, then the barriers, in a wrap-up phase."""
    steps = [barrier(f"sync-{b}", b) for b in barriers]
    return {
        "type": "Rolling",
        "phases": [phase("deploy", deploy()), phase("wrap-up", *steps) if steps else phase("wrap-up", deploy("again"))],
    }


def sibling(
    stage: str,
    *,
    barriers: tuple[str, ...] = ("meet",),
    phase_: str = "Running",
    result: str | None = None,
    step_states: tuple[str, ...] | None = None,
    rolling_back: bool = False,
    started: bool = True,
    namespace: str | None = None,
    uid: str | None = None,
) -> Obj:
    """A sibling WorkflowRun object; `step_states` are the states of its barrier steps."""
    status: Obj = {"phase": phase_}
    if started:
        wf = workflow(*barriers)
        states = step_states or ("Pending",) * len(barriers)
        status["workflowSpec"] = wf
        status["phases"] = [
            {"name": "deploy", "steps": [{"name": "deploy", "kind": "deploy", "state": "Succeeded"}]},
            {
                "name": "wrap-up",
                "steps": [
                    {"name": f"sync-{b}", "kind": "barrier", "state": s} for b, s in zip(barriers, states, strict=True)
                ],
            },
        ]
    if result:
        status["result"] = result
    if rolling_back:
        status["rollingBack"] = True
    return {
        "metadata": {"name": f"rel-1-{stage}", "namespace": namespace or stage, "uid": uid or f"uid-{stage}"},
        "spec": {"pipelineRunRef": {"name": "rel-1", "namespace": "shop", "stage": stage}},
        "status": status,
    }


def seen(body: Obj, marks: dict[str, str] | None = None, stage: str | None = None) -> Any:
    """A sibling as the handler hands it over: `marks` are the ones whose seal it checked."""
    return participant(body, stage=stage or body["spec"]["pipelineRunRef"]["stage"], marks=marks or {})


def pipeline_run(
    *stages: Obj,
    recorded: tuple[str, ...] | None = None,
    uids: dict[str, str | None] | None = None,
    states: dict[str, StageState] | None = None,
) -> PipelineRunStatus:
    """The PipelineRun's status: every stage (or those `recorded`) running, with the uid its run was created with."""
    names = [s["name"] for s in stages]
    records = [
        StageRecord(
            name=n,
            state=(states or {}).get(n, StageState.RUNNING),
            workflow_run=f"rel-1-{n}",
            namespace=n,
            uid=(uids or {}).get(n, f"uid-{n}"),
        )
        for n in names
        if recorded is None or n in recorded
    ]
    return PipelineRunStatus(pipeline_spec={"stages": list(stages)}, stages=records)


PARALLEL = pipeline_run(
    workflow_stage("region1"), workflow_stage("region2", parallel=True), workflow_stage("region3", parallel=True)
)
REGION2 = "region2 (region2/rel-1-region2)"
REGION3 = "region3 (region3/rel-1-region3)"
FAILED_BY, MISSING = BarrierView(failed_by="db (db/rel-1-db)"), BarrierView(missing=("db (db/rel-1-db)",))


@pytest.mark.parametrize(
    ("siblings", "view"),
    [
        pytest.param([], BarrierView(all_reached=True), id="recorded-siblings-gone-do-not-block"),
        pytest.param([seen(sibling("region2", barriers=())), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="siblings-without-the-barrier"),
        pytest.param([seen(sibling("region2", barriers=("other",))), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="sibling-with-another-barrier"),
        pytest.param([seen(sibling("region2")), seen(sibling("region3", barriers=()))], BarrierView(missing=(REGION2,)), id="sibling-on-its-way"),
        pytest.param([seen(sibling("region2"), {"meet": "reached"}), seen(sibling("region3"), {"meet": "reached"})], BarrierView(all_reached=True), id="siblings-reached"),
        pytest.param([seen(sibling("region2", step_states=("Succeeded",)), {"meet": "crossed"}), seen(sibling("region3"), {"meet": "reached"})], BarrierView(all_reached=True), id="sibling-crossed"),
        pytest.param([seen(sibling("region2"), {"meet": "reached"}), seen(sibling("region3"))], BarrierView(missing=(REGION3,)), id="one-of-two-missing"),
        pytest.param([seen(sibling("region2"), {"meet": "failed"}), seen(sibling("region3"), {"meet": "reached"})], BarrierView(failed_by=REGION2), id="sibling-marked-failed"),
        pytest.param([seen(sibling("region2", rolling_back=True, phase_="RollingBack")), seen(sibling("region3", barriers=()))], BarrierView(failed_by=REGION2), id="sibling-rolling-back"),
        pytest.param([seen(sibling("region2", result="RolledBack", phase_="RolledBack")), seen(sibling("region3", barriers=()))], BarrierView(failed_by=REGION2), id="sibling-rolled-back-unmarked"),
        pytest.param([seen(sibling("region2", result="Aborted", phase_="Aborted")), seen(sibling("region3", barriers=()))], BarrierView(failed_by=REGION2), id="sibling-aborted"),
        pytest.param([seen(sibling("region2"), {"meet": "failed"}), seen(sibling("region3"))], BarrierView(failed_by=REGION2, missing=(REGION3,)), id="failed-wins-over-missing"),
        pytest.param([seen(sibling("region2", step_states=("Skipped",))), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="sibling-skipped-its-barrier"),
        pytest.param([seen(sibling("region2", result="Succeeded", phase_="Succeeded", step_states=("Skipped",))), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="sibling-succeeded-without-it"),
        pytest.param([seen(sibling("region2", started=False, phase_="Pending")), seen(sibling("region3", barriers=()))], BarrierView(missing=(REGION2,)), id="sibling-about-to-start"),
        pytest.param([seen(sibling("region2", started=False, phase_="Queued")), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="sibling-queued"),
        pytest.param([seen(sibling("region2", started=False, phase_="Failed", result="Failed")), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="sibling-never-started"),
        pytest.param([seen(sibling("region1")), seen(sibling("region2", barriers=())), seen(sibling("region3", barriers=()))], BarrierView(all_reached=True), id="me-is-not-my-sibling"),
    ],
)  # fmt: skip
def test_views_of_parallel_siblings(siblings: list[Any], view: BarrierView) -> None:
    views = barrier_views(barriers=["meet"], me=ME, siblings=siblings, pipeline_run=PARALLEL)
    assert views == {"meet": view}


# Who takes part: the runs the PipelineRun recorded, and no other

TWO = pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True))


@pytest.mark.parametrize(
    ("status", "siblings", "view"),
    [
        pytest.param(TWO, [seen(sibling("region2"), {"meet": "reached"})], BarrierView(all_reached=True), id="recorded-run-takes-part"),
        pytest.param(
            TWO,
            [seen(sibling("region2", barriers=())), seen(sibling("evil", namespace="team-a"), {"meet": "failed"}, stage="region2")],
            BarrierView(all_reached=True),
            id="attack-unrecorded-run-claiming-the-stage-is-no-participant",
        ),
        pytest.param(
            TWO,
            [seen(sibling("region2", uid="someone-elses"), {"meet": "failed"})],
            BarrierView(all_reached=True),
            id="attack-run-replaced-under-the-recorded-name-is-no-participant",
        ),
        pytest.param(
            pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True), uids={"region2": None}),
            [seen(sibling("region2"), {"meet": "reached"})],
            BarrierView(missing=(REGION2,)),
            id="run-whose-uid-is-not-recorded-yet-is-about-to-start",
        ),
        pytest.param(
            pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True), uids={"region2": None},
                         states={"region2": StageState.FAILED}),
            [],
            BarrierView(all_reached=True),
            id="stage-that-refused-a-run-it-did-not-create-does-not-block",
        ),
        pytest.param(
            pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True), states={"region2": StageState.REUSED}),
            [seen(sibling("region2"), {"meet": "failed"})],
            BarrierView(all_reached=True),
            id="reused-stage-names-an-earlier-runs-run",
        ),
        pytest.param(TWO, [], BarrierView(all_reached=True), id="recorded-run-deleted-does-not-block"),
    ],
)  # fmt: skip
def test_participants_are_the_recorded_runs(status: PipelineRunStatus, siblings: list[Any], view: BarrierView) -> None:
    assert barrier_views(barriers=["meet"], me=ME, siblings=siblings, pipeline_run=status) == {"meet": view}


def test_recorded_runs_are_those_of_this_pipeline_run() -> None:
    status = pipeline_run(
        *(workflow_stage(n) for n in ("a", "b", "c", "d", "e")),
        states={"b": StageState.REUSED, "c": StageState.SKIPPED, "d": StageState.WAITING_FOR_APPROVAL},
    )
    assert [r.name for r in recorded_runs(status)] == ["a", "e"]


@pytest.mark.parametrize(
    ("status", "me", "waiting_for"),
    [
        pytest.param(
            pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True), recorded=()),
            ME,
            "the pipeline run to record stage region1",
            id="my-stage-not-recorded",
        ),
        pytest.param(
            pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True), uids={"region1": None}),
            ME,
            "the pipeline run to record stage region1",
            id="my-uid-not-recorded",
        ),
        pytest.param(
            PARALLEL,
            replace(ME, uid="an-impostor"),
            "the pipeline run to record stage region1",
            id="attack-impostor-under-my-name-never-crosses",
        ),
        pytest.param(None, ME, "the pipeline run, which is gone", id="pipeline-run-gone"),
    ],
)
def test_nothing_is_crossed_before_the_pipeline_run_recorded_me(
    status: PipelineRunStatus | None, me: StageRunRef, waiting_for: str
) -> None:
    """The runs created in the same cycle as mine may not all exist yet; and without the PipelineRun nobody can
    be trusted to take part."""
    views = barrier_views(barriers=["meet", "done"], me=me, siblings=[], pipeline_run=status)
    waiting = BarrierView(missing=(waiting_for,))
    assert views == {"meet": waiting, "done": waiting}


@pytest.mark.parametrize(
    ("stages", "other", "view"),
    [
        pytest.param(
            [workflow_stage("build"), workflow_stage("region1")], "build", BarrierView(all_reached=True), id="required-stage"
        ),
        pytest.param(
            [workflow_stage("region1"), workflow_stage("verify")], "verify", BarrierView(all_reached=True), id="requiring-stage"
        ),
        pytest.param(
            [workflow_stage("a"), workflow_stage("region1", requires=["a"]), workflow_stage("b", requires=["a"]),
             workflow_stage("c", requires=["b"])],
            "c",
            BarrierView(missing=("c (c/rel-1-c)",)),
            id="unrelated-branch-of-the-dag",
        ),
    ],
)  # fmt: skip
def test_only_stages_that_run_beside_mine_take_part(stages: list[Obj], other: str, view: BarrierView) -> None:
    """Waiting for a stage I require (it finished before I started) or one that requires me (it cannot start
    before I finish) would deadlock."""
    status = pipeline_run(*stages, recorded=("region1", other))
    siblings = [seen(sibling(other, result="Failed" if other == "build" else None))]
    assert barrier_views(barriers=["meet"], me=ME, siblings=siblings, pipeline_run=status) == {"meet": view}


def test_each_barrier_has_its_own_view() -> None:
    region2 = sibling("region2", barriers=("first", "second"), step_states=("Succeeded", "Pending"))
    status = TWO
    views = barrier_views(
        barriers=["first", "second"], me=ME, siblings=[seen(region2, {"first": "crossed"})], pipeline_run=status
    )
    assert views == {"first": BarrierView(all_reached=True), "second": BarrierView(missing=(REGION2,))}


def test_participant_takes_the_stage_from_the_record_and_only_the_marks_given() -> None:
    body = sibling("region2", barriers=("a", "b"), step_states=("Succeeded", "Waiting"))
    body["spec"]["pipelineRunRef"]["stage"] = "prod"  # anyone may write the spec: the record names the stage
    body["metadata"]["annotations"] = {"barrier.convoy.dev/b": "failed"}
    taken = participant(body, stage="region2", marks={"a": "crossed"})
    assert taken.marks == {"a": "crossed"}
    assert taken.declared is not None and {k: v.value for k, v in taken.declared.items()} == {
        "a": "Succeeded",
        "b": "Waiting",
    }
    assert (taken.stage, taken.uid, taken.label) == ("region2", "uid-region2", REGION2)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        pytest.param(mark_value("reached", "abc"), ("reached", "abc"), id="sealed"),
        pytest.param("failed", ("failed", ""), id="without-seal"),
        pytest.param("failed/x/y", ("failed", "x/y"), id="odd-seal"),
    ],
)
def test_mark_values(value: str, parsed: tuple[str, str]) -> None:
    assert read_mark(value) == parsed


def test_declared_barriers() -> None:
    wf = rolling(phases=[phase("deploy", deploy(), barrier("one", "first")), phase("wrap", barrier("two", "second"))])
    assert declared_barriers(wf) == ["first", "second"]


# One mark per barrier in a plan (issue 12, item 11)


@pytest.mark.parametrize(
    ("action", "view", "wait", "mark", "phase"),
    [
        pytest.param("Abort", FAILED_BY, 0, "failed", RunPhase.ABORTED, id="failed-by-another-abort"),
        pytest.param("Rollback", FAILED_BY, 0, "failed", RunPhase.ROLLING_BACK, id="failed-by-another-rollback"),
        pytest.param("ManualIntervention", FAILED_BY, 0, "failed", RunPhase.WAITING_FOR_INTERVENTION, id="failed-by-another-intervention"),
        pytest.param("Ignore", FAILED_BY, 0, "failed", RunPhase.SUCCEEDED, id="failed-by-another-ignore"),
        pytest.param("Abort", MISSING, 600, "failed", RunPhase.ABORTED, id="timeout-abort"),
        pytest.param("Rollback", MISSING, 600, "reached", RunPhase.ROLLING_BACK, id="timeout-rollback"),
        pytest.param("ManualIntervention", MISSING, 600, "reached", RunPhase.WAITING_FOR_INTERVENTION, id="timeout-intervention"),
        pytest.param("Ignore", MISSING, 600, "reached", RunPhase.SUCCEEDED, id="timeout-ignore"),
    ],
)  # fmt: skip
def test_a_failing_barrier_writes_one_mark_and_ends_the_wait(
    action: str, view: BarrierView, wait: int, mark: str, phase: RunPhase
) -> None:
    """Marking "reached" then "failed" in one plan flipped the annotation on every replan, and each flip made the
    status write conflict: the run never left the barrier. Whatever the failure strategy, a plan writes one mark
    per barrier, the same when planned again, and the run stops waiting at the barrier."""
    sim = Sim(rolling(barrier(timeout="10m"), failure_strategies=[strategy(action)]))
    sim.in_pipeline = True
    sim.reconcile()
    sim.advance(seconds(5))
    sim.reconcile()
    assert sim.status.phase is RunPhase.WAITING_AT_BARRIER
    sim.cluster.barriers["meet"] = view
    sim.now += seconds(wait)

    first, again = sim.plan_once(), sim.plan_once()  # again: the same cycle planned after a write conflict

    assert actions_of(first, MarkBarrier) == [MarkBarrier("meet", mark)] == actions_of(again, MarkBarrier)
    sim.reconcile()
    assert sim.status.phase is phase
    assert sim.cluster.marks == {"meet": mark}
