"""The pipeline planner: stage order (sequence, parallel, fan-out/fan-in), rendering, approvals, filters,
failures, aborts, reruns from failed, and the status it derives."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from convoy.api.pipeline import PipelinePhase, PipelineRunStatus, StageRecord, StageState
from convoy.api.validation import InvalidSpec
from convoy.api.workflowrun import RunResult
from convoy.planner.cycle import RunIdentity
from convoy.planner.pipeline import plan
from convoy.planner.timeutil import stamp

from .pipeline_sim import (
    NAMESPACE,
    PIPELINE_UID,
    START,
    Obj,
    PipelineSim,
    approval_stage,
    pipeline,
    run_spec,
    workflow_stage,
)

P, R, S, F, A, SK, RU, W = (
    StageState.PENDING,
    StageState.RUNNING,
    StageState.SUCCEEDED,
    StageState.FAILED,
    StageState.ABORTED,
    StageState.SKIPPED,
    StageState.REUSED,
    StageState.WAITING_FOR_APPROVAL,
)


def fan_out_fan_in() -> list[Obj]:
    tests = [workflow_stage(f"test-{n}", requires=["build"]) for n in range(1, 5)]
    return [workflow_stage("build"), *tests, workflow_stage("deploy", requires=[t["name"] for t in tests])]


# Order


@pytest.mark.parametrize(
    ("stages", "waves"),
    [
        pytest.param(
            [workflow_stage("a"), workflow_stage("b"), workflow_stage("c")], [["a"], ["b"], ["c"]], id="sequence"
        ),
        pytest.param(
            [workflow_stage("a"), workflow_stage("b", parallel=True), workflow_stage("c")],
            [["a", "b"], ["c"]],
            id="parallel-then-join",
        ),
        pytest.param(
            fan_out_fan_in(), [["build"], ["test-1", "test-2", "test-3", "test-4"], ["deploy"]], id="fan-out-fan-in"
        ),
    ],
)
def test_stages_start_in_waves_once_what_they_require_succeeded(stages: list[Obj], waves: list[list[str]]) -> None:
    sim = PipelineSim(pipeline(*stages))
    sim.reconcile()
    for i, wave in enumerate(waves):
        assert sorted(sim.started()[-len(wave) :]) == sorted(wave), f"wave {i}"
        assert len(sim.started()) == sum(len(w) for w in waves[: i + 1])
        sim.run_all(*wave)
    assert sim.status.phase is PipelinePhase.SUCCEEDED
    assert sim.status.stages_done == f"{len(stages)}/{len(stages)}"
    assert sim.reasons()[0] == "Started" and sim.reasons()[-1] == "Succeeded"


def test_a_stage_waits_only_for_what_it_requires() -> None:
    sim = PipelineSim(
        pipeline(workflow_stage("a"), workflow_stage("b", parallel=True), workflow_stage("c", requires=["a"]))
    )
    sim.reconcile()
    sim.run_all("a")
    assert sim.states() == {"a": S, "b": R, "c": R}


@pytest.mark.parametrize("last", [f"test-{n}" for n in range(1, 5)])
def test_fan_in_waits_for_every_test(last: str) -> None:
    sim = PipelineSim(pipeline(*fan_out_fan_in()))
    sim.reconcile()
    sim.run_all("build")
    for n in range(1, 5):
        if f"test-{n}" != last:
            sim.run_all(f"test-{n}")
            assert "deploy" not in sim.started()
    sim.run_all(last)
    assert sim.started()[-1] == "deploy"
    assert sim.record("deploy").started_at == stamp(sim.now)
    deploy_start = sim.record("deploy").started_at or ""
    assert all((sim.record(f"test-{n}").finished_at or "~") <= deploy_start for n in range(1, 5))


def test_stage_timings_come_from_the_runs() -> None:
    sim = PipelineSim(pipeline(workflow_stage("a"), workflow_stage("b")))
    sim.reconcile()
    assert sim.record("a").started_at == stamp(START)
    sim.advance(30)
    sim.finish("a")
    sim.advance(5)
    sim.reconcile()
    assert sim.record("a").finished_at == stamp(START.replace(second=30))
    assert sim.record("b").started_at == stamp(START.replace(second=35))


# The stage's WorkflowRun


def test_the_stage_run_is_named_labelled_owned_and_rendered() -> None:
    stages = [
        workflow_stage("build", "app-build", run={"variables": {"revision": "${pipeline.variables.revision}"}}),
        workflow_stage(
            "deploy",
            "app-deploy",
            run={"variables": {"image": "${stages.build.outputs.image}", "env": "${pipeline.variables.env}"}},
        ),
    ]
    variables = [{"name": "revision", "required": True}, {"name": "env", "default": "qa"}]
    sim = PipelineSim(pipeline(*stages, variables=variables), run_spec(variables={"revision": "4f2c9e1"}))
    sim.reconcile()
    build = sim.created[0]
    assert build.owned
    assert build.manifest == {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "WorkflowRun",
        "metadata": {
            "name": "rel-1-build",
            "namespace": NAMESPACE,
            "labels": {
                "convoy.dev/pipelinerun": "rel-1",
                "convoy.dev/pipelinerun-namespace": NAMESPACE,
                "convoy.dev/stage": "build",
            },
        },
        "spec": {
            "workflowRef": {"name": "app-build", "namespace": NAMESPACE},
            "variables": {"revision": "4f2c9e1"},
            "pipelineRunRef": {"name": "rel-1", "namespace": NAMESPACE, "stage": "build"},
            "decisions": [],
        },
    }
    sim.advance()
    sim.finish("build", image="registry.example/app:4f2c9e1")
    sim.reconcile()
    assert sim.record("build").outputs == {"image": "registry.example/app:4f2c9e1"}
    assert sim.created[1].manifest["spec"]["variables"] == {"image": "registry.example/app:4f2c9e1", "env": "qa"}


@pytest.mark.parametrize(
    ("namespace", "expected", "owned"),
    [
        pytest.param(None, NAMESPACE, True, id="own-namespace"),
        pytest.param("region1", "region1", False, id="other-namespace"),
        pytest.param("${pipeline.variables.region}", "eu-west", False, id="templated"),
    ],
)
def test_the_stage_run_goes_to_the_stage_namespace(namespace: str | None, expected: str, owned: bool) -> None:
    run: Obj = {"namespace": namespace} if namespace else {}
    spec = pipeline(workflow_stage("deploy", run=run), variables=[{"name": "region", "default": "eu-west"}])
    sim = PipelineSim(spec)
    sim.reconcile()
    assert sim.created[0].manifest["metadata"]["namespace"] == expected
    assert sim.created[0].owned is owned
    assert (sim.record("deploy").namespace, sim.record("deploy").workflow_run) == (expected, "rel-1-deploy")


def test_a_long_name_is_shortened_with_a_hash_and_stays_stable() -> None:
    long = RunIdentity("release-" + "x" * 70, NAMESPACE)
    first, second = PipelineSim(pipeline(workflow_stage("deploy")), run=long), None
    first.reconcile()
    second = PipelineSim(pipeline(workflow_stage("deploy")), run=long)
    second.reconcile()
    meta = first.created[0].manifest["metadata"]
    assert len(meta["name"]) <= 63 and len(meta["labels"]["convoy.dev/pipelinerun"]) <= 63
    assert meta == second.created[0].manifest["metadata"]
    assert first.created[0].manifest["spec"]["pipelineRunRef"]["name"] == long.name


def test_a_stage_that_cannot_be_rendered_fails_the_pipeline() -> None:
    stages = [workflow_stage("a"), workflow_stage("b", run={"variables": {"image": "${stages.a.outputs.image}"}})]
    sim = PipelineSim(pipeline(*stages))
    sim.reconcile()
    sim.run_all("a")  # no output named image
    assert sim.states() == {"a": S, "b": F}
    assert "'${stages.a.outputs.image}' has no value" in (sim.record("b").message or "")
    assert sim.status.phase is PipelinePhase.FAILED


def test_an_existing_run_is_adopted_rather_than_created_again() -> None:
    """The run was created, but the status that says so was never written (a conflict, a restart)."""
    sim = PipelineSim(pipeline(workflow_stage("a")))
    sim.reconcile()
    sim.status = PipelineRunStatus(started_at=None)
    sim.created.clear()
    sim.reconcile()
    assert sim.created == []
    assert sim.states() == {"a": R}


def test_a_deleted_stage_run_fails_its_stage() -> None:
    sim = PipelineSim(pipeline(workflow_stage("a"), workflow_stage("b")))
    sim.reconcile()
    sim.children.clear()
    sim.reconcile()
    assert sim.states() == {"a": F, "b": P}
    assert sim.record("a").message == f"workflowrun {NAMESPACE}/rel-1-a was deleted"
    assert sim.status.phase is PipelinePhase.FAILED


NOT_OURS = "WorkflowRun shop/rel-1-a exists and was not created by this PipelineRun; delete it or rename the stage"


@pytest.mark.parametrize(
    ("child", "state", "message"),
    [
        pytest.param(dict(ours=True), R, "workflowrun Running", id="own-run-is-adopted"),
        pytest.param(dict(ours=False), F, NOT_OURS, id="attack-pre-created-run-is-not-adopted"),
        pytest.param(
            dict(ours=False, result=RunResult.SUCCEEDED, outputs={"image": "evil:1"}),
            F,
            NOT_OURS,
            id="attack-pre-created-succeeded-run-lends-no-outputs",
        ),
    ],
)
def test_a_stage_run_is_adopted_only_if_convoy_created_it_for_this_pipeline_run(
    child: dict[str, Any], state: StageState, message: str
) -> None:
    """Someone created `<pipelinerun>-<stage>` first: the create finds it, and the next cycle reads it."""
    sim = PipelineSim(
        pipeline(workflow_stage("a"), workflow_stage("b", run={"variables": {"i": "${stages.a.outputs.image}"}}))
    )
    sim.reconcile()
    key = f"{NAMESPACE}/rel-1-a"
    sim.children[key] = replace(sim.children[key], uid="uid-someone", **child)
    sim.reconcile()
    assert sim.states()["a"] is state
    assert sim.record("a").message == message
    assert sim.record("a").outputs == {}
    assert sim.record("a").uid == ("uid-someone" if state is R else None)
    assert sim.started() == ["a"] and sim.aborted == []
    if state is F:
        assert sim.status.phase is PipelinePhase.FAILED
        assert sim.status.message == f"stage a failed: {NOT_OURS}"
        assert ("StageFailed", f"stage a: {NOT_OURS}") in [(e.reason, e.message) for e in sim.events]


def test_the_uid_of_the_stage_run_is_recorded_and_a_replacement_is_refused() -> None:
    """Convoy's run was deleted and another one, sealed like it (the annotation copied), put under its name."""
    sim = PipelineSim(pipeline(workflow_stage("a")))
    sim.reconcile()
    sim.reconcile()
    assert sim.record("a").uid == f"uid-{NAMESPACE}-rel-1-a"
    key = f"{NAMESPACE}/rel-1-a"
    sim.children[key] = replace(sim.children[key], uid="uid-replacement", result=RunResult.SUCCEEDED)
    sim.reconcile()
    assert (sim.states(), sim.record("a").message) == ({"a": F}, NOT_OURS)


def test_planning_is_pure() -> None:
    sim = PipelineSim(pipeline(workflow_stage("a"), workflow_stage("b", parallel=True)))
    before = sim.status.model_copy(deep=True)
    arguments: dict[str, Any] = dict(
        run=sim.run, spec=sim.spec, pipeline=sim.pipeline, status=sim.status, children={}, previous=None, now=START
    )
    assert plan(**arguments) == plan(**arguments)
    assert sim.status == before


# Approvals


def approval_pipeline(**approval: Any) -> PipelineSim:
    stages = [
        workflow_stage("build"),
        approval_stage("hold", ["alice", "group:release"], approval=approval),
        workflow_stage("deploy"),
    ]
    sim = PipelineSim(pipeline(*stages))
    sim.reconcile()
    sim.run_all("build")
    return sim


def test_an_approval_stage_holds_the_pipeline() -> None:
    sim = approval_pipeline(timeout="4h", message="Deploy web?")
    record = sim.record("hold")
    assert record.state is W and record.approvers == ["alice", "group:release"]
    assert record.message == "waiting for approval by alice, group:release: Deploy web?"
    assert sim.status.phase is PipelinePhase.WAITING_FOR_APPROVAL
    assert sim.reconcile().wake_at == sim.now.replace(hour=16)
    assert sim.started() == ["build"]


@pytest.mark.parametrize(
    ("decision", "state", "deployed", "phase"),
    [
        pytest.param({"action": "Approve", "stage": "hold"}, S, True, PipelinePhase.RUNNING, id="approve-named"),
        pytest.param({"action": "Approve"}, S, True, PipelinePhase.RUNNING, id="approve-the-waiting-one"),
        pytest.param({"action": "Approve", "by": "bob", "groups": ["release"]}, S, True, PipelinePhase.RUNNING, id="group"),
        pytest.param({"action": "Reject", "reason": "not today"}, F, False, PipelinePhase.FAILED, id="reject"),
        pytest.param({"action": "Approve", "by": "mallory"}, W, False, PipelinePhase.WAITING_FOR_APPROVAL, id="refused"),
        pytest.param({"action": "Approve", "stage": "deploy"}, W, False, PipelinePhase.WAITING_FOR_APPROVAL, id="wrong-stage"),
        pytest.param({"action": "Resume"}, W, False, PipelinePhase.WAITING_FOR_APPROVAL, id="not-an-approval"),
    ],
)  # fmt: skip
def test_decisions_on_an_approval_stage(decision: Obj, state: StageState, deployed: bool, phase: PipelinePhase) -> None:
    sim = approval_pipeline()
    sim.decide(**{"by": "alice", **decision})
    sim.reconcile()
    assert sim.record("hold").state is state
    assert ("deploy" in sim.started()) is deployed
    assert sim.status.phase is phase
    if state is not W:
        assert sim.record("hold").decided_by == decision.get("by", "alice")


def test_a_refused_approver_is_named_in_an_event() -> None:
    sim = approval_pipeline()
    sim.decide("Approve", by="mallory")
    sim.reconcile()
    refused = [e for e in sim.events if e.reason == "ApprovalRefused"]
    assert refused[0].message == "mallory may not approve stage hold: the approvers are alice, group:release"


def test_a_rejection_records_who_and_why_and_runs_nothing_after() -> None:
    sim = approval_pipeline()
    sim.decide("Reject", "hold", reason="not today")
    sim.reconcile()
    assert sim.record("hold").message == "rejected by alice: not today"
    assert sim.states() == {"build": S, "hold": F, "deploy": P}
    assert sim.record("deploy").message == "not run: stage hold failed: rejected by alice: not today"
    assert sim.status.halted is not None and sim.status.halted.stage == "hold"


@pytest.mark.parametrize(
    ("action", "state", "deployed"),
    [pytest.param("Approve", S, True, id="approve"), pytest.param("Reject", F, False, id="reject")],
)
def test_approval_timeout_takes_the_timeout_action(action: str, state: StageState, deployed: bool) -> None:
    sim = approval_pipeline(timeout="1h", timeoutAction=action)
    sim.advance(3599)
    sim.reconcile()
    assert sim.record("hold").state is W
    sim.advance(1)
    sim.reconcile()
    assert (sim.record("hold").state, sim.record("hold").decided_by) == (state, "timeout")
    assert ("deploy" in sim.started()) is deployed


# Filters


@pytest.mark.parametrize(
    ("trigger", "states", "started"),
    [
        pytest.param({"branch": "main"}, {"build": S, "deploy": R, "docs": SK}, ["build", "deploy"], id="main"),
        pytest.param({"branch": "feature/x"}, {"build": S, "deploy": SK, "docs": SK}, ["build"], id="feature-branch"),
        pytest.param({"tag": "v1.2.0"}, {"build": S, "deploy": SK, "docs": R}, ["build", "docs"], id="tag"),
        pytest.param({"tag": "nightly"}, {"build": SK, "deploy": SK, "docs": SK}, [], id="tag-not-matched"),
    ],
)
def test_filters_skip_stages(trigger: Obj, states: dict[str, StageState], started: list[str]) -> None:
    stages = [
        workflow_stage("build", filters={"tags": {"only": ["/^v.*/"]}}),
        workflow_stage("deploy", requires=["build"], filters={"branches": {"only": ["main"]}}),
        workflow_stage("docs", requires=["build"], filters={"tags": {"only": ["/^v\\d+\\.\\d+\\.\\d+$/"]}, "branches": {"ignore": ["/.*/"]}}),
    ]  # fmt: skip
    sim = PipelineSim(pipeline(*stages), run_spec(trigger=trigger))
    sim.reconcile()
    if "build" in started:
        sim.run_all("build")
    assert sim.states() == states
    assert sim.started() == started
    if not started:
        assert sim.status.phase is PipelinePhase.SUCCEEDED
        assert sim.status.message == "all stages done (3 skipped)"


def test_a_skipped_stage_says_why() -> None:
    sim = PipelineSim(pipeline(workflow_stage("deploy")), run_spec(trigger={"tag": "v1"}))
    sim.reconcile()
    assert sim.record("deploy").message == "skipped: tag v1: a tag-triggered run skips stages without a tags filter"
    assert "StageSkipped" in sim.reasons()


# Failures


@pytest.mark.parametrize(
    ("strategy", "aborted"),
    [pytest.param("FinishRunning", False, id="finish-running"), pytest.param("AbortRunning", True, id="abort-running")],
)
@pytest.mark.parametrize("result", [RunResult.FAILED, RunResult.ROLLED_BACK, RunResult.ABORTED])
def test_a_failed_stage_fails_the_pipeline(strategy: str, aborted: bool, result: RunResult) -> None:
    stages = [workflow_stage("region1"), workflow_stage("region2", parallel=True), workflow_stage("verify")]
    sim = PipelineSim(pipeline(*stages, onStageFailure=strategy))
    sim.reconcile()
    sim.run_all("region2", result=result)
    assert sim.record("region2").state is (A if result is RunResult.ABORTED else F)
    assert sim.record("region1").state is R
    assert [a.name for a in sim.aborted] == (["rel-1-region1"] if aborted else [])
    assert sim.status.phase is PipelinePhase.RUNNING
    assert (sim.status.message or "").endswith("; waiting for region1 to finish")
    sim.reconcile()
    assert len(sim.aborted) == (1 if aborted else 0), "abort is asked for once"
    sim.run_all("region1", result=RunResult.ABORTED if aborted else RunResult.SUCCEEDED)
    final = sim.status
    assert final.phase is PipelinePhase.FAILED
    assert sim.record("verify").state is P
    assert sim.started() == ["region1", "region2"]
    assert sim.status.halted is not None and sim.status.halted.stage == "region2"


@pytest.mark.parametrize(
    ("failed", "state"),
    [pytest.param(True, F, id="by-its-failure-strategy"), pytest.param(False, A, id="by-a-decision")],
)
def test_a_run_that_ended_aborted(failed: bool, state: StageState) -> None:
    sim = PipelineSim(pipeline(workflow_stage("a"), workflow_stage("b")))
    sim.reconcile()
    sim.finish("a", RunResult.ABORTED, failed=failed)
    sim.reconcile()
    assert sim.states() == {"a": state, "b": P}
    assert sim.status.phase is PipelinePhase.FAILED


def test_an_ignored_failure_lets_the_pipeline_go_on() -> None:
    sim = PipelineSim(pipeline(workflow_stage("smoke", onFailure="Ignore"), workflow_stage("deploy")))
    sim.reconcile()
    sim.run_all("smoke", result=RunResult.FAILED)
    assert sim.record("smoke").state is F
    assert "(ignored: onFailure is Ignore)" in (sim.record("smoke").message or "")
    sim.run_all("deploy")
    assert sim.status.phase is PipelinePhase.SUCCEEDED


def test_the_failure_message_carries_the_runs_message() -> None:
    sim = PipelineSim(pipeline(workflow_stage("a")))
    sim.reconcile()
    sim.run_all("a", result=RunResult.ROLLED_BACK)
    assert sim.status.message == "stage a failed: workflowrun RolledBack: job smoke failed"
    assert [c.status.value for c in sim.status.conditions] == ["False", "False", "True"]
    assert sim.reasons()[-2:] == ["StageFailed", "Failed"]


# Abort


def test_abort_stops_everything_and_drops_waiting_approvals() -> None:
    stages = [workflow_stage("a"), approval_stage("hold", parallel=True), workflow_stage("b")]
    sim = PipelineSim(pipeline(*stages))
    sim.reconcile()
    sim.decide("Abort", reason="wrong version")
    sim.reconcile()
    assert [a.name for a in sim.aborted] == ["rel-1-a"]
    assert sim.aborted[0].reason == "pipelinerun rel-1: aborted by alice: wrong version"
    assert sim.states() == {"a": R, "hold": A, "b": P}
    sim.run_all("a", result=RunResult.ABORTED)
    assert sim.status.phase is PipelinePhase.ABORTED
    assert sim.status.finished_at is not None


def test_a_finished_pipeline_run_is_left_alone() -> None:
    sim = PipelineSim(pipeline(workflow_stage("a")))
    sim.reconcile()
    sim.run_all("a")
    done = sim.status
    sim.decide("Abort")
    result = sim.reconcile()
    assert result.actions == () and sim.status == done


# Rerun from failed


def previous_run(
    states: dict[str, StageState], variables: dict[str, str] | None = None, **outputs: dict[str, str]
) -> PipelineRunStatus:
    records = [
        StageRecord(name=n, state=s, workflow_run=f"rel-0-{n}", namespace=NAMESPACE, outputs=outputs.get(n, {}))
        for n, s in states.items()
    ]
    return PipelineRunStatus(
        pipeline="release",
        pipeline_uid=PIPELINE_UID,
        variables=variables or {},
        stages=records,
        started_at=stamp(START),
        finished_at=stamp(START),
    )


@pytest.mark.parametrize(
    ("before", "reused", "rerun"),
    [
        pytest.param({"build": S, "test-1": S, "test-2": F, "test-3": S, "test-4": A, "deploy": P},
                     ["build", "test-1", "test-3"], ["test-2", "test-4"], id="failed-tests"),
        pytest.param({"build": F, "test-1": P, "test-2": P, "test-3": P, "test-4": P, "deploy": P},
                     [], ["build"], id="failed-first"),
        pytest.param({"build": S, "test-1": S, "test-2": S, "test-3": S, "test-4": S, "deploy": F},
                     ["build", "test-1", "test-2", "test-3", "test-4"], ["deploy"], id="failed-last"),
    ],
)  # fmt: skip
def test_rerun_from_failed_reuses_what_succeeded(
    before: dict[str, StageState], reused: list[str], rerun: list[str]
) -> None:
    previous = previous_run(before, build={"image": "registry.example/app:1"})
    spec = run_spec(rerunOf={"name": "rel-0"})
    sim = PipelineSim(pipeline(*fan_out_fan_in()), spec, previous)
    sim.reconcile()
    assert [n for n, s in sim.states().items() if s is RU] == reused
    assert sim.started() == rerun
    for name in reused:
        assert sim.record(name).workflow_run == f"rel-0-{name}"
    if "build" in reused:
        assert sim.record("build").outputs == {"image": "registry.example/app:1"}
        assert sim.record("build").message == "reused: succeeded in pipelinerun rel-0"
    while sim.status.finished_at is None:
        sim.run_all(*[n for n, s in sim.states().items() if s is R])
    assert sim.status.phase is PipelinePhase.SUCCEEDED
    assert sorted(sim.started()) == sorted(n for n in before if n not in reused)


def test_a_rerun_runs_again_what_depends_on_a_failed_ignored_stage() -> None:
    stages = [workflow_stage("smoke", onFailure="Ignore"), workflow_stage("report")]
    previous = previous_run({"smoke": F, "report": S})
    sim = PipelineSim(pipeline(*stages), run_spec(rerunOf={"name": "rel-0"}), previous)
    sim.reconcile()
    sim.run_all("smoke")
    assert sim.started() == ["smoke", "report"]


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        pytest.param(None, "spec.rerunOf: PipelineRun rel-0 not found", id="missing"),
        pytest.param(
            PipelineRunStatus(pipeline="release", started_at=stamp(START)),
            "spec.rerunOf: PipelineRun rel-0 has not finished: rerun it once it has",
            id="not-finished",
        ),
        pytest.param(
            PipelineRunStatus(pipeline="other", started_at=stamp(START), finished_at=stamp(START)),
            "spec.rerunOf: PipelineRun rel-0 ran pipeline other, not release",
            id="other-pipeline",
        ),
    ],
)
def test_a_rerun_of_something_that_cannot_be_rerun_fails(previous: PipelineRunStatus | None, message: str) -> None:
    sim = PipelineSim(pipeline(workflow_stage("a")), run_spec(rerunOf={"name": "rel-0"}), previous)
    sim.reconcile()
    assert (sim.status.phase, sim.status.message) == (PipelinePhase.FAILED, message)
    assert sim.created == [] and sim.reasons() == ["InvalidSpec"]


@pytest.mark.parametrize(
    ("spec", "previous", "pipeline_uid", "message"),
    [
        pytest.param(
            run_spec(rerunOf={"name": "rel-0", "namespace": "prod"}),
            previous_run({"a": S}),
            PIPELINE_UID,
            "spec.rerunOf.namespace: a PipelineRun reruns only a PipelineRun of its own namespace (shop), not one in "
            "prod",
            id="attack-rerun-across-namespaces",
        ),
        pytest.param(
            run_spec(rerunOf={"name": "rel-0"}),
            previous_run({"a": S}),
            "uid-release-recreated",
            "spec.rerunOf: PipelineRun rel-0 ran another Pipeline named release (uid uid-release, this one is "
            "uid-release-recreated): start a new run instead",
            id="attack-rerun-of-another-pipeline-with-the-same-name",
        ),
        pytest.param(
            run_spec(rerunOf={"name": "rel-0"}),
            previous_run({"a": S}).model_copy(update={"pipeline_uid": None}),
            PIPELINE_UID,
            "spec.rerunOf: PipelineRun rel-0 ran another Pipeline named release (uid not recorded, this one is "
            "uid-release): start a new run instead",
            id="rerun-of-a-run-that-recorded-no-pipeline-uid",
        ),
    ],
)
def test_a_rerun_needs_the_same_namespace_and_pipeline(
    spec: Any, previous: PipelineRunStatus, pipeline_uid: str, message: str
) -> None:
    sim = PipelineSim(pipeline(workflow_stage("a")), spec, previous, pipeline_uid=pipeline_uid)
    sim.reconcile()
    assert (sim.status.phase, sim.status.message) == (PipelinePhase.FAILED, message)
    assert sim.created == [] and sim.reasons() == ["InvalidSpec"]
    assert all(r.state is not RU for r in sim.status.stages)


def gated() -> list[Obj]:
    return [
        workflow_stage("build"),
        approval_stage("hold", ["alice"]),
        workflow_stage("deploy", run={"variables": {"version": "${pipeline.variables.version}"}}),
    ]


@pytest.mark.parametrize(
    ("variables", "states", "events"),
    [
        pytest.param({"version": "2.0"}, {"build": RU, "hold": RU, "deploy": R}, [], id="same-variables-reuse-the-approval"),
        pytest.param(
            {"version": "6.6.6"},
            {"build": RU, "hold": W, "deploy": P},
            [("ApprovalNotReused", "stage hold must be approved again: spec.variables differ from pipelinerun rel-0's (version)")],
            id="attack-other-variables-never-reuse-the-approval",
        ),
        pytest.param(
            {"version": "2.0", "note": "x"},
            {"build": RU, "hold": W, "deploy": P},
            [("ApprovalNotReused", "stage hold must be approved again: spec.variables differ from pipelinerun rel-0's (note)")],
            id="a-defaulted-variable-counts-too",
        ),
    ],
)  # fmt: skip
def test_a_rerun_reuses_an_approval_only_for_the_same_variables(
    variables: dict[str, str], states: dict[str, StageState], events: list[tuple[str, str]]
) -> None:
    previous = previous_run({"build": S, "hold": S, "deploy": F}, variables={"version": "2.0", "note": ""})
    declared = [{"name": "version", "required": True}, {"name": "note", "default": ""}]
    spec = run_spec(rerunOf={"name": "rel-0"}, variables=variables)
    sim = PipelineSim(pipeline(*gated(), variables=declared), spec, previous)
    sim.reconcile()
    assert sim.states() == states
    assert [(e.reason, e.message) for e in sim.events if e.reason == "ApprovalNotReused"] == events
    assert sim.status.variables == {"note": "", **variables}


def test_the_run_keeps_the_variables_it_started_with() -> None:
    """An approval is given for the values the run started with: editing the spec later changes nothing."""
    spec = run_spec(variables={"version": "2.0"})
    sim = PipelineSim(pipeline(*gated(), variables=[{"name": "version", "required": True}]), spec)
    sim.reconcile()
    sim.run_all("build")
    sim.spec = run_spec(variables={"version": "6.6.6"})
    sim.decide("Approve", "hold")
    sim.reconcile()
    assert sim.created[-1].manifest["spec"]["variables"] == {"version": "2.0"}
    assert sim.status.pipeline_uid == PIPELINE_UID


# Invalid


@pytest.mark.parametrize(
    ("spec", "pipeline_spec", "message"),
    [
        pytest.param(run_spec(), InvalidSpec([]), "invalid pipeline: ", id="pipeline-not-resolved"),
        pytest.param(
            run_spec(),
            pipeline(workflow_stage("a"), variables=[{"name": "version", "required": True}]),
            "invalid spec: spec.variables.version: required variable has no value: set it in the run",
            id="missing-variable",
        ),
    ],
)
def test_a_run_that_cannot_start_fails_with_the_reason(spec: Any, pipeline_spec: Any, message: str) -> None:
    sim = PipelineSim(pipeline_spec, spec)
    sim.reconcile()
    assert sim.status.phase is PipelinePhase.FAILED
    assert sim.status.message == message
    assert sim.status.conditions[2].reason == "InvalidSpec"


def test_the_pipeline_is_kept_in_the_status_when_the_run_starts() -> None:
    sim = PipelineSim(pipeline(workflow_stage("a"), workflow_stage("b")))
    sim.reconcile()
    sim.pipeline = pipeline(workflow_stage("z"))  # edited while the run runs
    sim.run_all("a")
    assert sim.started() == ["a", "b"]
    assert sim.status.pipeline == "release"


# A stage runs only after the stages it requires ran (CircleCI): a skip propagates, and is decided at the start


def fan_out_fan_in_without(test: str, filters: Obj) -> list[Obj]:
    """The fan-out/fan-in pipeline, with `filters` on one of the tests."""
    return [{**s, "filters": filters} if s["name"] == test else s for s in fan_out_fan_in()]


@pytest.mark.parametrize(
    ("stages", "trigger", "waves", "states"),
    [
        pytest.param(
            [workflow_stage("a"), workflow_stage("b", filters={"branches": {"only": ["main"]}}), workflow_stage("c")],
            {"branch": "dev"}, [["a"]], {"a": S, "b": SK, "c": SK},
            id="after-a-skipped-stage-nothing-starts-beside-what-it-required",
        ),
        pytest.param(
            [
                workflow_stage("build", filters={"tags": {"only": ["/^config-test.*/"]}}),
                workflow_stage("test", requires=["build"]),
                workflow_stage("deploy", requires=["test"], filters={"tags": {"only": ["/^config-test.*/"]}, "branches": {"ignore": ["/.*/"]}}),
            ],
            {"tag": "config-test-1"}, [["build"]], {"build": S, "test": SK, "deploy": SK},
            id="reference-tag-push-deploy-requires-an-untagged-test",
        ),
        pytest.param(
            [
                workflow_stage("build", filters={"tags": {"only": ["/^config-test.*/"]}}),
                workflow_stage("test", requires=["build"], filters={"tags": {"only": ["/^config-test.*/"]}}),
                workflow_stage("deploy", requires=["test"], filters={"tags": {"only": ["/^config-test.*/"]}, "branches": {"ignore": ["/.*/"]}}),
            ],
            {"tag": "config-test-1"}, [["build"], ["test"], ["deploy"]], {"build": S, "test": S, "deploy": S},
            id="reference-tag-push-every-stage-tagged",
        ),
        pytest.param(
            fan_out_fan_in_without("test-4", {"branches": {"ignore": ["dev"]}}),
            {"branch": "dev"}, [["build"], ["test-1", "test-2", "test-3"]],
            {"build": S, "test-1": S, "test-2": S, "test-3": S, "test-4": SK, "deploy": SK},
            id="fan-in-with-one-skipped-test",
        ),
    ],
)  # fmt: skip
def test_a_stage_that_requires_a_skipped_stage_is_skipped(
    stages: list[Obj], trigger: Obj, waves: list[list[str]], states: dict[str, StageState]
) -> None:
    sim = PipelineSim(pipeline(*stages), run_spec(trigger=trigger))
    sim.reconcile()
    for i, wave in enumerate(waves):
        assert sorted(sim.started()[-len(wave) :]) == sorted(wave), f"wave {i}"
        assert len(sim.started()) == sum(len(w) for w in waves[: i + 1]), f"wave {i}"
        sim.run_all(*wave)
    assert sim.states() == states
    assert sim.status.phase is PipelinePhase.SUCCEEDED


def test_a_propagated_skip_names_the_stage_it_required_and_the_root_cause() -> None:
    stages = [
        workflow_stage("build", filters={"tags": {"only": ["/^config-test.*/"]}}),
        workflow_stage("test", requires=["build"]),
        workflow_stage("deploy", requires=["test"], filters={"tags": {"only": ["/^config-test.*/"]}}),
        workflow_stage("announce", requires=["deploy"], filters={"tags": {"only": ["/.*/"]}}),
    ]
    sim = PipelineSim(pipeline(*stages), run_spec(trigger={"tag": "config-test-1"}))
    sim.reconcile()
    no_tags = "tag config-test-1: a tag-triggered run skips stages without a tags filter"
    assert sim.record("test").message == f"skipped: {no_tags}"
    assert sim.record("deploy").message == (
        f"skipped: requires test, which was skipped ({no_tags}); a stage runs only after the stages it requires ran"
    )
    assert sim.record("announce").message == (
        f"skipped: requires deploy, which was skipped because test was ({no_tags}); "
        "a stage runs only after the stages it requires ran"
    )
    assert sim.reasons().count("StageSkipped") == 3
