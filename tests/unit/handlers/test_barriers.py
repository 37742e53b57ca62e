"""Barrier marks as the handler reads them: only a mark Convoy sealed for the run it is on counts. A mark typed
by hand, copied from another run or another barrier, or without a seal is ignored and reported; a run the
PipelineRun did not record is never read at all."""

from __future__ import annotations

from typing import Any

import pytest
from sealing import use_key

from convoy.adapters import events, resources, seals
from convoy.adapters.owner import Owner
from convoy.api.pipeline import PipelineRunStatus, StageRecord, StageState
from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import PipelineRunRef
from convoy.handlers import barriers, execute
from convoy.planner.actions import MarkBarrier
from convoy.planner.barriers import mark_value
from convoy.planner.cycle import RunIdentity
from convoy.planner.observed import BarrierView

Obj = dict[str, Any]
KEY = "barrier.convoy.dev/meet"
use_key(b"k" * 32)  # the parameter tables below are sealed when the module is imported


def sealed(uid: str, state: str, barrier: str = "meet") -> str:
    return mark_value(state, seals.seal("barrier", uid, barrier, state))


def run(name: str, namespace: str, uid: str, annotations: dict[str, str] | None = None, stage: str = "") -> Obj:
    """A stage run at its barrier step `meet`, waiting."""
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "annotations": annotations or {}},
        "spec": {"pipelineRunRef": {"name": "rel-1", "namespace": "prod", "stage": stage or name}},
        "status": {
            "phase": "WaitingAtBarrier",
            "workflowSpec": {"phases": [{"name": "go", "steps": [{"name": "sync", "barrier": {"name": "meet"}}]}]},
            "phases": [{"name": "go", "steps": [{"name": "sync", "kind": "barrier", "state": "Waiting"}]}],
        },
    }


@pytest.mark.parametrize(
    ("annotations", "honoured", "ignored"),
    [
        pytest.param({KEY: sealed("uid-2", "reached")}, {"meet": "reached"}, [], id="sealed-reached"),
        pytest.param({KEY: sealed("uid-2", "failed")}, {"meet": "failed"}, [], id="sealed-failed"),
        pytest.param({KEY: "failed"}, {}, [KEY], id="attack-mark-without-seal"),
        pytest.param({KEY: "failed/" + "0" * 40}, {}, [KEY], id="attack-forged-seal"),
        pytest.param({KEY: sealed("uid-9", "failed")}, {}, [KEY], id="attack-mark-copied-from-another-run"),
        pytest.param({KEY: sealed("uid-2", "failed", "other")}, {}, [KEY], id="attack-mark-copied-from-another-barrier"),
        pytest.param({KEY: "failed/" + sealed("uid-2", "reached").split("/")[1]}, {}, [KEY], id="attack-seal-of-another-state"),
        pytest.param({KEY: sealed("uid-2", "whatever")}, {}, [KEY], id="sealed-but-no-state"),
        pytest.param({"convoy.dev/other": "x"}, {}, [], id="other-annotations-are-not-marks"),
    ],
)  # fmt: skip
def test_only_marks_sealed_for_the_run_count(
    annotations: dict[str, str], honoured: dict[str, str], ignored: list[str]
) -> None:
    found, dropped = barriers.sealed_marks(run("rel-1-region2", "region2", "uid-2", annotations))
    assert (found, list(dropped)) == (honoured, ignored)


async def test_what_convoy_writes_is_what_it_honours(monkeypatch: pytest.MonkeyPatch) -> None:
    written: dict[str, str] = {}

    async def annotate(plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        written.update(annotations)

    monkeypatch.setattr(resources, "annotate", annotate)
    owner = Owner("WorkflowRun", "rel-1-region2", "region2", "uid-2")

    await execute.perform(owner, MarkBarrier("meet", "failed"), {})

    assert written[KEY].startswith("failed/")
    assert barriers.sealed_marks(run("rel-1-region2", "region2", "uid-2", written)) == ({"meet": "failed"}, {})
    assert barriers.sealed_marks(run("copy", "team-a", "uid-9", written)) == ({}, {KEY: written[KEY]})


# The whole observation: what is read, what counts, what is reported


class Cluster:
    def __init__(self, *objects: tuple[str, Obj]) -> None:
        self.objects = {(plural, o["metadata"]["namespace"], o["metadata"]["name"]): o for plural, o in objects}
        self.reads: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str, str, str]] = []

    async def read(self, plural: str, namespace: str, name: str) -> Obj | None:
        self.reads.append((plural, namespace, name))
        return self.objects.get((plural, namespace, name))

    async def record_event(self, owner: Owner, key: str, reason: str, message: str, *, warning: bool = False) -> bool:
        self.events.append((f"{owner.kind}/{owner.namespace}/{owner.name}", reason, message, key))
        return True


def pipeline_run(**uids: str | None) -> Obj:
    stages = [{"name": n, "workflow": {"workflowRef": {"name": "web"}}, "parallel": i > 0} for i, n in enumerate(uids)]
    records = [
        StageRecord(name=n, state=StageState.RUNNING, workflow_run=f"rel-1-{n}", namespace=n, uid=uid)
        for n, uid in uids.items()
    ]
    status = PipelineRunStatus(pipeline_spec={"stages": stages}, stages=records, started_at="2025-03-01T12:00:00Z")
    return {"metadata": {"name": "rel-1", "namespace": "prod", "uid": "uid-pr"}, "status": status.to_wire()}


WORKFLOW = WorkflowSpec.model_validate(
    {
        "type": "Rolling",
        "target": {"deployment": "web"},
        "phases": [{"name": "go", "steps": [{"name": "sync", "barrier": {"name": "meet"}}]}],
    }
)
ME = RunIdentity("rel-1-region1", "region1")
REF = PipelineRunRef(name="rel-1", namespace="prod", stage="region1")
REGION2 = "region2 (region2/rel-1-region2)"


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    fake = Cluster()
    monkeypatch.setattr(resources, "read", fake.read)
    monkeypatch.setattr(events, "record_event", fake.record_event)
    return fake


@pytest.mark.parametrize(
    ("region2", "view"),
    [
        pytest.param({KEY: sealed("uid-2", "reached")}, BarrierView(all_reached=True), id="sealed-reached-crosses"),
        pytest.param({KEY: sealed("uid-2", "failed")}, BarrierView(failed_by=REGION2), id="sealed-failed-fails"),
        pytest.param({KEY: "failed"}, BarrierView(missing=(REGION2,)), id="attack-forged-failed-neither-fails-nor-crosses"),
        pytest.param({KEY: "reached"}, BarrierView(missing=(REGION2,)), id="attack-forged-reached-does-not-cross"),
        pytest.param({KEY: sealed("uid-evil", "failed")}, BarrierView(missing=(REGION2,)), id="attack-copied-mark-is-ignored"),
    ],
)  # fmt: skip
async def test_a_participants_marks_count_only_when_sealed(
    cluster: Cluster, region2: dict[str, str], view: BarrierView
) -> None:
    cluster.objects = Cluster(
        ("pipelineruns", pipeline_run(region1="uid-1", region2="uid-2")),
        ("workflowruns", run("rel-1-region1", "region1", "uid-1")),
        ("workflowruns", run("rel-1-region2", "region2", "uid-2", region2)),
    ).objects

    assert await barriers.observe_barriers(ME, "uid-1", REF, WORKFLOW) == {"meet": view}


async def test_an_ignored_mark_is_reported_on_the_run_and_the_pipeline_run(cluster: Cluster) -> None:
    cluster.objects = Cluster(
        ("pipelineruns", pipeline_run(region1="uid-1", region2="uid-2")),
        ("workflowruns", run("rel-1-region2", "region2", "uid-2", {KEY: "failed"})),
    ).objects

    await barriers.observe_barriers(ME, "uid-1", REF, WORKFLOW)
    await barriers.observe_barriers(ME, "uid-1", REF, WORKFLOW)  # the same Event key: created once

    message = (
        "annotation barrier.convoy.dev/meet='failed' on workflowrun region2/rel-1-region2 is ignored: Convoy did not "
        "write it for this run (no valid seal), so it neither fails nor crosses a barrier"
    )
    reported = {(who, reason, text) for who, reason, text, _ in cluster.events}
    assert reported == {
        ("WorkflowRun/region2/rel-1-region2", "BarrierMarkIgnored", message),
        ("PipelineRun/prod/rel-1", "BarrierMarkIgnored", message),
    }
    assert len({key for *_, key in cluster.events}) == 1


async def test_attack_a_run_in_another_namespace_is_never_read(cluster: Cluster) -> None:
    """team-a's run claims to be prod's stage region2 and is marked failed: the PipelineRun never recorded it."""
    evil = run("rel-1-region2", "team-a", "uid-evil", {KEY: "failed"}, stage="region2")
    cluster.objects = Cluster(
        ("pipelineruns", pipeline_run(region1="uid-1", region2="uid-2")),
        ("workflowruns", run("rel-1-region2", "region2", "uid-2", {KEY: sealed("uid-2", "reached")})),
        ("workflowruns", evil),
    ).objects

    assert await barriers.observe_barriers(ME, "uid-1", REF, WORKFLOW) == {"meet": BarrierView(all_reached=True)}
    assert ("workflowruns", "team-a", "rel-1-region2") not in cluster.reads
    assert cluster.events == []


@pytest.mark.parametrize(
    ("uids", "objects", "view"),
    [
        pytest.param({"region1": "uid-1", "region2": "uid-2"}, [], BarrierView(all_reached=True), id="recorded-run-deleted"),
        pytest.param({"region1": "uid-1", "region2": "uid-2"}, [run("rel-1-region2", "region2", "uid-impostor", {KEY: "failed"})],
                     BarrierView(all_reached=True), id="attack-run-recreated-under-the-name-is-not-read-for-marks"),
        pytest.param({"region1": "uid-1", "region2": None}, [run("rel-1-region2", "region2", "uid-2")],
                     BarrierView(missing=(REGION2,)), id="uid-not-recorded-yet-is-about-to-start"),
        pytest.param({"region1": None, "region2": "uid-2"}, [run("rel-1-region2", "region2", "uid-2", {KEY: sealed("uid-2", "reached")})],
                     BarrierView(missing=("the pipeline run to record stage region1",)), id="my-uid-not-recorded-yet"),
    ],
)  # fmt: skip
async def test_participants_come_from_the_pipeline_run_status(
    cluster: Cluster, uids: dict[str, str | None], objects: list[Obj], view: BarrierView
) -> None:
    cluster.objects = Cluster(("pipelineruns", pipeline_run(**uids)), *(("workflowruns", o) for o in objects)).objects
    assert await barriers.observe_barriers(ME, "uid-1", REF, WORKFLOW) == {"meet": view}
    assert cluster.events == []


async def test_without_the_pipeline_run_the_barrier_waits(cluster: Cluster) -> None:
    cluster.objects = Cluster(("workflowruns", run("rel-1-region2", "region2", "uid-2"))).objects
    views = await barriers.observe_barriers(ME, "uid-1", REF, WORKFLOW)
    assert views == {"meet": BarrierView(missing=("the pipeline run, which is gone",))}
    assert cluster.reads == [("pipelineruns", "prod", "rel-1")]
