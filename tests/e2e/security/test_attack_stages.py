"""Attacks on pipeline stages: spoofing a barrier (a look-alike run in the attacker's namespace, a mark typed by hand
on the victim's own stage run, a sealed mark copied from another run) and planting a stage run before Convoy
creates it. A barrier honours only the runs its PipelineRun recorded and the marks Convoy sealed for them; a stage
run Convoy did not create is not adopted. Written given / when / then."""

from __future__ import annotations

from typing import Any

import pytest
from attacks import Tenant, manifest, refused
from harness import Operator
from test_pipelines import job
from waiting import wait_for

pytestmark = pytest.mark.e2e
BARRIER = "barrier.convoy.dev/regions-deployed"
FINISHED = ("Succeeded", "Failed", "Aborted")


def regional(deployment: str) -> dict[str, Any]:
    """Deploy `deployment`, settle, fail when told to, then meet the other regions at barrier regions-deployed;
    roll back on any failure."""
    return {
        "type": "Rolling",
        "variables": [
            {"name": "version", "required": True},
            {"name": "settle", "default": "1s"},
            {"name": "fail", "type": "Boolean", "default": "false"},
        ],
        "target": {"deployment": deployment},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "phases": [
            {"name": "deploy", "steps": [{"name": "rolling-deployment", "deploy": {}}]},
            {"name": "wrap-up", "steps": [
                job("failure", exit_code="1", when="${workflow.variables.fail} == true"),
                job("settle", seconds="${workflow.variables.settle}"),
                {"name": "all-regions-deployed", "barrier": {"name": "regions-deployed", "timeout": "2m"}},
            ]},
        ],
        "failureStrategies": [{"errors": ["Any"], "action": "Rollback"}],
    }  # fmt: skip


def region(name: str, settle: str, fail: str = "false", **extra: Any) -> dict[str, Any]:
    variables = {"version": "${pipeline.variables.version}", "settle": settle, "fail": fail}
    return {"name": name, "workflow": {"workflowRef": {"name": name}, "variables": variables}, **extra}


@pytest.fixture
def regions(victim: Tenant) -> Tenant:
    """Given in prod two regions (Deployments region1 and region2 at v1), each with its workflow, and a pipeline
    that deploys both side by side; region2 settles `settle2` (a pipeline variable) and fails when told to. oscar
    holds the approve role there (he may patch runs), alice may view."""
    for name in ("region1", "region2"):
        victim.deployment(name)
        victim.apply(manifest("Workflow", name, regional(name)))
    spec = {
        "variables": [{"name": "version", "required": True}, {"name": "settle2", "default": "8s"}, {"name": "failRegion2", "default": "false"}],
        "stages": [region("region1", "1s"), region("region2", "${pipeline.variables.settle2}", "${pipeline.variables.failRegion2}", parallel=True)],
    }  # fmt: skip
    victim.apply(manifest("Pipeline", "regions", spec))
    victim.allow("oscar", "approve", "view")
    return victim


def release(tenant: Tenant, name: str, version: str, **variables: str) -> None:
    tenant.apply(
        manifest(
            "PipelineRun", name, {"pipelineRef": {"name": "regions"}, "variables": {"version": version, **variables}}
        )
    )


def stage_run(tenant: Tenant, pipeline_run: str, stage: str) -> dict[str, Any]:
    return tenant.runs.get("workflowruns", f"{pipeline_run}-{stage}")


def at_barrier(tenant: Tenant, pipeline_run: str, stage: str) -> None:
    def waits() -> bool:
        if not tenant.exists("workflowruns", f"{pipeline_run}-{stage}"):
            return False
        return bool((stage_run(tenant, pipeline_run, stage).get("status") or {}).get("phase") == "WaitingAtBarrier")

    wait_for(waits, 60, 0.3, f"{pipeline_run}-{stage} never waited at the barrier")


def crossed_together(tenant: Tenant, pipeline_run: str, version: str) -> None:
    """The PipelineRun succeeded, both regions run `version`, and neither rolled back."""
    status = tenant.runs.wait_phase(pipeline_run, *FINISHED, timeout=150, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    for name in ("region1", "region2"):
        run_status = stage_run(tenant, pipeline_run, name)["status"]
        assert run_status["phase"] == "Succeeded", run_status
        assert tenant.runs.image(name) == f"registry.example/web:{version}"


def test_a_look_alike_run_in_another_namespace_does_not_fail_the_barrier(
    convoy: Operator, regions: Tenant, attacker: Tenant
) -> None:
    # given mallory (deploy role in team-a) creates, before prod's release, a run that claims to be a stage of it,
    # carrying a failed barrier mark
    attacker.apply(manifest("Workflow", "region2", regional("web")))
    labels = {
        "convoy.dev/pipelinerun": "release-2",
        "convoy.dev/pipelinerun-namespace": regions.namespace,
        "convoy.dev/stage": "region3",
    }
    spoof = manifest(
        "WorkflowRun", "release-2-region3",
        {"workflowRef": {"name": "region2"}, "variables": {"version": "9.9"}, "decisions": [],
         "pipelineRunRef": {"name": "release-2", "namespace": regions.namespace, "stage": "region3"}},
        labels=labels, annotations={BARRIER: "failed"},
    )  # fmt: skip
    result = attacker.create_as("mallory", spoof)
    # when prod releases 2.0
    release(regions, "release-2", "2.0", settle2="3s")
    # then both regions cross the barrier together: nothing rolled back
    crossed_together(regions, "release-2", "2.0")
    # and mallory was told: refused, or her run says it is no stage of prod's pipeline
    if result.returncode != 0:
        refused(result)
    else:
        story = attacker.story("release-2-region3")
        assert any(p in story for p in ("pipelineRunRef", "Grant", "ignored", "record stage")), story[:3000]


def test_a_failed_mark_typed_on_a_sibling_does_not_fail_the_barrier(convoy: Operator, regions: Tenant) -> None:
    # given prod's release waits at the barrier in region1 while region2 settles
    release(regions, "release-2", "2.0")
    at_barrier(regions, "release-2", "region1")
    # when oscar (approve role: he may patch runs) marks region2's run failed by hand
    result = regions.annotate_as("oscar", "workflowruns", "release-2-region2", {BARRIER: "failed"})
    # then the mark is refused or ignored, and reported; both regions cross together
    if result.returncode != 0:
        refused(result)
    else:
        regions.wait_story("release-2-region2", "BarrierMarkIgnored", timeout=60)
    crossed_together(regions, "release-2", "2.0")


def test_a_sealed_mark_copied_from_another_run_is_ignored(convoy: Operator, regions: Tenant) -> None:
    # given an earlier release in which region2 failed, so Convoy sealed a failed mark on its run
    release(regions, "release-1", "1.5", settle2="2s", failRegion2="true")
    first = regions.runs.wait_phase("release-1", *FINISHED, timeout=150, plural="pipelineruns")
    assert first["phase"] == "Failed", first
    sealed = wait_for(
        lambda: (stage_run(regions, "release-1", "region2")["metadata"].get("annotations") or {}).get(BARRIER), 30
    )
    assert sealed.startswith("failed"), sealed
    # when, during the next release, oscar copies that mark onto the new region2 run
    release(regions, "release-2", "2.0")
    at_barrier(regions, "release-2", "region1")
    result = regions.annotate_as("oscar", "workflowruns", "release-2-region2", {BARRIER: sealed})
    # then it counts for nothing (its seal is for another run), is reported, and both regions cross together
    if result.returncode != 0:
        refused(result)
    else:
        regions.wait_story("release-2-region2", "BarrierMarkIgnored", timeout=60)
    crossed_together(regions, "release-2", "2.0")


# 13. a planted stage run


def build_job() -> dict[str, Any]:
    """A job that publishes output `image` (its container's termination message, faked on the dev cluster)."""
    step = job("run", job={"outputs": [{"name": "image"}]})
    message = '{"image": "registry.example/web:${workflow.variables.tag}"}'
    step["job"]["template"]["metadata"]["annotations"]["convoy.dev/fake-termination-message"] = message
    return step


def test_a_stage_run_created_before_convoy_does_is_not_adopted(convoy: Operator, victim: Tenant) -> None:
    # given prod's pipeline: build publishes an image tag, deploy rolls web to it
    build = {
        "type": "Build",
        "variables": [{"name": "tag", "required": True}],
        "phases": [{"name": "work", "steps": [build_job()]}],
    }  # fmt: skip
    deploy = {
        "type": "Rolling",
        "variables": [{"name": "image", "required": True}],
        "target": {"deployment": "web"},
        "artifact": {"image": "${workflow.variables.image}"},
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}]}],
    }
    stages = [
        {"name": "build", "workflow": {"workflowRef": {"name": "build"}, "variables": {"tag": "${pipeline.variables.version}"}}},
        {"name": "deploy", "workflow": {"workflowRef": {"name": "deploy"}, "variables": {"image": "${stages.build.outputs.image}"}}},
    ]  # fmt: skip
    victim.apply(
        manifest("Workflow", "build", build),
        manifest("Workflow", "deploy", deploy),
        manifest("Pipeline", "release", {"variables": [{"name": "version", "required": True}], "stages": stages}),
    )
    # and mallory (deploy role in prod) creates the build stage's run herself, before the release exists, with
    # her own tag, looking exactly like Convoy's
    victim.allow("mallory", "deploy", "view")
    planted = manifest(
        "WorkflowRun", "rel-1-build",
        {"workflowRef": {"name": "build"}, "variables": {"tag": "evil"}, "decisions": [],
         "pipelineRunRef": {"name": "rel-1", "namespace": victim.namespace, "stage": "build"}},
        labels={"convoy.dev/pipelinerun": "rel-1", "convoy.dev/pipelinerun-namespace": victim.namespace, "convoy.dev/stage": "build"},
    )  # fmt: skip
    planted_result = victim.create_as("mallory", planted)
    if planted_result.returncode == 0:
        # (a run that names a PipelineRun which did not create it does not even start: nothing vouches for it)
        planted_status = victim.runs.wait_phase("rel-1-build", "Succeeded", "Failed", timeout=60)
        assert planted_status["phase"] == "Failed", planted_status
        assert "not created by the PipelineRun it names" in planted_status["message"]
    # when prod releases 2.0
    victim.apply(
        manifest("PipelineRun", "rel-1", {"pipelineRef": {"name": "release"}, "variables": {"version": "2.0"}})
    )
    status = victim.runs.wait_phase("rel-1", *FINISHED, timeout=120, plural="pipelineruns")
    # then the planted run's output is never used: web never runs the evil tag
    assert "evil" not in victim.runs.image("web")
    build_record = next(s for s in status["stages"] if s["name"] == "build")
    assert "evil" not in str(build_record.get("outputs")), build_record
    # and the release either succeeded with its own build, or says the name was taken by a run it did not create
    if status["phase"] == "Succeeded":
        assert victim.runs.image("web") == "registry.example/web:2.0"
    else:
        story = victim.story("rel-1", "pipelineruns")
        assert "rel-1-build" in story, story[:3000]
    if planted_result.returncode == 0:
        planted_now = victim.runs.get("workflowruns", "rel-1-build")
        assert not planted_now["metadata"].get("ownerReferences"), "Convoy adopted the planted run"
