"""WorkflowRuns on the real cluster: Rolling deploys, failure strategies, approvals, queuing, notifications,
MultiService and Build workflows. Written given / when / then."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, decide_as, deployment_manifest, grant_decisions
from waiting import wait_for

pytestmark = pytest.mark.e2e


def workflow(name: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {"apiVersion": "convoy.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": name}, "spec": spec}
    )


def run(name: str, workflow_name: str, variables: dict[str, str] | None = None) -> str:
    spec: dict[str, Any] = {"workflowRef": {"name": workflow_name}, "variables": variables or {}, "decisions": []}
    return yaml.safe_dump(
        {"apiVersion": "convoy.dev/v1alpha1", "kind": "WorkflowRun", "metadata": {"name": name}, "spec": spec}
    )


def rolling(*steps: dict[str, Any], target: str = "web", **extra: Any) -> dict[str, Any]:
    return {
        "type": "Rolling",
        "target": {"deployment": target},
        "artifact": {"image": "registry.example/web:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}, *steps]}],
        **extra,
    }


def failing_job(name: str = "smoke", **extra: Any) -> dict[str, Any]:
    template = {
        "metadata": {"annotations": {"convoy.dev/fake-exit-code": "3"}},
        "spec": {"containers": [{"name": "smoke", "image": "registry.example/smoke:1"}]},
    }
    return {"name": name, "job": {"template": template}, **extra}


def passing_job(name: str = "smoke", **extra: Any) -> dict[str, Any]:
    template = {"spec": {"containers": [{"name": name, "image": "registry.example/smoke:1"}]}}
    return {"name": name, "job": {"template": template}, **extra}


def on_error(action: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"errors": ["Any"], "action": action, **extra}]


def step_record(status: dict[str, Any], step: str) -> dict[str, Any]:
    for phase in status.get("phases", []):
        for record in phase["steps"]:
            if record["name"] == step:
                return dict(record)
    raise AssertionError(f"no step {step} in {status}")


def available(runs: Runs, name: str, image: str) -> bool:
    d = runs.deployment(name)
    replicas = d.spec.replicas
    return bool(
        d.spec.template.spec.containers[0].image == image
        and d.status.available_replicas == replicas
        and d.status.updated_replicas == replicas
        and d.status.replicas == replicas
    )


@pytest.fixture
def web(runs: Runs) -> str:
    """Given a Deployment 'web' running v1 with all pods available."""
    runs.apply(deployment_manifest("web", "registry.example/web:1.0"))
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="web v1 not available")
    return "web"


def test_rolling_run_succeeds_once_new_pods_are_available(convoy: Operator, runs: Runs, web: str) -> None:
    # given a Rolling workflow
    runs.apply(workflow("web", rolling()))
    # when a run deploys v2
    runs.apply(run("web-v2", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-v2", "Succeeded", "Failed", "RolledBack", "Aborted")
    # then it succeeded, and by then every pod of the new version was available
    assert status["phase"] == "Succeeded"
    assert available(runs, "web", "registry.example/web:2.0")
    assert status["revisions"] == {"stable": "registry.example/web:1.0", "new": "registry.example/web:2.0"}
    assert status["progress"] == "1/1"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert "Started" in runs.reasons("web-v2")
    assert "Succeeded" in runs.reasons("web-v2")


def test_rollout_that_cannot_finish_times_out_and_applies_the_failure_strategy(
    convoy: Operator, runs: Runs, web: str
) -> None:
    # given a workflow with a short steady-state timeout and Abort on Timeout
    spec = rolling(steadyStateTimeout="6s", failureStrategies=[{"errors": ["Timeout"], "action": "Abort"}])
    runs.apply(workflow("web", spec))
    # when it deploys an image whose pods never become ready
    runs.apply(run("web-bad", "web", {"version": "2.0-unready"}))
    status = runs.wait_phase("web-bad", "Aborted", "Succeeded", "Failed", "RolledBack", timeout=60)
    # then the deploy step timed out and the strategy (Abort) was applied: nothing rolled back
    assert status["phase"] == "Aborted"
    assert status["failure"]["error"] == "Timeout"
    assert runs.image("web") == "registry.example/web:2.0-unready"


def test_retry_twice_attempts_the_step_three_times(convoy: Operator, runs: Runs, web: str) -> None:
    strategy = on_error("Retry", retry={"count": 2, "interval": "1s", "backoff": 1.0, "then": "Abort"})
    runs.apply(workflow("web", rolling(failing_job(failureStrategies=strategy))))
    runs.apply(run("web-retry", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-retry", "Aborted", "Succeeded", "RolledBack", "Failed", timeout=90)
    assert status["phase"] == "Aborted"
    assert step_record(status, "smoke")["attempts"] == 3
    assert runs.job_names("web-retry") == [f"web-retry-rollout-deploy-smoke-{n}" for n in (1, 2, 3)]
    assert runs.reasons("web-retry").count("StepRetrying") == 2


def test_rollback_strategy_restores_the_previous_revision(convoy: Operator, runs: Runs, web: str) -> None:
    runs.apply(workflow("web", rolling(failing_job(failureStrategies=on_error("Rollback")))))
    runs.apply(run("web-rb", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-rb", "RolledBack", "Succeeded", "Failed", "Aborted", timeout=90)
    assert status["phase"] == "RolledBack"
    assert status["failure"]["error"] == "JobFailed"
    assert [p["name"] for p in status["rollback"]] == ["rollout"]
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="v1 not restored")


def test_abort_strategy_rolls_nothing_back(convoy: Operator, runs: Runs, web: str) -> None:
    runs.apply(workflow("web", rolling(failing_job(failureStrategies=on_error("Abort")))))
    runs.apply(run("web-abort", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-abort", "Aborted", "Succeeded", "RolledBack", "Failed", timeout=90)
    assert status["phase"] == "Aborted"
    assert status["rollback"] == []
    assert runs.image("web") == "registry.example/web:2.0"


def test_ignore_strategy_continues_and_records_it(convoy: Operator, runs: Runs, web: str) -> None:
    runs.apply(workflow("web", rolling(failing_job(failureStrategies=on_error("Ignore")), passing_job("after"))))
    runs.apply(run("web-ignore", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-ignore", "Succeeded", "Aborted", "RolledBack", "Failed", timeout=90)
    assert status["phase"] == "Succeeded"
    assert step_record(status, "smoke")["state"] == "Ignored"
    assert step_record(status, "after")["state"] == "Succeeded"
    assert "StepFailureIgnored" in runs.reasons("web-ignore")


@pytest.fixture
def deciders(runs: Runs) -> None:
    """Users alice (approver) and mallory (not an approver) may patch workflow runs in the namespace."""
    grant_decisions(runs, "workflowruns")


def test_approval_by_an_approver_is_recorded_and_others_are_refused(
    convoy: Operator, runs: Runs, web: str, deciders: None
) -> None:
    approval = {"name": "go-live", "approval": {"approvers": ["alice"], "timeout": "10m"}}
    runs.apply(workflow("web", rolling(approval)))
    runs.apply(run("web-approve", "web", {"version": "2.0"}))
    runs.wait_phase("web-approve", "WaitingForApproval")
    # when someone who is not an approver approves, the API server refuses with a clear message
    refused = decide_as(runs, "mallory", "workflowrun", "web-approve", {"action": "Approve", "step": "go-live"})
    assert refused.returncode != 0
    assert "mallory may not approve step go-live: the approvers are alice" in refused.stderr
    assert runs.status("web-approve")["phase"] == "WaitingForApproval"
    # when alice approves, the run goes on and records her
    accepted = decide_as(
        runs, "alice", "workflowrun", "web-approve", {"action": "Approve", "step": "go-live", "by": "someone-else"}
    )
    assert accepted.returncode == 0, accepted.stderr
    status = runs.wait_phase("web-approve", "Succeeded", "Failed", "Aborted", "RolledBack")
    assert status["phase"] == "Succeeded"
    assert step_record(status, "go-live")["decidedBy"] == "alice"
    assert runs.get("workflowruns", "web-approve")["spec"]["decisions"][0]["by"] == "alice"


def test_rejection_applies_the_failure_strategy(convoy: Operator, runs: Runs, web: str, deciders: None) -> None:
    approval = {"name": "go-live", "approval": {"approvers": ["alice"]}, "failureStrategies": on_error("Rollback")}
    runs.apply(workflow("web", rolling(approval)))
    runs.apply(run("web-reject", "web", {"version": "2.0"}))
    runs.wait_phase("web-reject", "WaitingForApproval")
    assert (
        decide_as(runs, "alice", "workflowrun", "web-reject", {"action": "Reject", "reason": "not today"}).returncode
        == 0
    )
    status = runs.wait_phase("web-reject", "RolledBack", "Failed", "Succeeded", "Aborted", timeout=60)
    assert status["phase"] == "RolledBack"
    assert status["failure"]["error"] == "ApprovalRejected"
    wait_for(lambda: available(runs, "web", "registry.example/web:1.0"), 60, message="v1 not restored")


def test_second_run_for_the_same_target_is_queued_until_the_first_ends(convoy: Operator, runs: Runs, web: str) -> None:
    runs.apply(workflow("web", rolling({"name": "hold", "pause": {}})))
    runs.apply(run("first", "web", {"version": "2.0"}))
    runs.wait_phase("first", "Paused")
    runs.apply(run("second", "web", {"version": "3.0"}))
    queued = runs.wait_phase("second", "Queued")
    assert queued["queuePosition"] == 1
    assert runs.image("web") == "registry.example/web:2.0"
    runs.decide("first", {"action": "Resume"})
    assert runs.wait_phase("first", "Succeeded", "Failed")["phase"] == "Succeeded"
    runs.wait_phase("second", "Paused", timeout=60)
    wait_for(lambda: available(runs, "web", "registry.example/web:3.0"), 60, message="second run did not deploy")


class Receiver:
    """A local webhook endpoint that records what it is sent."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
                time.sleep(delay)
                self.send_response(204)
                self.end_headers()

            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cr3t-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_notification_reaches_the_webhook_and_the_url_stays_secret(
    convoy: Operator, runs: Runs, web: str, receiver: Receiver
) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"url": receiver.url}}
    runs.apply(yaml.safe_dump(secret))
    notify = {
        "name": "tell",
        "notify": {
            "message": "web ${workflow.variables.version} is out",
            "webhook": {"urlFrom": {"name": "hook", "key": "url"}},
        },
    }
    runs.apply(workflow("web", rolling(notify)))
    runs.apply(run("web-notify", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-notify", "Succeeded", "Failed", "RolledBack", "Aborted")
    assert status["phase"] == "Succeeded"
    wait_for(lambda: receiver.received, 10, message="the webhook received nothing")
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert body["message"] == "web 2.0 is out" and body["run"] == "web-notify"
    assert headers["Idempotency-Key"]
    secret_part = "s3cr3t-token"
    assert secret_part not in json.dumps(runs.get("workflowruns", "web-notify"))
    assert all(secret_part not in (e.message or "") for e in runs.events("web-notify"))
    assert secret_part not in convoy.log_path.read_text()


def test_multiservice_deploys_in_order_and_rolls_back_in_reverse(convoy: Operator, runs: Runs) -> None:
    for name in ("api", "ui"):
        runs.apply(deployment_manifest(name, f"registry.example/{name}:1.0", replicas=2))
    spec = {
        "type": "MultiService",
        "artifact": {"image": "registry.example/app:2.0"},
        "phases": [
            {"name": "api", "target": {"deployment": "api"}, "steps": [{"name": "deploy", "deploy": {}}]},
            {"name": "ui", "target": {"deployment": "ui"}, "steps": [{"name": "deploy", "deploy": {}}, failing_job()]},
        ],
    }
    runs.apply(workflow("app", spec))
    runs.apply(run("app-2", "app"))
    status = runs.wait_phase("app-2", "RolledBack", "Succeeded", "Failed", "Aborted", timeout=120)
    assert status["phase"] == "RolledBack"
    assert [p["name"] for p in status["rollback"]] == ["ui", "api"]
    started = [p["startedAt"] for p in status["phases"]]
    assert started == sorted(started)
    for name in ("api", "ui"):
        image = f"registry.example/{name}:1.0"
        wait_for(lambda: available(runs, name, image), 60, message=f"{name} not restored")  # noqa: B023
    # the records say the order (Events carry one-second timestamps, too coarse to order by)
    finished = [p["finishedAt"] for p in status["rollback"]]
    assert finished == sorted(finished)
    messages = {e.message for e in runs.events("app-2") if e.reason == "PhaseFinished"}
    assert {"phase ui rolled back", "phase api rolled back"} <= messages


def test_build_output_is_consumed_by_a_following_run(convoy: Operator, runs: Runs, web: str) -> None:
    build = {
        "type": "Build",
        "phases": [{"name": "build", "steps": [
            {"name": "compile", "job": {"outputs": [{"name": "image"}], "template": {
                "metadata": {"annotations": {"convoy.dev/fake-termination-message": "image=registry.example/web:${run.name}"}},
                "spec": {"containers": [{"name": "compile", "image": "registry.example/smoke:1"}]},
            }}},
        ]}],
    }  # fmt: skip
    runs.apply(workflow("build", build))
    runs.apply(run("b42", "build"))
    status = runs.wait_phase("b42", "Succeeded", "Failed", "Aborted", "RolledBack")
    assert status["outputs"] == {"image": "registry.example/web:b42"}
    deploy = rolling()
    deploy["artifact"] = {"image": "${workflow.variables.image}"}
    deploy["variables"] = [{"name": "image", "required": True}]
    runs.apply(workflow("web", deploy))
    runs.apply(run("deploy-b42", "web", {"image": status["outputs"]["image"]}))
    assert runs.wait_phase("deploy-b42", "Succeeded", "Failed", "RolledBack", "Aborted")["phase"] == "Succeeded"
    assert available(runs, "web", "registry.example/web:b42")


def basic(*steps: dict[str, Any]) -> dict[str, Any]:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "site"},
        "data": {"greeting": "${workflow.variables.greeting}"},
    }
    deployment = yaml.safe_load(deployment_manifest("site", "registry.example/site:1.0", replicas=2))
    return {
        "type": "Basic",
        "target": {"manifests": [config, deployment]},
        "variables": [{"name": "greeting", "default": "hello"}],
        "phases": [{"name": "apply", "steps": [{"name": "apply", "deploy": {}}, *steps]}],
    }


def test_basic_applies_its_manifests_and_rollback_removes_what_it_created(convoy: Operator, runs: Runs) -> None:
    # given a Basic workflow whose objects do not exist yet
    runs.apply(workflow("site", basic()))
    # when it runs, the objects are applied and the Deployment becomes available
    runs.apply(run("site-1", "site", {"greeting": "hi"}))
    assert runs.wait_phase("site-1", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)["phase"] == "Succeeded"
    assert runs.core.read_namespaced_config_map("site", runs.namespace).data == {"greeting": "hi"}
    assert available(runs, "site", "registry.example/site:1.0")
    # when a later run fails after applying, the rollback puts back what was there before
    runs.apply(workflow("site", basic(failing_job(failureStrategies=on_error("Rollback")))))
    runs.apply(run("site-2", "site", {"greeting": "bonjour"}))
    assert (
        runs.wait_phase("site-2", "RolledBack", "Failed", "Succeeded", "Aborted", timeout=90)["phase"] == "RolledBack"
    )
    wait_for(lambda: runs.core.read_namespaced_config_map("site", runs.namespace).data == {"greeting": "hi"}, 30)
    # and a run in a fresh namespace-less state removes objects it created itself
    runs.core.delete_namespaced_config_map("site", runs.namespace)
    runs.apps.delete_namespaced_deployment("site", runs.namespace)
    wait_for(
        lambda: not runs.apps.list_namespaced_deployment(runs.namespace, field_selector="metadata.name=site").items, 30
    )
    runs.apply(run("site-3", "site", {"greeting": "hola"}))
    assert (
        runs.wait_phase("site-3", "RolledBack", "Failed", "Succeeded", "Aborted", timeout=90)["phase"] == "RolledBack"
    )
    wait_for(
        lambda: not runs.core.list_namespaced_config_map(runs.namespace, field_selector="metadata.name=site").items, 30
    )
