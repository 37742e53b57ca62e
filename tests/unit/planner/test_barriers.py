"""Barrier views: where the other participants of a barrier stand, from the WorkflowRuns of one PipelineRun."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.pipeline import PipelineRunStatus, StageRecord, StageState
from convoy.planner.barriers import barrier_views, declared_barriers, participant
from convoy.planner.observed import BarrierView

from .builders import barrier, deploy, phase, rolling
from .pipeline_sim import workflow_stage

Obj = dict[str, Any]
ME = ("region1", "rel-1-region1", "region1")


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
    marks: Obj | None = None,
    phase_: str = "Running",
    result: str | None = None,
    step_states: tuple[str, ...] | None = None,
    rolling_back: bool = False,
    started: bool = True,
    namespace: str | None = None,
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
    annotations = {f"barrier.convoy.dev/{k}": v for k, v in (marks or {}).items()}
    return {
        "metadata": {"name": f"rel-1-{stage}", "namespace": namespace or stage, "annotations": annotations},
        "spec": {"pipelineRunRef": {"name": "rel-1", "namespace": "shop", "stage": stage}},
        "status": status,
    }


def pipeline_run(*stages: Obj, recorded: tuple[str, ...] = ("region1",)) -> PipelineRunStatus:
    records = [
        StageRecord(name=s["name"], state=StageState.RUNNING, workflow_run=f"rel-1-{s['name']}", namespace=s["name"])
        for s in stages
        if s["name"] in recorded
    ]
    return PipelineRunStatus(pipeline_spec={"stages": list(stages)}, stages=records)


PARALLEL = pipeline_run(
    workflow_stage("region1"), workflow_stage("region2", parallel=True), workflow_stage("region3", parallel=True)
)
REGION2 = "region2 (region2/rel-1-region2)"
REGION3 = "region3 (region3/rel-1-region3)"


@pytest.mark.parametrize(
    ("siblings", "view"),
    [
        pytest.param([], BarrierView(all_reached=True), id="alone-does-not-block"),
        pytest.param([sibling("region2", barriers=())], BarrierView(all_reached=True), id="sibling-without-the-barrier"),
        pytest.param([sibling("region2", barriers=("other",))], BarrierView(all_reached=True), id="sibling-with-another-barrier"),
        pytest.param([sibling("region2")], BarrierView(missing=(REGION2,)), id="sibling-on-its-way"),
        pytest.param([sibling("region2", marks={"meet": "reached"})], BarrierView(all_reached=True), id="sibling-reached"),
        pytest.param([sibling("region2", marks={"meet": "crossed"}, step_states=("Succeeded",))], BarrierView(all_reached=True), id="sibling-crossed"),
        pytest.param([sibling("region2", marks={"meet": "reached"}), sibling("region3")], BarrierView(missing=(REGION3,)), id="one-of-two-missing"),
        pytest.param([sibling("region2", marks={"meet": "failed"})], BarrierView(failed_by=REGION2), id="sibling-marked-failed"),
        pytest.param([sibling("region2", rolling_back=True, phase_="RollingBack")], BarrierView(failed_by=REGION2), id="sibling-rolling-back"),
        pytest.param([sibling("region2", result="RolledBack", phase_="RolledBack")], BarrierView(failed_by=REGION2), id="sibling-rolled-back-unmarked"),
        pytest.param([sibling("region2", result="Aborted", phase_="Aborted")], BarrierView(failed_by=REGION2), id="sibling-aborted"),
        pytest.param([sibling("region2", marks={"meet": "failed"}), sibling("region3")], BarrierView(failed_by=REGION2, missing=(REGION3,)), id="failed-wins-over-missing"),
        pytest.param([sibling("region2", step_states=("Skipped",))], BarrierView(all_reached=True), id="sibling-skipped-its-barrier"),
        pytest.param([sibling("region2", result="Succeeded", phase_="Succeeded", step_states=("Skipped",))], BarrierView(all_reached=True), id="sibling-succeeded-without-it"),
        pytest.param([sibling("region2", started=False, phase_="Pending")], BarrierView(missing=(REGION2,)), id="sibling-about-to-start"),
        pytest.param([sibling("region2", started=False, phase_="Queued")], BarrierView(all_reached=True), id="sibling-queued"),
        pytest.param([sibling("region2", started=False, phase_="Failed", result="Failed")], BarrierView(all_reached=True), id="sibling-never-started"),
        pytest.param([sibling("region1")], BarrierView(all_reached=True), id="me-is-not-my-sibling"),
    ],
)  # fmt: skip
def test_views_of_parallel_siblings(siblings: list[Obj], view: BarrierView) -> None:
    views = barrier_views(barriers=["meet"], me=ME, siblings=[participant(s) for s in siblings], pipeline_run=PARALLEL)
    assert views == {"meet": view}


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
    status = pipeline_run(*stages)
    siblings = [participant(sibling(other, result="Failed" if other == "build" else None))]
    assert barrier_views(barriers=["meet"], me=ME, siblings=siblings, pipeline_run=status) == {"meet": view}


def test_nothing_is_crossed_before_the_pipeline_run_recorded_my_stage() -> None:
    """The runs created in the same cycle as mine may not all exist yet."""
    status = pipeline_run(workflow_stage("region1"), workflow_stage("region2", parallel=True), recorded=())
    views = barrier_views(barriers=["meet", "done"], me=ME, siblings=[], pipeline_run=status)
    waiting = BarrierView(missing=("the pipeline run to record stage region1",))
    assert views == {"meet": waiting, "done": waiting}


def test_without_the_pipeline_run_every_sibling_counts() -> None:
    siblings = [participant(sibling("region2", marks={"meet": "reached"})), participant(sibling("region3"))]
    views = barrier_views(barriers=["meet"], me=ME, siblings=siblings, pipeline_run=None)
    assert views == {"meet": BarrierView(missing=(REGION3,))}


def test_each_barrier_has_its_own_view() -> None:
    region2 = sibling(
        "region2", barriers=("first", "second"), marks={"first": "crossed"}, step_states=("Succeeded", "Pending")
    )
    views = barrier_views(barriers=["first", "second"], me=ME, siblings=[participant(region2)], pipeline_run=PARALLEL)
    assert views == {"first": BarrierView(all_reached=True), "second": BarrierView(missing=(REGION2,))}


def test_participant_reads_marks_and_barrier_steps() -> None:
    body = sibling("region2", barriers=("a", "b"), marks={"a": "crossed"}, step_states=("Succeeded", "Waiting"))
    body["metadata"]["annotations"]["convoy.dev/other"] = "x"
    seen = participant(body)
    assert seen.marks == {"a": "crossed"}
    assert seen.declared is not None and {k: v.value for k, v in seen.declared.items()} == {
        "a": "Succeeded",
        "b": "Waiting",
    }
    assert seen.stage == "region2" and seen.label == REGION2


def test_declared_barriers() -> None:
    wf = rolling(phases=[phase("deploy", deploy(), barrier("one", "first")), phase("wrap", barrier("two", "second"))])
    assert declared_barriers(wf) == ["first", "second"]
