"""Snapshots on the real cluster: a snapshot a tenant edited is never restored from, and a ConfigMap pre-created
under a snapshot's name stops the deploy before anything changes. Written given / when / then."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from harness import Operator, Runs
from test_workflowruns import failing_job, on_error, rolling, run, web, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
__all__ = ["web"]  # a fixture, imported to be used here

FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
EVIL = "registry.example/evil:1"


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployed_before_a_failing_check(runs: Runs, name: str) -> tuple[str, Any]:
    """Run `name` deploys 2.0 and pauses 8 s before a check that fails into a rollback; its snapshot's name and
    ConfigMap, once saved."""
    pause = {"name": "hold", "pause": {"duration": "8s"}}
    runs.apply(workflow("web", rolling(pause, failing_job(failureStrategies=on_error("Rollback")))))
    runs.apply(run(name, "web", {"version": "2.0"}))
    runs.wait_phase(name, "Paused", "Running", *FINAL, timeout=60)
    snapshot = f"{name}-rollout-snapshot"
    return snapshot, wait_for(lambda: _configmap(runs, snapshot), 30, 0.3, f"snapshot {snapshot} was not saved")


def test_an_edited_snapshot_is_never_restored(convoy: Operator, runs: Runs, web: str) -> None:
    # given a run that deployed 2.0, saved 1.0 in its snapshot, and pauses before a check that fails into a rollback
    snapshot, saved = deployed_before_a_failing_check(runs, "web-forged")
    # when someone with write access to ConfigMaps puts another image in the snapshot
    template = saved.data["template"].replace("registry.example/web:1.0", EVIL)
    assert template != saved.data["template"]
    runs.core.patch_namespaced_config_map(snapshot, runs.namespace, {"data": {"template": template}})
    status = runs.wait_phase("web-forged", *FINAL, timeout=90)
    # then the rollback refuses the snapshot, says why, and the forged image never reaches the Deployment
    assert status["phase"] != "RolledBack", status
    rollback = status["rollback"][0]["steps"][0]
    assert rollback["error"] == "Conflict"
    assert rollback["message"] == (
        f"snapshot ConfigMap {runs.namespace}/{snapshot} is not trusted "
        "(its convoy.dev/seal annotation does not match its content): nothing was restored"
    )
    assert runs.image("web") == "registry.example/web:2.0"


def test_a_deleted_snapshot_fails_the_rollback_instead_of_faking_it(convoy: Operator, runs: Runs, web: str) -> None:
    # given a run that deployed 2.0, saved 1.0 in its snapshot, and pauses before a check that fails into a rollback
    snapshot, _ = deployed_before_a_failing_check(runs, "web-lost")
    # when someone deletes the snapshot while 2.0 runs
    runs.core.delete_namespaced_config_map(snapshot, runs.namespace)
    status = runs.wait_phase("web-lost", *FINAL, timeout=90)
    # then the rollback fails with NotFound and says what is lost, rather than reporting 1.0 restored
    assert status["phase"] == "Failed", status
    rollback = status["rollback"][0]["steps"][0]
    assert rollback["error"] == "NotFound"
    assert rollback["message"].startswith(
        f"snapshot ConfigMap {runs.namespace}/{snapshot} was deleted while Deployment {runs.namespace}/web still "
        "runs this phase's change"
    ), rollback
    assert runs.image("web") == "registry.example/web:2.0"


def test_a_configmap_squatting_the_snapshot_name_stops_the_deploy(convoy: Operator, runs: Runs, web: str) -> None:
    # given a ConfigMap someone created under the name the run's snapshot will have, holding another image
    snapshot = "web-squat-rollout-snapshot"
    forged = json.dumps({"spec": {"containers": [{"image": EVIL, "name": "web"}]}})
    runs.apply(yaml.safe_dump(configmap(snapshot, {"deployment": "web", "template": forged})))
    runs.apply(workflow("web", rolling()))
    # when a run deploys 2.0
    runs.apply(run("web-squat", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-squat", *FINAL, timeout=60)
    # then the deploy step fails with Conflict before changing anything, and the ConfigMap is left as it was
    assert status["phase"] != "Succeeded", status
    assert status["failure"]["error"] == "Conflict"
    message = status["failure"]["message"]
    assert message.startswith(
        f"ConfigMap {runs.namespace}/{snapshot} already exists and is not this run's snapshot "
        "(it is not owned by WorkflowRun web-squat (uid "
    ), message
    assert message.endswith("nothing was changed, since it could not be restored; delete that ConfigMap to deploy")
    assert runs.image("web") == "registry.example/web:1.0"
    assert runs.core.read_namespaced_config_map(snapshot, runs.namespace).data == {
        "deployment": "web",
        "template": forged,
    }


def _configmap(runs: Runs, name: str) -> Any:
    found = runs.core.list_namespaced_config_map(runs.namespace, field_selector=f"metadata.name={name}").items
    return found[0] if found else None
