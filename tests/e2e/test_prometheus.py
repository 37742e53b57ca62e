"""Verification against a real Prometheus (Debian's package, installed by hack/prometheus.sh): the test runs a
tiny exporter whose `checkout_error_ratio` it sets, Prometheus scrapes it every second, and canaries verify each
phase with a PromQL query. Low errors: the canary is promoted. Errors rising in phase 2: it is rolled back."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Operator, Runs, deployment_manifest, free_port
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from test_canary import paused_in, ready_pods
from test_workflowruns import available, run, step_record, workflow
from waiting import wait_for

from convoy.adapters.measure import measure
from convoy.api.steps import PrometheusCheck
from convoy.planner.observed import Outcome

pytestmark = pytest.mark.e2e
LOW, HIGH = 0.01, 0.2
QUERY = "max(checkout_error_ratio)"


class Exporter:
    """What the checkout service would export: its error ratio, set by the test."""

    def __init__(self) -> None:
        registry = CollectorRegistry()
        self.ratio = Gauge("checkout_error_ratio", "Share of checkout requests that failed.", registry=registry)
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=registry)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Prometheus:
    """A Prometheus server of its own: random port, temporary storage, scraping the exporter every second."""

    def __init__(self, workdir: Path, exporter: Exporter) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed: run hack/prometheus.sh (make e2e does)", pytrace=False)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "checkout", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = workdir / "prometheus.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, 60, 0.3, "Prometheus did not become ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"Prometheus exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                ready: bool = response.status == 200
                return ready
        except OSError:
            return False

    def value(self, query: str) -> float | None:
        """The query's result as the operator reads it: the first sample, or None."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(url, timeout=5) as response:
            data: dict[str, Any] = json.load(response)["data"]
        if not data["result"]:
            return None
        return float(data["result"][0]["value"][1])

    def sees(self, query: str, expected: float) -> None:
        """Wait until a scrape has brought in the exporter's latest value."""
        wait_for(lambda: self.value(query) == expected, 30, 0.3, f"Prometheus never saw {query} = {expected}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    exporter = Exporter()
    yield exporter
    exporter.close()


@pytest.fixture(scope="module")
def prometheus(exporter: Exporter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), exporter)
    yield server
    server.close()


@pytest.fixture
def errors(exporter: Exporter, prometheus: Prometheus) -> Exporter:
    """The checkout service's error ratio starts low, and Prometheus has seen it."""
    exporter.ratio.set(LOW)
    prometheus.sees(QUERY, LOW)
    return exporter


def check(prometheus: Prometheus, query: str = QUERY, **extra: str) -> dict[str, Any]:
    return {"address": prometheus.url, "query": query, "successCondition": "result < 0.05", **extra}


def verified_canary(prometheus: Prometheus, *weights: int) -> dict[str, Any]:
    """A replica-split canary; each phase below 100% is held until resumed, then verified by Prometheus."""
    phases = []
    for weight in weights:
        steps: list[dict[str, Any]] = [{"name": "set-weight", "deploy": {}}]
        if weight < 100:
            steps.append({"name": "hold", "pause": {}})
            steps.append({"name": "errors", "verify": {"prometheus": check(prometheus), "count": 2, "interval": "1s"}})
        phases.append({"name": f"canary-{weight}", "weight": weight, "steps": steps})
    return {
        "type": "Canary",
        "target": {"deployment": "checkout", "service": "checkout"},
        "artifact": {"image": "registry.example/checkout:${workflow.variables.version}"},
        "variables": [{"name": "version", "required": True}],
        "phases": phases,
    }


@pytest.fixture
def checkout(runs: Runs) -> None:
    """Given the checkout service: 4 pods of v1 behind a Service."""
    runs.apply(deployment_manifest("checkout", "registry.example/checkout:1.0", replicas=4))
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "checkout"},
        "spec": {"selector": {"app": "checkout"}, "ports": [{"port": 80}]},
    }
    runs.apply(yaml.safe_dump(service))
    wait_for(lambda: available(runs, "checkout", "registry.example/checkout:1.0"), 60, message="v1 not available")


def test_a_canary_with_low_errors_passes_verification_and_is_promoted(
    convoy: Operator, runs: Runs, checkout: None, errors: Exporter, prometheus: Prometheus
) -> None:
    runs.apply(workflow("checkout", verified_canary(prometheus, 25, 50, 100)))
    runs.apply(run("checkout-2", "checkout", {"version": "2.0"}))
    for weight, stable, canary in [(25, 3, 1), (50, 2, 2)]:
        status = paused_in(runs, "checkout-2", f"canary-{weight}")
        assert status["canary"] == {"total": 4, "stable": stable, "canary": canary}
        runs.decide("checkout-2", {"action": "Resume"})
    status = runs.wait_phase("checkout-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)
    assert status["phase"] == "Succeeded"
    for phase in status["phases"][:2]:
        verify = next(s for s in phase["steps"] if s["name"] == "errors")
        assert (verify["state"], verify["successes"], verify["failures"]) == ("Succeeded", 2, 0)
        assert "result 0.01, result < 0.05" in verify["message"]
    wait_for(lambda: available(runs, "checkout", "registry.example/checkout:2.0"), 60, message="not promoted")
    wait_for(lambda: ready_pods(runs, "checkout-canary") is None, 30, message="the canary was not removed")


def test_errors_rising_in_phase_two_fail_verification_and_roll_the_canary_back(
    convoy: Operator, runs: Runs, checkout: None, errors: Exporter, prometheus: Prometheus
) -> None:
    # given a canary that passed phase 1 and is held at 50%
    runs.apply(workflow("checkout", verified_canary(prometheus, 25, 50, 100)))
    runs.apply(run("checkout-2", "checkout", {"version": "2.0"}))
    paused_in(runs, "checkout-2", "canary-25")
    runs.decide("checkout-2", {"action": "Resume"})
    paused_in(runs, "checkout-2", "canary-50")
    # when the error ratio rises before phase 2 is verified
    errors.ratio.set(HIGH)
    prometheus.sees(QUERY, HIGH)
    runs.decide("checkout-2", {"action": "Resume"})
    status = runs.wait_phase("checkout-2", "RolledBack", "Succeeded", "Failed", "Aborted", timeout=90)
    # then verification failed in phase 2, both phases were undone in reverse order, and stable serves 100%
    assert status["phase"] == "RolledBack"
    assert status["failure"]["phase"] == "canary-50"
    assert status["failure"]["step"] == "errors"
    assert status["failure"]["error"] == "VerificationFailed"
    assert "result 0.2, result < 0.05" in status["failure"]["message"]
    assert [p["name"] for p in status["rollback"]] == ["canary-50", "canary-25"]
    assert status["weight"] == 0
    assert status["canary"] == {"total": 4, "stable": 4, "canary": 0}
    assert step_record(status, "errors")["state"] == "Succeeded"  # phase 1's verification passed
    wait_for(lambda: ready_pods(runs, "checkout-canary") is None, 30, message="the canary was not removed")
    wait_for(lambda: available(runs, "checkout", "registry.example/checkout:1.0"), 60, message="stable not at 100%")
    assert runs.deployment("checkout").spec.replicas == 4


@pytest.mark.parametrize(
    ("query", "outcome", "message"),
    [
        pytest.param(QUERY, Outcome.SUCCESS, "result 0.01, result < 0.05", id="vector"),
        pytest.param(f"scalar({QUERY})", Outcome.SUCCESS, "result 0.01, result < 0.05", id="scalar"),
        pytest.param('checkout_error_ratio{job="absent"}', Outcome.INCONCLUSIVE, "no sample", id="no-sample"),
        pytest.param(f"{QUERY} / 0 * 0", Outcome.INCONCLUSIVE, "NaN", id="nan"),
        pytest.param("max(", Outcome.FAILURE, "query failed", id="bad-query"),
    ],
)
async def test_one_measurement_against_the_real_server(
    errors: Exporter, prometheus: Prometheus, query: str, outcome: Outcome, message: str
) -> None:
    result = await measure(PrometheusCheck.model_validate(check(prometheus, query)), "default")
    assert result.outcome is outcome
    assert message in result.message


@pytest.mark.parametrize(
    ("inconclusive_is", "phase"),
    [
        pytest.param("Success", "Succeeded", id="counts-as-success"),
        pytest.param("Failure", "RolledBack", id="counts-as-failure"),
    ],
)
def test_a_query_without_samples_counts_as_inconclusive_is_says(
    convoy: Operator,
    runs: Runs,
    checkout: None,
    errors: Exporter,
    prometheus: Prometheus,
    inconclusive_is: str,
    phase: str,
) -> None:
    # given a verification whose query matches no series (the service exports nothing yet)
    absent = check(prometheus, 'checkout_error_ratio{job="absent"}', inconclusiveIs=inconclusive_is)
    spec = {
        "type": "Rolling",
        "target": {"deployment": "checkout"},
        "artifact": {"image": "registry.example/checkout:2.0"},
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}, {"name": "errors", "verify": {"prometheus": absent}}]}],
    }  # fmt: skip
    runs.apply(workflow("checkout", spec))
    # when a run verifies with it
    runs.apply(run("checkout-2", "checkout"))
    status = runs.wait_phase("checkout-2", "Succeeded", "RolledBack", "Failed", "Aborted", timeout=90)
    # then the empty result counted as inconclusiveIs says
    assert status["phase"] == phase
    assert "the query returned no sample" in step_record(status, "errors")["message"]


# Two series: the error ratio as two pods report it, pod "a" at the exporter's ratio and pod "b" at ten times it.
TWO_SERIES = (
    'label_replace(checkout_error_ratio, "pod", "a", "", "")'
    ' or label_replace(checkout_error_ratio * 10, "pod", "b", "", "")'
)


@pytest.mark.parametrize(
    ("condition", "outcome", "message"),
    [
        pytest.param(
            "result < 0.05", Outcome.FAILURE, '1 of 2 series fail result < 0.05: {job="checkout", pod="b"} 0.1',
            id="one-series-fails",
        ),
        pytest.param(
            "result < 0.5", Outcome.SUCCESS, 'all 2 series pass result < 0.5 (highest {job="checkout", pod="b"} 0.1)',
            id="every-series-passes",
        ),
    ],
)  # fmt: skip
async def test_every_series_of_a_two_series_query_is_judged(
    errors: Exporter, prometheus: Prometheus, condition: str, outcome: Outcome, message: str
) -> None:
    spec = check(prometheus, TWO_SERIES, successCondition=condition)

    result = await measure(PrometheusCheck.model_validate(spec), "default")

    assert (result.outcome, result.message.replace('instance="' + f"127.0.0.1:{errors.port}" + '", ', "")) == (
        outcome,
        message,
    )


def test_a_run_fails_verification_when_one_of_two_series_fails(
    convoy: Operator, runs: Runs, checkout: None, errors: Exporter, prometheus: Prometheus
) -> None:
    # given a verification whose query returns two series, the first passing and the second not
    spec = {
        "type": "Rolling",
        "target": {"deployment": "checkout"},
        "artifact": {"image": "registry.example/checkout:2.0"},
        "phases": [{"name": "rollout", "steps": [{"name": "deploy", "deploy": {}}, {"name": "errors", "verify": {"prometheus": check(prometheus, TWO_SERIES)}}]}],
    }  # fmt: skip
    runs.apply(workflow("checkout", spec))
    # when a run verifies with it
    runs.apply(run("checkout-2", "checkout"))
    status = runs.wait_phase("checkout-2", "Succeeded", "RolledBack", "Failed", "Aborted", timeout=90)
    # then the failing series fails the verification, and the message names it by its labels
    assert status["phase"] == "RolledBack"
    assert status["failure"]["error"] == "VerificationFailed"
    assert '1 of 2 series fail result < 0.05: {instance="127.0.0.1:' in status["failure"]["message"]
    assert 'pod="b"} 0.1' in status["failure"]["message"]
    wait_for(lambda: available(runs, "checkout", "registry.example/checkout:1.0"), 60, message="not rolled back")
