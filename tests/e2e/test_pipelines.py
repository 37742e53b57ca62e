"""PipelineRuns on the real cluster: the multi-region barrier scenario, sequential, parallel and fan-out/fan-in
stages, approval stages, a tag-triggered run, and rerun from failed. Written given / when / then."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import yaml
from harness import GROUP, VERSION, Operator, Runs, decide_as, deployment_manifest, grant_decisions, kubectl
from kubernetes import client
from waiting import wait_for

pytestmark = pytest.mark.e2e
FINISHED = ("Succeeded", "Failed", "Aborted")
RUN_FINISHED = ("Succeeded", "Failed", "RolledBack", "Aborted")


def resource(kind: str, name: str, spec: dict[str, Any], namespace: str | None = None) -> str:
    metadata: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return yaml.safe_dump({"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": metadata, "spec": spec})


def job(
    name: str, *, seconds: str = "1s", exit_code: str | None = None, writes: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A job step whose pod takes `seconds` (a template, so a variable may say), fails with `exit_code`, and
    writes `writes` to its termination message."""
    annotations = {"convoy.dev/fake-duration": seconds}
    if exit_code is not None:
        annotations["convoy.dev/fake-exit-code"] = exit_code
    if writes is not None:
        annotations["convoy.dev/fake-termination-message"] = writes
    template = {
        "metadata": {"annotations": annotations},
        "spec": {"containers": [{"name": "main", "image": "registry.example/tools:1"}]},
    }
    return {"name": name, "job": {"template": template, **extra.pop("job", {})}, **extra}


def build_workflow() -> dict[str, Any]:
    """A Build workflow: one job that takes `seconds`, fails when `fail` is true, and publishes an image."""
    outputs = [{"name": "image"}]
    return {
        "type": "Build",
        "variables": [{"name": "seconds", "default": "2s"}, {"name": "fail", "default": "false"}],
        "phases": [
            {
                "name": "work",
                "steps": [
                    job("fail", exit_code="3", when="${workflow.variables.fail} == true"),
                    job(
                        "run",
                        seconds="${workflow.variables.seconds}",
                        writes="image=registry.example/app:${run.name}",
                        job={"outputs": outputs},
                    ),
                ],
            }
        ],
        "failureStrategies": [{"errors": ["Any"], "action": "Abort"}],
    }


def stage(
    name: str,
    workflow: str = "work",
    variables: dict[str, str] | None = None,
    namespace: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    part: dict[str, Any] = {"workflowRef": {"name": workflow}, "variables": variables or {}}
    if namespace is not None:
        part["namespace"] = namespace
    return {"name": name, "workflow": part, **extra}


def pipeline_run(name: str, pipeline: str, **spec: Any) -> str:
    return resource("PipelineRun", name, {"pipelineRef": {"name": pipeline}, **spec})


def stage_record(status: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(s for s in status["stages"] if s["name"] == name))


def stage_runs(runs: Runs, pipeline_run_name: str) -> dict[str, dict[str, Any]]:
    """The WorkflowRuns of a PipelineRun, in any namespace, by stage."""
    selector = f"convoy.dev/pipelinerun={pipeline_run_name},convoy.dev/pipelinerun-namespace={runs.namespace}"
    found = cast(
        dict[str, Any],
        runs.custom.list_cluster_custom_object(GROUP, VERSION, "workflowruns", label_selector=selector),
    )
    return {item["metadata"]["labels"]["convoy.dev/stage"]: item for item in found["items"]}


def mark(run: dict[str, Any]) -> str:
    """The state of a run's regions-deployed barrier mark; Convoy seals each ("<state>/<seal>")."""
    value = str(run["metadata"]["annotations"]["barrier.convoy.dev/regions-deployed"])
    state, _, seal = value.partition("/")
    assert len(seal) == 40, value
    return state


@pytest.fixture
def work(runs: Runs) -> str:
    """Given the Build workflow 'work'."""
    runs.apply(resource("Workflow", "work", build_workflow()))
    return "work"


# Multi-region rollback with a barrier (Harness: "Coordinate rollbacks when deploying to multiple regions")


def service_account_in(core: client.CoreV1Api, namespace: str) -> Callable[[], bool]:
    return lambda: bool(core.list_namespaced_service_account(namespace).items)


@pytest.fixture
def regions(api_client: client.ApiClient, runs: Runs) -> Iterator[tuple[str, str]]:
    """Two fresh namespaces standing for region1 and region2, each with Deployment web at v1."""
    core = client.CoreV1Api(api_client)
    names = (f"{runs.namespace[:50]}-r1", f"{runs.namespace[:50]}-r2")
    for name in names:
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"convoy.dev/e2e": "true"}))
        )
    try:
        for name in names:
            wait_for(service_account_in(core, name), 30, message=f"no ServiceAccount in {name}")
            kubectl(
                runs.kubeconfig,
                "apply",
                "-n",
                name,
                "-f",
                "-",
                stdin=deployment_manifest("web", "registry.example/web:1.0", replicas=2),
            )
            allow_runs_from(runs, name)
        yield names
    finally:
        for name in names:
            core.delete_namespace(name, propagation_policy="Background")


def allow_runs_from(runs: Runs, region: str) -> None:
    """What the region's owners do to let the pipeline of `runs.namespace` deploy there (docs/security.md): grant
    its Pipelines the stage runs and its Workflows the Deployment, bind its ServiceAccount to convoy-runner; and
    the pipeline's namespace lets the region's stage runs use its Workflows."""
    home = runs.namespace
    docs = [
        {
            "apiVersion": "convoy.dev/v1alpha1",
            "kind": "Grant",
            "metadata": {"name": f"from-{home}"[:63].rstrip("-"), "namespace": region},
            "spec": {
                "from": [{"kind": k, "namespace": home} for k in ("Pipeline", "Workflow", "WorkflowRun")],
                "to": [{"kind": "WorkflowRun"}, {"kind": "Deployment"}],
            },
        },
        {
            "apiVersion": "convoy.dev/v1alpha1",
            "kind": "Grant",
            "metadata": {"name": f"to-{region}"[:63].rstrip("-"), "namespace": home},
            "spec": {"from": [{"kind": "WorkflowRun", "namespace": region}], "to": [{"kind": "Workflow"}]},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"convoy-runner-{home}"[:63].rstrip("-"), "namespace": region},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "convoy-runner"},
            "subjects": [{"kind": "ServiceAccount", "name": "convoy-runner", "namespace": home}],
        },
    ]
    kubectl(runs.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def regional_workflow() -> dict[str, Any]:
    """One templated workflow for every region: `region` is the namespace it deploys to, `failInWrapUp` turns on a
    failing step before the barrier, `settle` is how long a step before the barrier takes."""
    return {
        "type": "Rolling",
        "variables": [
            {"name": "region", "required": True},
            {"name": "version", "required": True},
            {"name": "failInWrapUp", "type": "Boolean", "default": "false"},
            {"name": "settle", "default": "1s"},
        ],
        "target": {"deployment": "web", "namespace": "${workflow.variables.region}"},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "phases": [
            {"name": "deploy", "steps": [{"name": "rolling-deployment", "deploy": {}}]},
            {
                "name": "wrap-up",
                "steps": [
                    job("failure", seconds="${workflow.variables.settle}", exit_code="1", when="${workflow.variables.failInWrapUp} == true"),
                    job("settle", seconds="${workflow.variables.settle}"),
                    {"name": "all-regions-deployed", "barrier": {"name": "regions-deployed", "timeout": "3m"}},
                ],
            },
        ],
        "failureStrategies": [{"errors": ["Any"], "action": "Rollback"}],
    }  # fmt: skip


def regional_pipeline(region1: str, region2: str) -> dict[str, Any]:
    """region1 and region2 side by side, each run created in its region's namespace; region2 settles longer, so
    region1 reaches the barrier first, and region2's failure step follows the pipeline variable `failRegion2`."""

    def region(name: str, namespace: str, fail: str, settle: str, **extra: Any) -> dict[str, Any]:
        variables = {
            "region": namespace,
            "version": "${pipeline.variables.version}",
            "failInWrapUp": fail,
            "settle": settle,
        }
        return stage(name, "web-regional", variables, namespace, **extra)

    return {
        "variables": [{"name": "version", "required": True}, {"name": "failRegion2", "default": "false"}],
        "stages": [
            region("region1", region1, "false", "1s"),
            region("region2", region2, "${pipeline.variables.failRegion2}", "6s", parallel=True),
        ],
    }


def run_in(runs: Runs, body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    obj = runs.custom.get_namespaced_custom_object(GROUP, VERSION, meta["namespace"], "workflowruns", meta["name"])
    return cast(dict[str, Any], obj)


def image_in(api_client: client.ApiClient, namespace: str) -> str:
    deployment: Any = client.AppsV1Api(api_client).read_namespaced_deployment("web", namespace)
    return str(deployment.spec.template.spec.containers[0].image)


def runs_image(api_client: client.ApiClient, namespace: str, image: str) -> Callable[[], bool]:
    return lambda: image_in(api_client, namespace) == image


def barrier_step(status: dict[str, Any]) -> dict[str, Any]:
    return dict(next(s for p in status["phases"] for s in p["steps"] if s["kind"] == "barrier"))


def test_multi_region_runs_cross_the_barrier_together(
    convoy: Operator, runs: Runs, regions: tuple[str, str], api_client: client.ApiClient
) -> None:
    # given one templated workflow and a pipeline running it for two regions side by side
    runs.apply(resource("Workflow", "web-regional", regional_workflow()))
    runs.apply(resource("Pipeline", "web-regions", regional_pipeline(*regions)))
    # when both regions pass
    runs.apply(pipeline_run("release-2", "web-regions", variables={"version": "2.0"}))
    # then region1, at the barrier first, waits there for region2 (which settles longer)
    wait_for(lambda: len(stage_runs(runs, "release-2")) == 2, 30, message="the stage runs were not created")
    region1 = stage_runs(runs, "release-2")["region1"]
    assert region1["metadata"]["namespace"] == regions[0]
    wait_for(
        lambda: run_in(runs, region1).get("status", {}).get("phase") == "WaitingAtBarrier",
        60,
        message="region1 never waited",
    )
    status = runs.wait_phase("release-2", *FINISHED, timeout=120, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    # and both crossed together, after both had arrived
    done = {name: run_in(runs, body) for name, body in stage_runs(runs, "release-2").items()}
    for name in ("region1", "region2"):
        assert done[name]["status"]["phase"] == "Succeeded"
        assert mark(done[name]) == "crossed"
    assert barrier_step(done["region1"]["status"])["finishedAt"] >= barrier_step(done["region2"]["status"])["startedAt"]
    assert [image_in(api_client, ns) for ns in regions] == ["registry.example/web:2.0"] * 2
    assert stage_record(status, "region2")["namespace"] == regions[1]
    # and the PipelineRun recorded each stage's run by uid: its barriers' participants
    assert {n: stage_record(status, n)["uid"] for n in done} == {n: r["metadata"]["uid"] for n, r in done.items()}


def test_a_region_that_fails_rolls_back_every_region(
    convoy: Operator, runs: Runs, regions: tuple[str, str], api_client: client.ApiClient
) -> None:
    # given the same pipeline
    runs.apply(resource("Workflow", "web-regional", regional_workflow()))
    runs.apply(resource("Pipeline", "web-regions", regional_pipeline(*regions)))
    # when region2's failure step is switched on by a pipeline variable
    runs.apply(pipeline_run("release-3", "web-regions", variables={"version": "3.0", "failRegion2": "true"}))
    wait_for(lambda: len(stage_runs(runs, "release-3")) == 2, 30, message="the stage runs were not created")
    waiting = stage_runs(runs, "release-3")["region1"]
    wait_for(lambda: run_in(runs, waiting).get("status", {}).get("phase") == "WaitingAtBarrier", 60)
    status = runs.wait_phase("release-3", *FINISHED, timeout=180, plural="pipelineruns")
    # then region2 failed and rolled back, and region1, waiting at the barrier, failed there and rolled back too
    assert status["phase"] == "Failed"
    done = {name: run_in(runs, body) for name, body in stage_runs(runs, "release-3").items()}
    region1, region2 = done["region1"], done["region2"]
    wait_for(lambda: run_in(runs, region1)["status"].get("phase") in RUN_FINISHED, 60)
    region1 = run_in(runs, region1)
    assert region2["status"]["phase"] == "RolledBack"
    assert region2["status"]["failure"]["error"] == "JobFailed"
    assert region1["status"]["phase"] == "RolledBack"
    assert region1["status"]["failure"]["error"] == "BarrierFailed"
    assert "region2" in region1["status"]["failure"]["message"]
    assert barrier_step(region1["status"])["error"] == "BarrierFailed"
    # and the annotations tell the story: region2 never reached the barrier, region1 could not cross it
    assert (mark(region2), mark(region1)) == ("failed", "failed")
    # and every region runs v1 again
    for namespace in regions:
        wait_for(runs_image(api_client, namespace, "registry.example/web:1.0"), 60, message=f"{namespace} not restored")
    assert {s["name"]: s["state"] for s in status["stages"]} == {"region1": "Failed", "region2": "Failed"}


# Order


def assert_after(later: dict[str, Any], *earlier: dict[str, Any]) -> None:
    for record in earlier:
        assert later["startedAt"] >= record["finishedAt"], (later, record)


def assert_overlap(*records: dict[str, Any]) -> None:
    assert max(r["startedAt"] for r in records) < min(r["finishedAt"] for r in records), records


@pytest.mark.parametrize(
    ("stages", "after", "overlapping"),
    [
        pytest.param(
            [stage("one"), stage("two"), stage("three")],
            {"two": ["one"], "three": ["two"]},
            [],
            id="sequential",
        ),
        pytest.param(
            [stage("one"), stage("two", parallel=True, variables={"seconds": "4s"}), stage("three")],
            {"three": ["one", "two"]},
            ["one", "two"],
            id="parallel",
        ),
    ],
)
def test_stages_run_in_order(
    convoy: Operator,
    runs: Runs,
    work: str,
    stages: list[dict[str, Any]],
    after: dict[str, list[str]],
    overlapping: list[str],
) -> None:
    runs.apply(resource("Pipeline", "order", {"stages": stages}))
    runs.apply(pipeline_run("order-1", "order"))
    status = runs.wait_phase("order-1", *FINISHED, timeout=120, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    assert status["stagesDone"] == f"{len(stages)}/{len(stages)}"
    records = {r["name"]: r for r in status["stages"]}
    for later, earlier in after.items():
        assert_after(records[later], *[records[e] for e in earlier])
    if overlapping:
        assert_overlap(*[records[o] for o in overlapping])
    # the stage records' timings are the runs'
    children = stage_runs(runs, "order-1")
    for record in status["stages"]:
        assert record["finishedAt"] == children[record["name"]]["status"]["finishedAt"]


def test_fan_out_then_fan_in_waits_for_all_four_tests(convoy: Operator, runs: Runs, work: str) -> None:
    # given build -> four tests (one slow) -> deploy, the tests getting what build published
    image = "${stages.build.outputs.image}"
    tests = [
        stage(f"test-{n}", requires=["build"], variables={"seconds": "6s" if n == 3 else "2s", "image": image})
        for n in range(1, 5)
    ]
    workflow = build_workflow()
    workflow["variables"].append({"name": "image", "default": "none"})
    runs.apply(resource("Workflow", "work", workflow))
    spec = {"stages": [stage("build"), *tests, stage("deploy", requires=[t["name"] for t in tests])]}
    runs.apply(resource("Pipeline", "fan", spec))
    # when it runs
    runs.apply(pipeline_run("fan-1", "fan"))
    status = runs.wait_phase("fan-1", *FINISHED, timeout=150, plural="pipelineruns")
    # then the tests ran side by side after build, and deploy only after the slowest test
    assert status["phase"] == "Succeeded", status
    records = {r["name"]: r for r in status["stages"]}
    test_records = [records[f"test-{n}"] for n in range(1, 5)]
    for record in test_records:
        assert_after(record, records["build"])
    assert_overlap(*test_records)
    assert_after(records["deploy"], *test_records)
    assert records["deploy"]["startedAt"] >= records["test-3"]["finishedAt"] > records["test-1"]["finishedAt"]
    # and each test got the image build published
    children = stage_runs(runs, "fan-1")
    built = records["build"]["outputs"]["image"]
    assert built == f"registry.example/app:{children['build']['metadata']['name']}"
    assert {children[f"test-{n}"]["spec"]["variables"]["image"] for n in range(1, 5)} == {built}


# Approvals


@pytest.fixture
def deciders(runs: Runs) -> None:
    """Users alice (the approver) and mallory may patch pipeline runs in the namespace."""
    grant_decisions(runs, "pipelineruns")


@pytest.fixture
def held(runs: Runs, work: str, deciders: None) -> str:
    """Given build -> approval by alice -> deploy, run until it holds."""
    hold = {"name": "hold", "approval": {"approvers": ["alice"], "message": "Deploy?"}}
    runs.apply(resource("Pipeline", "gated", {"stages": [stage("build"), hold, stage("deploy")]}))
    runs.apply(pipeline_run("gated-1", "gated", decisions=[]))
    status = runs.wait_phase("gated-1", "WaitingForApproval", *FINISHED, timeout=60, plural="pipelineruns")
    assert status["phase"] == "WaitingForApproval", status
    return "gated-1"


def test_an_approval_stage_holds_the_deploy_until_approved(convoy: Operator, runs: Runs, held: str) -> None:
    status = runs.status(held, "pipelineruns")
    assert stage_record(status, "hold")["approvers"] == ["alice"]
    assert "deploy" not in stage_runs(runs, held)
    # when someone who is not an approver approves, the API server refuses, naming them and the approvers
    refused = decide_as(runs, "mallory", "pipelinerun", held, {"action": "Approve", "stage": "hold"})
    assert refused.returncode != 0
    assert "mallory may not approve stage hold: the approvers are alice" in refused.stderr
    # when alice approves, deploy runs, and who approved is recorded
    accepted = decide_as(runs, "alice", "pipelinerun", held, {"action": "Approve", "stage": "hold"})
    assert accepted.returncode == 0, accepted.stderr
    status = runs.wait_phase(held, *FINISHED, timeout=60, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    assert stage_record(status, "hold")["decidedBy"] == "alice"
    assert_after(stage_record(status, "deploy"), stage_record(status, "hold"))
    assert "Approved" in runs.reasons(held)


def test_a_rejection_fails_the_pipeline_without_deploying(convoy: Operator, runs: Runs, held: str) -> None:
    assert decide_as(runs, "alice", "pipelinerun", held, {"action": "Reject", "reason": "not today"}).returncode == 0
    status = runs.wait_phase(held, *FINISHED, timeout=60, plural="pipelineruns")
    assert status["phase"] == "Failed"
    assert stage_record(status, "hold")["state"] == "Failed"
    assert stage_record(status, "hold")["message"] == "rejected by alice: not today"
    assert stage_record(status, "deploy")["state"] == "Pending"
    assert sorted(stage_runs(runs, held)) == ["build"]


# Filters


def test_a_tag_triggered_run_skips_stages_without_a_tags_filter(convoy: Operator, runs: Runs, work: str) -> None:
    stages = [
        stage("build", filters={"tags": {"only": ["/^v.*/"]}}),
        stage("deploy", requires=["build"], filters={"branches": {"only": ["main"]}}),
        stage("publish", requires=["build"], filters={"tags": {"only": ["/^v\\d+\\.\\d+\\.\\d+$/"]}}),
    ]
    runs.apply(resource("Pipeline", "ci", {"stages": stages}))
    runs.apply(pipeline_run("ci-v1", "ci", trigger={"tag": "v1.2.0", "commit": "4f2c9e1"}))
    status = runs.wait_phase("ci-v1", *FINISHED, timeout=90, plural="pipelineruns")
    assert status["phase"] == "Succeeded", status
    assert {s["name"]: s["state"] for s in status["stages"]} == {
        "build": "Succeeded",
        "deploy": "Skipped",
        "publish": "Succeeded",
    }
    assert "a tag-triggered run skips stages without a tags filter" in stage_record(status, "deploy")["message"]
    assert sorted(stage_runs(runs, "ci-v1")) == ["build", "publish"]


# Rerun from failed


def test_rerun_from_failed_runs_only_the_failed_part(convoy: Operator, runs: Runs, work: str) -> None:
    # given build -> test (fails when told to) -> deploy, and a run in which test failed
    stages = [stage("build"), stage("test", variables={"fail": "${pipeline.variables.failTests}"}), stage("deploy")]
    runs.apply(
        resource("Pipeline", "rel", {"stages": stages, "variables": [{"name": "failTests", "default": "false"}]})
    )
    runs.apply(pipeline_run("rel-1", "rel", variables={"failTests": "true"}))
    first = runs.wait_phase("rel-1", *FINISHED, timeout=90, plural="pipelineruns")
    assert first["phase"] == "Failed"
    assert {s["name"]: s["state"] for s in first["stages"]} == {
        "build": "Succeeded",
        "test": "Failed",
        "deploy": "Pending",
    }
    # when it is rerun from failed
    runs.apply(pipeline_run("rel-2", "rel", rerunOf={"name": "rel-1"}))
    second = runs.wait_phase("rel-2", *FINISHED, timeout=90, plural="pipelineruns")
    # then build is reused (its run and outputs), and only test and deploy ran again
    assert second["phase"] == "Succeeded", second
    build = stage_record(second, "build")
    assert build["state"] == "Reused"
    assert build["workflowRun"] == stage_record(first, "build")["workflowRun"]
    assert build["outputs"] == stage_record(first, "build")["outputs"]
    assert sorted(stage_runs(runs, "rel-2")) == ["deploy", "test"]
