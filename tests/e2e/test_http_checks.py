"""http verify checks on the real cluster: headers come from a Secret and stay out of the run, its Events and the
operator's log; a catastrophic body pattern neither stalls the operator nor stops other runs. Written given /
when / then."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest
from test_workflowruns import available, rolling, run, web, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
__all__ = ["web"]  # a fixture, imported to be used here

FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
TOKEN = "Bearer e2e-s3cr3t-header"


class Probe:
    """A local health endpoint: /private answers 200 only with the right Authorization header, /evil answers a
    body that makes a backtracking engine run for ever on `(a+)+$`."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/private":
                    probe.authorizations.append(self.headers.get("Authorization"))
                    ok = self.headers.get("Authorization") == TOKEN
                    body = b'{"status": "ok"}' if ok else b"denied"
                    self.send_response(200 if ok else 401)
                else:
                    body = b"a" * 100_000 + b"!"
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def probe() -> Iterator[Probe]:
    p = Probe()
    yield p
    p.close()


def verify(name: str, http: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "verify": {"http": http}}


def test_headers_come_from_a_secret_and_stay_out_of_the_run(
    convoy: Operator, runs: Runs, web: str, probe: Probe
) -> None:
    # given a Secret with the Authorization header and a workflow whose check names it
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "probe-headers"},
        "stringData": {"Authorization": TOKEN},
    }
    runs.apply(yaml.safe_dump(secret))
    check = {
        "url": f"{probe.base}/private",
        "bodyPattern": '"status":\\s*"ok"',
        "headersFrom": {"name": "probe-headers"},
    }
    runs.apply(workflow("web", rolling(verify("smoke", check))))
    # when a run deploys and verifies
    runs.apply(run("web-auth", "web", {"version": "2.0"}))
    status = runs.wait_phase("web-auth", *FINAL, timeout=60)
    # then the check sent the header and passed, and the header's value is nowhere in the run, its Events or the log
    assert status["phase"] == "Succeeded", status
    assert probe.authorizations and set(probe.authorizations) == {TOKEN}
    secret_part = "e2e-s3cr3t-header"
    assert secret_part not in json.dumps(runs.get("workflowruns", "web-auth"))
    assert all(secret_part not in (e.message or "") for e in runs.events("web-auth"))
    assert secret_part not in convoy.log_path.read_text()


def test_a_catastrophic_body_pattern_stalls_nothing(convoy: Operator, runs: Runs, web: str, probe: Probe) -> None:
    # given a workflow whose check matches `(a+)+$` against 100 kB of 'a' followed by '!'
    check = {"url": f"{probe.base}/evil", "bodyPattern": "(a+)+$"}
    runs.apply(workflow("web", rolling(verify("evil", check))))
    runs.apply(deployment_manifest("api", "registry.example/api:1.0"))
    wait_for(lambda: available(runs, "api", "registry.example/api:1.0"), 60, message="api 1.0 not available")
    runs.apply(workflow("api", rolling(target="api")))
    # when a run of it measures, and a run of another workflow starts beside it
    runs.apply(run("web-evil", "web", {"version": "2.0"}))
    runs.apply(run("api-2", "api", {"version": "2.0"}))
    evil = runs.wait_phase("web-evil", *FINAL, timeout=60)
    # then the measurement fails (the body does not match) and the operator kept serving the other run
    assert evil["phase"] == "RolledBack", evil
    assert evil["failure"]["error"] == "VerificationFailed"
    assert evil["failure"]["message"].endswith("HTTP 200, body does not match '(a+)+$'")
    assert runs.wait_phase("api-2", *FINAL, timeout=60)["phase"] == "Succeeded"
