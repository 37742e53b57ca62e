"""Attacks through what a run executes: an inline job running as a privileged ServiceAccount, a catastrophic
`bodyPattern` and an endless body against the operator's only event loop, secret headers leaking into status,
forged snapshots restored on rollback, and a stuck run blocking other namespaces' queues. Written given / when /
then."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from attacks import RUN_FINISHED, V1, Tenant, accepted, manifest, refused
from harness import Operator, kubectl
from test_workflowruns import failing_job, on_error, passing_job, rolling
from waiting import wait_for

pytestmark = pytest.mark.e2e


def run(name: str, workflow: str, variables: dict[str, str] | None = None) -> dict[str, Any]:
    return manifest(
        "WorkflowRun", name, {"workflowRef": {"name": workflow}, "variables": variables or {}, "decisions": []}
    )


# 14. a job's pod template


def test_an_inline_job_running_as_a_privileged_service_account_is_refused(convoy: Operator, victim: Tenant) -> None:
    # given prod has a ServiceAccount with cluster-admin rights, and mallory holds the deploy role in prod
    victim.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer-admin"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "deployer-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer-admin", "namespace": victim.namespace}],
        },
    )
    victim.allow("mallory", "deploy", "view")
    before = victim.snapshot()
    # when she runs an inline Build workflow whose job runs as that ServiceAccount
    template = {
        "spec": {
            "serviceAccountName": "deployer-admin",
            "containers": [{"name": "x", "image": "registry.example/kubectl:1"}],
        }
    }
    inline = {"type": "Build", "phases": [{"name": "work", "steps": [{"name": "own", "job": {"template": template}}]}]}
    result = victim.create_as("mallory", manifest("WorkflowRun", "own", {"workflow": inline, "decisions": []}))
    # then the API server refuses: an inline workflow needs the right to create Workflows
    refused(result, "inline workflow", "create workflows")
    assert not victim.exists("workflowruns", "own")
    victim.assert_untouched(before)


def test_a_run_cannot_put_a_secret_into_the_workflows_jobs_with_a_context(convoy: Operator, victim: Tenant) -> None:
    # given prod's Workflow with a job step, a Secret in prod, and mallory holding the deploy role there
    victim.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-admin"}, "stringData": {"PASSWORD": "s3cret"}},
        manifest("Workflow", "migrate", {"type": "Build", "phases": [{"name": "work", "steps": [passing_job()]}]}),
    )
    victim.allow("mallory", "deploy", "view")
    before = victim.snapshot()
    # when she runs it with a context naming that Secret, so its keys would reach the job's environment
    spec = {"workflowRef": {"name": "migrate"}, "context": {"secret": "db-admin"}, "decisions": []}
    accepted(victim.create_as("mallory", manifest("WorkflowRun", "leak", spec)))
    # then the run fails before any job runs: only a pipeline's stage runs take a context
    status = victim.settle("leak")
    assert status["phase"] == "Failed", status
    assert "only a pipeline's stage runs take a context" in status["message"]
    after = victim.snapshot()
    assert (after.deployments, after.jobs) == (before.deployments, before.jobs), "a job ran, or a Deployment changed"


# 15. http checks


class Server:
    """A local HTTP server answering GET with `body`, recording the headers it was sent."""

    def __init__(self, body: bytes) -> None:
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                with contextlib.suppress(OSError):  # the client stopped reading
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/health"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()


@pytest.fixture
def evil_body() -> Iterator[Server]:
    server = Server(b"a" * 4096 + b"!")
    yield server
    server.close()


@pytest.fixture
def huge_body() -> Iterator[Server]:
    server = Server(b"x" * (3 * 1024 * 1024) + b"READY")
    yield server
    server.close()


def verify_http(url: str, **check: Any) -> dict[str, Any]:
    return {"name": "probe", "verify": {"http": {"url": url, **check}, "count": 1}}


def test_a_catastrophic_body_pattern_does_not_stop_other_tenants(
    convoy: Operator, victim: Tenant, attacker: Tenant, evil_body: Server
) -> None:
    # given team-a's workflow verifies with a pattern that backtracks exponentially, on a body made for it
    attacker.apply(manifest("Workflow", "web", rolling(verify_http(evil_body.url, bodyPattern="(a+)+$"))))
    victim.apply(manifest("Workflow", "web", rolling()))
    healthy = False
    try:
        # when mallory runs it, and prod deploys meanwhile
        accepted(attacker.create_as("mallory", run("redos", "web", {"version": "2.0"})))
        wait_for(lambda: evil_body.headers, 60, message="the check never called the server")
        victim.apply(run("web-2", "web", {"version": "2.0"}))
        # then prod's run progresses and succeeds: the operator still serves other tenants
        status = victim.runs.wait_phase("web-2", *RUN_FINISHED, timeout=60)
        assert status["phase"] == "Succeeded", status
        # and the attacker's check finished too, as a plain measurement failure
        attacked = attacker.runs.wait_phase("redos", *RUN_FINISHED, timeout=60)
        assert attacked["phase"] != "Succeeded", attacked
        healthy = True
    finally:
        if not healthy:  # the event loop is stuck in the regex: take the run away, then restart the operator
            attacker.runs.custom.patch_namespaced_custom_object(
                "convoy.dev",
                "v1alpha1",
                attacker.namespace,
                "workflowruns",
                "redos",
                {"metadata": {"finalizers": None}},
            )
            attacker.runs.custom.delete_namespaced_custom_object(
                "convoy.dev", "v1alpha1", attacker.namespace, "workflowruns", "redos"
            )
            convoy.restart()


def test_an_http_check_reads_at_most_one_mib_of_body(convoy: Operator, attacker: Tenant, huge_body: Server) -> None:
    # given team-a's workflow expects a word found only after 3 MiB of body
    attacker.apply(manifest("Workflow", "web", rolling(verify_http(huge_body.url, bodyPattern="READY"))))
    # when mallory runs it
    accepted(attacker.create_as("mallory", run("big", "web", {"version": "2.0"})))
    # then the check fails, saying the body was larger than it reads
    status = attacker.runs.wait_phase("big", *RUN_FINISHED, timeout=60)
    assert status["phase"] != "Succeeded", status
    attacker.wait_story("big", "1 MiB")


# 16. headers


HEADER_VALUE = "Bearer s3cr3t-header-7d41"


def test_headers_from_a_secret_never_appear_in_status_or_events(convoy: Operator, victim: Tenant) -> None:
    server = Server(b"ok")
    try:
        # given prod's workflow probes with an Authorization header kept in a Secret, and victor may only view
        victim.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "probe-auth"}, "stringData": {"Authorization": HEADER_VALUE}},
            manifest("Workflow", "web", rolling(verify_http(server.url, headersFrom={"name": "probe-auth"}))),
        )  # fmt: skip
        victim.allow("victor", "view")
        # when a run verifies
        victim.apply(run("web-2", "web", {"version": "2.0"}))
        status = victim.runs.wait_phase("web-2", *RUN_FINISHED, timeout=60)
        # then the header was sent
        assert status["phase"] == "Succeeded", status
        assert any(h.get("Authorization") == HEADER_VALUE for h in server.headers), server.headers
        # and what the view role can read shows no trace of it, nor do the Events or the operator's log
        for kind, name in (("workflowrun", "web-2"), ("workflow", "web")):
            seen = victim.as_user("victor", "get", kind, name, "-o", "json")
            accepted(seen)
            assert "s3cr3t-header" not in seen.stdout
        refused(victim.as_user("victor", "get", "secret", "probe-auth", "-o", "json"), "forbidden")
        assert all("s3cr3t-header" not in (e.message or "") for e in victim.runs.events("web-2"))
        assert "s3cr3t-header" not in convoy.log_path.read_text()
    finally:
        server.close()


def test_plain_headers_in_a_workflow_are_refused(convoy: Operator, victim: Tenant) -> None:
    # when even the cluster admin writes a header value into a Workflow, the API server refuses it
    spec = rolling(verify_http("http://127.0.0.1:9/health", headers={"Authorization": HEADER_VALUE}))
    body = json.dumps(manifest("Workflow", "web", spec))
    result = kubectl(victim.kubeconfig, "-n", victim.namespace, "create", "-f", "-", stdin=body, check=False)
    refused(result, "headers")
    assert not victim.exists("workflows", "web")


# 17. snapshots


def never_evil(tenant: Tenant) -> bool:
    return "evil" not in tenant.runs.image("web")


def evil_snapshot(name: str) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"serviceAccountName": "deployer-admin", "containers": [{"name": "web", "image": "registry.example/evil:1"}]},
    }  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"deployment": "web", "template": json.dumps(template)},
    }


@pytest.fixture
def carol(victim: Tenant) -> Tenant:
    """Given carol may write ConfigMaps in prod (and nothing of Convoy's but viewing)."""
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create", "update", "patch"]}]
    victim.allow_rules("carol", "config-editor", rules)
    victim.allow("carol", "view")
    return victim


def test_a_pre_created_snapshot_is_not_trusted(convoy: Operator, carol: Tenant) -> None:
    # given a workflow whose job fails after the deploy, rolling back
    carol.apply(manifest("Workflow", "web", rolling(failing_job(failureStrategies=on_error("Rollback")))))
    # when carol plants the snapshot the next run will look for, then the run starts
    accepted(carol.create_as("carol", evil_snapshot("web-3-rollout-snapshot")))
    carol.apply(run("web-3", "web", {"version": "3.0"}))
    status = carol.runs.wait_phase("web-3", *RUN_FINISHED, timeout=90)
    # then the planted template is never restored: web ends at v1, and the run says why it distrusted it
    assert never_evil(carol)
    wait_for(lambda: carol.available("web", V1), 60, message="web is not back at v1")
    assert status["phase"] != "Succeeded", status
    carol.wait_story("web-3", "snapshot")


def test_an_edited_snapshot_is_not_restored(convoy: Operator, carol: Tenant) -> None:
    # given a run paused after its deploy, with its snapshot saved
    carol.apply(
        manifest(
            "Workflow",
            "web",
            rolling({"name": "hold", "pause": {}}, failing_job(failureStrategies=on_error("Rollback"))),
        )
    )
    carol.apply(run("web-3", "web", {"version": "3.0"}))
    carol.runs.wait_phase("web-3", "Paused", timeout=60)
    # when carol rewrites the snapshot's template, and the run resumes into a failure that rolls back
    edited = evil_snapshot("web-3-rollout-snapshot")
    patch = json.dumps({"data": edited["data"]})
    accepted(carol.as_user("carol", "patch", "configmap", "web-3-rollout-snapshot", "--type=merge", "-p", patch))
    carol.runs.decide("web-3", {"action": "Resume"})
    status = carol.runs.wait_phase("web-3", *RUN_FINISHED, timeout=90)
    # then the edited template is never restored, and the run says the snapshot is not trusted
    assert never_evil(carol)
    assert status["phase"] != "Succeeded", status
    carol.wait_story("web-3", "not trusted")


# 18. queues per target


def test_a_run_with_unknown_targets_does_not_block_another_namespace(
    convoy: Operator, victim: Tenant, attacker: Tenant
) -> None:
    # given in team-a a run paused on team-a's web, and a run whose workflow does not exist (targets unknown)
    attacker.apply(manifest("Workflow", "web", rolling({"name": "hold", "pause": {}})))
    accepted(attacker.create_as("mallory", run("hold-team-a", "web", {"version": "2.0"})))
    attacker.runs.wait_phase("hold-team-a", "Paused", timeout=60)
    accepted(attacker.create_as("mallory", run("nowhere", "does-not-exist", {"version": "2.0"})))
    # when prod deploys
    victim.apply(manifest("Workflow", "web", rolling()))
    victim.apply(run("web-2", "web", {"version": "2.0"}))
    # then prod's run is queued behind neither, and succeeds
    status = victim.runs.wait_phase("web-2", *RUN_FINISHED, timeout=60)
    assert status["phase"] == "Succeeded", status
    assert not status.get("queuePosition")
    assert "Queued" not in victim.runs.reasons("web-2")
