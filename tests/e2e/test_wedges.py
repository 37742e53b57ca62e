"""Nothing wedges: a change the API server refuses for good (RBAC's 403, an admission policy's 422) fails its step
with the error kind and the failure strategy applies; a workflow of 300 instant steps settles; a run name longer
than a label value may be runs Jobs; runs whose targets the operator does not know yet all run, one after the
other; finished runs are garbage-collected."""

from __future__ import annotations

import itertools
import time
from typing import Any, cast

import pytest
import yaml
from harness import Operator, Runs, kubectl
from test_workflowruns import passing_job, rolling, run, web, workflow
from waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("web")]
_ = web  # the fixture every test here uses
FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")


def abort_on(*errors: str) -> dict[str, Any]:
    return {"failureStrategies": [{"errors": list(errors), "action": "Abort"}]}


def failed_step(status: dict[str, Any]) -> dict[str, Any]:
    return next(s for p in status["phases"] for s in p["steps"] if s.get("error"))


def test_a_403_fails_the_step_as_forbidden(convoy: Operator, runs: Runs) -> None:
    # given a namespace whose convoy-runner may no longer change Deployments (its RoleBinding removed)
    kubectl(runs.kubeconfig, "-n", runs.namespace, "delete", "rolebinding", "convoy-runner")
    runs.apply(workflow("web", rolling(**abort_on("Forbidden"))))
    # when a run deploys v2
    started = time.monotonic()
    runs.apply(run("web-v2", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-v2", *FINAL, timeout=60)
    # then the deploy step failed with Forbidden and the strategy for Forbidden aborted the run, once
    assert status["phase"] == "Aborted", status
    step = failed_step(status)
    assert (step["name"], step["error"], step["attempts"]) == ("deploy", "Forbidden", 1)
    assert "convoy-runner" in step["message"]
    assert runs.image("web") == "registry.example/web:1.0"
    print(f"403 → Aborted in {time.monotonic() - started:.1f}s")


@pytest.fixture
def refuse_bad_images(runs: Runs, request: pytest.FixtureRequest) -> Any:
    """A ValidatingAdmissionPolicy that refuses Deployments in the test's namespace running a ':bad' image (422)."""
    request.getfixturevalue("web")  # the probe below changes it (dry run)
    name = f"no-bad-images-{runs.namespace}"[:63]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "object.spec.template.spec.containers.all(c, !c.image.endsWith(':bad'))",
                    "message": "images tagged ':bad' are not allowed",
                    "reason": "Invalid",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": runs.namespace}}},
        },
    }
    kubectl(runs.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all([policy, binding]))

    def refused() -> bool:
        probe = kubectl(
            runs.kubeconfig, "-n", runs.namespace, "set", "image", "deployment/web", "web=registry.example/web:bad",
            "--dry-run=server", check=False,
        )  # fmt: skip
        return probe.returncode != 0 and "not allowed" in probe.stderr

    wait_for(refused, 30, 0.5, "the admission policy does not refuse yet")
    yield
    kubectl(runs.kubeconfig, "delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", name, check=False)


def test_a_422_from_an_admission_policy_fails_the_step_as_invalid(
    convoy: Operator, runs: Runs, refuse_bad_images: None
) -> None:
    # given a Workflow whose strategy aborts on Invalid
    runs.apply(workflow("web", rolling(**abort_on("Invalid"))))
    # when a run deploys an image the cluster's policy refuses
    runs.apply(run("web-bad", "web", {"version": "bad"}))
    status = runs.wait_phase("web-bad", *FINAL, timeout=60)
    # then the deploy step failed once with Invalid, naming the policy's message, and the run was aborted
    assert status["phase"] == "Aborted", status
    step = failed_step(status)
    assert (step["name"], step["error"], step["attempts"]) == ("deploy", "Invalid", 1)
    assert "not allowed" in step["message"]
    assert runs.image("web") == "registry.example/web:1.0"


def test_300_instant_steps_settle(convoy: Operator, runs: Runs) -> None:
    # given a Workflow of 6 phases of 50 steps: a deploy, then notifications (instant steps)
    def notes(phase: int, count: int) -> list[dict[str, Any]]:
        return [{"name": f"say-{phase}-{i}", "notify": {"message": f"{phase}/{i}"}} for i in range(count)]

    phases = [{"name": "p0", "steps": [{"name": "deploy", "deploy": {}}, *notes(0, 49)]}]
    phases += [{"name": f"p{p}", "steps": notes(p, 50)} for p in range(1, 6)]
    runs.apply(workflow("web", {**rolling(), "phases": phases}))
    # when a run deploys v2
    runs.apply(run("web-v2", "web", {"version": "2.0"}))
    # then it succeeds, every step done
    status = runs.wait_phase("web-v2", *FINAL, timeout=120)
    assert status["phase"] == "Succeeded", status.get("message")
    assert sum(len(p["steps"]) for p in status["phases"]) == 300
    assert all(s["state"] == "Succeeded" for p in status["phases"] for s in p["steps"])


def test_a_run_name_longer_than_a_label_value_runs_its_jobs(convoy: Operator, runs: Runs) -> None:
    # given a Workflow with a Job step, and a run whose name is longer than 63 characters
    runs.apply(workflow("web", rolling(passing_job("smoke"))))
    name = "release-of-web-" + "x" * 80
    # when it runs
    runs.apply(run(name, "web", {"version": "2.0"}))
    status = runs.wait_phase(name, *FINAL, timeout=90)
    # then its Job (labelled with the hash-shortened name) was found and followed to the end
    assert status["phase"] == "Succeeded", status.get("message")
    jobs = runs.batch.list_namespaced_job(runs.namespace).items
    labels = [(j.metadata.labels or {})["convoy.dev/run"] for j in jobs if j.metadata]
    assert len(labels) == 1 and len(labels[0]) <= 63


def test_runs_whose_targets_are_not_known_yet_all_run_in_turn(convoy: Operator, runs: Runs) -> None:
    # given three runs of one target created at once (reconciled concurrently: a run can be planned before an
    # earlier one's targets are known), and the operator killed right after, so it starts knowing only the LIST
    runs.apply(workflow("web", rolling({"name": "hold", "pause": {"duration": "2s"}})))
    runs.apply("---\n".join(run(f"web-{v[0]}", "web", {"version": v}) for v in ("2.0", "3.0", "4.0")))
    convoy.restart()
    # then each one runs, none is left queued behind another, and never two at once
    statuses = [runs.wait_phase(f"web-{v}", *FINAL, timeout=120) for v in "234"]
    assert [s["phase"] for s in statuses] == ["Succeeded"] * 3, [s.get("message") for s in statuses]
    spans = sorted((s["startedAt"], s["finishedAt"]) for s in statuses)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans)), spans


def test_finished_runs_are_deleted_after_their_ttl_and_beyond_the_history_limit(
    convoy: Operator, runs: Runs, web: str
) -> None:
    # given a Workflow that keeps 2 finished runs, and a run that asks to go 2 s after it finished
    runs.apply(workflow("web", {**rolling(), "runHistoryLimit": 2}))
    for version in ("2.0", "3.0", "4.0"):
        runs.apply(run(f"web-{version[0]}", "web", {"version": version}))
        assert runs.wait_phase(f"web-{version[0]}", *FINAL, timeout=60)["phase"] == "Succeeded"
    short = yaml.safe_load(run("web-5", "web", {"version": "5.0"}))
    short["spec"]["ttlSecondsAfterFinished"] = 2
    runs.apply(yaml.safe_dump(short))

    def names() -> set[str]:
        found = cast(
            dict[str, Any],
            runs.custom.list_namespaced_custom_object("convoy.dev", "v1alpha1", runs.namespace, "workflowruns"),
        )
        return {item["metadata"]["name"] for item in found["items"]}

    # then the oldest run beyond the limit goes, the expired one goes, and the history keeps every deployment
    wait_for(lambda: "web-2" not in names(), 60, 0.5, "the run beyond runHistoryLimit was not deleted")
    wait_for(lambda: "web-5" not in names(), 60, 0.5, "the run past its ttlSecondsAfterFinished was not deleted")
    assert "web-4" in names()  # the newest successful deployment stays, for a Rollback
    history = runs.get("workflows", "web")["status"]["history"]
    assert [h["run"] for h in history] == ["web-2", "web-3", "web-4", "web-5"]
