"""Rollbacks on the real cluster: a post-deployment rollback of a Workflow's most recent deployment and the revision
history that records it, the refusals (one deployment only, a changed Workflow), a canary stopped in flight, and
blue/green swapped back while the old color exists or brought back after it was scaled down. Written given /
when / then. (That only the rollback role may create Rollbacks is tests/e2e/test_chart_install.py's.)"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest, kubectl
from test_bluegreen import blue_green, selector, service
from test_canary import canary_spec, paused_in, ready_pods, web10
from test_workflowruns import available, rolling, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
FINAL = ("Succeeded", "Failed", "Refused")
RUN_FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
__all__ = ["web10"]  # a fixture, imported to be used here


def image(version: str) -> str:
    return f"registry.example/web:{version}"


def rollback(name: str, *, workflow_name: str | None = None, run_name: str | None = None, **extra: Any) -> str:
    spec: dict[str, Any] = {"workflowRef": {"name": workflow_name}} if workflow_name else {}
    if run_name:
        spec["workflowRunRef"] = {"name": run_name}
    return yaml.safe_dump(
        {"apiVersion": "convoy.dev/v1alpha1", "kind": "Rollback", "metadata": {"name": name}, "spec": {**spec, **extra}}
    )


def deployed(runs: Runs, name: str, version: str, timeout: float = 90) -> dict[str, Any]:
    """A run of workflow `web` that deploys `version` and has succeeded."""
    runs.apply(run(name, "web", {"version": version}))
    status = runs.wait_phase(name, *RUN_FINAL, timeout=timeout)
    assert status["phase"] == "Succeeded", status.get("message")
    return status


def history(runs: Runs, length: int) -> list[dict[str, Any]]:
    """The Workflow's revision history, once it has `length` entries."""

    def recorded() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = runs.status("web", "workflows").get("history") or []
        return entries if len(entries) == length else None

    return wait_for(recorded, 30, 0.3, f"the history of workflow web did not reach {length} entries")


@pytest.fixture
def web09(runs: Runs) -> None:
    """Given a Deployment 'web' running 0.9 (put there by hand, before Convoy) with all pods available."""
    runs.apply(deployment_manifest("web", image("0.9")))
    wait_for(lambda: available(runs, "web", image("0.9")), 60, message="web 0.9 not available")


def test_rollback_of_a_workflow_returns_to_the_version_before_its_last_deployment(
    convoy: Operator, runs: Runs, web09: None
) -> None:
    # given two successful Rolling deployments, v1 then v2
    runs.apply(workflow("web", rolling()))
    deployed(runs, "web-v1", "1.0")
    deployed(runs, "web-v2", "2.0")
    assert [(e["run"], e["revision"]) for e in history(runs, 2)] == [("web-v1", image("1.0")), ("web-v2", image("2.0"))]
    # when the workflow is rolled back
    runs.apply(rollback("web-back", workflow_name="web", reason="errors since 2.0"))
    status = runs.wait_phase("web-back", *FINAL, plural="rollbacks", timeout=90)
    # then v1 runs again, every pod of it ready, and the Rollback says what it did
    assert status["phase"] == "Succeeded", status.get("message")
    assert available(runs, "web", image("1.0"))
    assert (status["workflow"], status["workflowRun"], status["postDeployment"]) == ("web", "web-v2", True)
    assert (status["revision"], status["restoredRevision"]) == (image("2.0"), image("1.0"))
    assert [(p["name"], p["state"]) for p in status["phases"]] == [("rollout", "Succeeded")]
    assert status["startedAt"] <= status["finishedAt"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert runs.reasons("web-back") == ["RollingBack", "RolledBack"]
    # and the run is marked as rolled back after its deployment, for good
    rolled_back = runs.get("workflowruns", "web-v2")
    assert rolled_back["status"]["phase"] == "RolledBack"
    assert rolled_back["status"]["postDeploymentRollback"]["reason"] == "Rollback web-back: errors since 2.0"
    assert rolled_back["metadata"]["annotations"]["convoy.dev/rollback"] == f"{runs.namespace}/web-back"
    # and the history reads v1 -> v2 -> rolled back to v1
    wait_for(lambda: history(runs, 2)[1].get("rolledBack"), 30, 0.3, "web-v2 was not marked rolled back")
    first, second = history(runs, 2)
    assert (first["revision"], first["previous"], first.get("rolledBack")) == (image("1.0"), image("0.9"), None)
    assert (second["revision"], second["rolledBack"]["result"], second["rolledBack"]["restored"]) == (
        image("2.0"),
        "RolledBack",
        image("1.0"),
    )
    # and a second rollback is refused: older deployments are history only
    runs.apply(rollback("web-back-again", workflow_name="web"))
    again = runs.wait_phase("web-back-again", *FINAL, plural="rollbacks")
    assert again["phase"] == "Refused"
    assert "was rolled back already" in again["message"]


def test_rollback_with_one_successful_deployment_is_refused(convoy: Operator, runs: Runs, web09: None) -> None:
    # given a single successful deployment
    runs.apply(workflow("web", rolling()))
    deployed(runs, "web-v1", "1.0")
    # when the workflow is rolled back
    runs.apply(rollback("web-back", workflow_name="web"))
    status = runs.wait_phase("web-back", *FINAL, plural="rollbacks")
    # then it is refused, with a message that says why, and nothing changed
    assert status["phase"] == "Refused"
    assert status["message"] == (
        "a post-deployment rollback needs at least two successful deployments of Workflow web; it has 1 (web-v1), "
        "so there is no earlier good version to return to"
    )
    assert "Refused" in runs.reasons("web-back")
    assert available(runs, "web", image("1.0"))
    assert runs.status("web-v1")["phase"] == "Succeeded"


def test_a_workflow_changed_since_its_deployment_is_rolled_back_only_when_forced(
    convoy: Operator, runs: Runs, web09: None
) -> None:
    # given two deployments, then an edit of the workflow
    runs.apply(workflow("web", rolling()))
    deployed(runs, "web-v1", "1.0")
    deployed(runs, "web-v2", "2.0")
    runs.apply(workflow("web", rolling(steadyStateTimeout="15m")))
    # when it is rolled back without force, then it is refused and says what changed
    runs.apply(rollback("web-back", workflow_name="web"))
    refused = runs.wait_phase("web-back", *FINAL, plural="rollbacks")
    assert refused["phase"] == "Refused"
    assert "(spec.steadyStateTimeout differ)" in refused["message"] and "force: true" in refused["message"]
    # when it is rolled back with force, then v1 runs again
    runs.apply(rollback("web-back-forced", workflow_name="web", force=True))
    forced = runs.wait_phase("web-back-forced", *FINAL, plural="rollbacks", timeout=90)
    assert forced["phase"] == "Succeeded", forced.get("message")
    assert available(runs, "web", image("1.0"))


def test_rolling_back_a_canary_in_progress_stops_it_and_returns_stable_to_100_percent(
    convoy: Operator, runs: Runs, web10: None
) -> None:
    # given a canary paused at 30%
    runs.apply(workflow("web", canary_spec(10, 30, 60, 100)))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    paused_in(runs, "web-2", "canary-10")
    runs.decide("web-2", {"action": "Resume"})
    paused_in(runs, "web-2", "canary-30")
    assert (ready_pods(runs, "web"), ready_pods(runs, "web-canary")) == (7, 3)
    # when the run is rolled back
    runs.apply(rollback("web-2-back", run_name="web-2"))
    status = runs.wait_phase("web-2-back", *FINAL, plural="rollbacks", timeout=90)
    # then the canary stopped, stepped back through its phases, and stable serves everything again
    assert status["phase"] == "Succeeded", status.get("message")
    assert (status["workflowRun"], status["postDeployment"]) == ("web-2", False)
    assert [p["name"] for p in status["phases"]] == ["canary-30", "canary-10"]
    run_status = runs.status("web-2")
    assert run_status["phase"] == "RolledBack"
    assert [p["name"] for p in run_status["phases"] if p["state"] != "Pending"] == ["canary-10", "canary-30"]
    wait_for(lambda: ready_pods(runs, "web-canary") is None, 30, message="the canary was not removed")
    assert ready_pods(runs, "web") == 10
    assert available(runs, "web", image("1.0"))


@pytest.fixture
def blue_green_web(runs: Runs) -> None:
    """Given Deployment 'web' at 1.0 behind the active Service 'web', and a preview Service."""
    runs.apply(deployment_manifest("web", image("1.0"), replicas=3))
    runs.apply(yaml.safe_dump_all([service("web"), service("web-preview")]))
    wait_for(lambda: available(runs, "web", image("1.0")), 60, message="web 1.0 not available")


def swapped(runs: Runs, name: str, version: str) -> None:
    """Run `name` deploys `version` to the preview color and swaps after its pause."""
    runs.apply(run(name, "web", {"version": version}))
    runs.wait_phase(name, "Paused", timeout=60)
    runs.decide(name, {"action": "Resume"})


BLUE = {"app": "web-blue", "convoy.dev/color": "blue"}
GREEN = {"app": "web-green", "convoy.dev/color": "green"}


def test_blue_green_rollback_while_the_old_color_exists_swaps_back(
    convoy: Operator, runs: Runs, blue_green_web: None
) -> None:
    # given a blue/green run that swapped to blue and keeps the old pods for a minute
    runs.apply(workflow("web", blue_green(delay="1m")))
    swapped(runs, "web-2", "2.0")
    wait_for(lambda: selector(runs, "web") == BLUE, 30, message="active was not swapped")
    assert runs.deployment("web").spec.replicas == 3
    # when it is rolled back
    runs.apply(rollback("web-2-back", run_name="web-2"))
    status = runs.wait_phase("web-2-back", *FINAL, plural="rollbacks", timeout=60)
    # then the active Service points at the old pods again, which never went away
    assert status["phase"] == "Succeeded", status.get("message")
    assert selector(runs, "web") == {"app": "web"}
    assert available(runs, "web", image("1.0"))
    wait_for(lambda: runs.deployment("web-blue").spec.replicas == 0, 30, message="blue was not scaled down")


def test_blue_green_rollback_after_the_old_color_was_scaled_down_brings_it_back(
    convoy: Operator, runs: Runs, blue_green_web: None
) -> None:
    # given two blue/green deployments (2.0 on blue, then 3.0 on green), each old color scaled down after 2s
    runs.apply(workflow("web", blue_green(delay="2s")))
    swapped(runs, "web-2", "2.0")
    assert runs.wait_phase("web-2", *RUN_FINAL, timeout=60)["phase"] == "Succeeded"
    swapped(runs, "web-3", "3.0")
    assert runs.wait_phase("web-3", *RUN_FINAL, timeout=60)["phase"] == "Succeeded"
    assert selector(runs, "web") == GREEN
    assert runs.deployment("web-blue").spec.replicas == 0
    # when the workflow is rolled back
    runs.apply(rollback("web-back", workflow_name="web"))
    status = runs.wait_phase("web-back", *FINAL, plural="rollbacks", timeout=90)
    # then 2.0 is brought back at full size on blue and the active Service swapped back to it
    assert status["phase"] == "Succeeded", status.get("message")
    assert (status["workflowRun"], status["restoredRevision"]) == ("web-3", image("2.0"))
    assert selector(runs, "web") == BLUE
    assert available(runs, "web-blue", image("2.0"))
    wait_for(lambda: runs.deployment("web-green").spec.replicas == 0, 30, message="green was not scaled down")


def test_a_rollback_records_the_user_who_asked_for_it(convoy: Operator, runs: Runs, web09: None) -> None:
    # given two successful deployments, and oncall-olga holding only the chart's rollback role in the namespace
    runs.apply(workflow("web", rolling()))
    deployed(runs, "web-v1", "1.0")
    deployed(runs, "web-v2", "2.0")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "oncall"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "convoy-e2e-rollback"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oncall-olga"}],
    }
    runs.apply(yaml.safe_dump(binding))
    # when she creates a Rollback of the workflow
    created = kubectl(
        runs.kubeconfig, "--as", "oncall-olga", "-n", runs.namespace, "create", "-f", "-",
        stdin=rollback("web-back", workflow_name="web"), check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    status = runs.wait_phase("web-back", *FINAL, plural="rollbacks", timeout=90)
    assert status["phase"] == "Succeeded", status.get("message")
    # then the run and the Workflow's history say she asked, not the operator
    rolled_back = runs.get("workflowruns", "web-v2")
    assert rolled_back["status"]["postDeploymentRollback"]["requestedBy"] == "oncall-olga"
    wait_for(lambda: history(runs, 2)[1].get("rolledBack"), 30, 0.3, "web-v2 was not marked rolled back")
    assert history(runs, 2)[1]["rolledBack"]["requestedBy"] == "oncall-olga"
    decision = rolled_back["spec"]["decisions"][-1]
    assert (decision["requestedBy"], decision["by"]) == (
        "oncall-olga",
        "system:serviceaccount:convoy-e2e-system:convoy-e2e",
    )
