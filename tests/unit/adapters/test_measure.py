"""http verify checks: the body pattern runs on RE2, at most 1 MiB of body is read, and the request headers come
from a Secret that never reaches the workflow's wire form, the run's status or a measurement's message."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import re2
from aiohttp import web
from aiohttp.test_utils import TestServer
from planner.builders import rolling, rolling_wire, step
from planner.sim import Sim

from convoy.adapters import measure
from convoy.api.crd import render_all
from convoy.api.steps import BODY_LIMIT, HttpCheck
from convoy.api.validation import validate
from convoy.api.workflowrun import RunResult
from convoy.planner.actions import Action, Measure
from convoy.planner.observed import Measurement, Outcome

TOKEN = "Bearer s3cr3t-token-value"
CATASTROPHIC = "(a+)+$"
EVIL_BODY = "a" * 50_000 + "!"

Handler = Callable[[web.Request], Any]


class Recorder:
    """A local HTTP server whose answer a test chooses; it remembers the headers of each request."""

    def __init__(self) -> None:
        self.body: bytes = b"ok"
        self.status = 200
        self.seen: list[dict[str, str]] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        if request.path == "/redirect":
            raise web.HTTPFound("/elsewhere")
        return web.Response(body=self.body, status=self.status, content_type="text/plain")

    def url(self, path: str = "/healthz") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


@pytest.fixture
async def endpoint() -> AsyncIterator[Recorder]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    recorder.server = TestServer(app)
    await recorder.server.start_server()
    try:
        yield recorder
    finally:
        await recorder.server.close()


def encoded(values: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], dict[str, str]]:
    """The Secrets `measure` can read, by (namespace, name), with base64 values as the API returns them."""
    stored: dict[tuple[str, str], dict[str, str]] = {}

    async def read_secret(namespace: str, name: str) -> dict[str, str] | None:
        return stored.get((namespace, name))

    monkeypatch.setattr(measure, "read_secret", read_secret)
    return stored


# The body pattern


def test_the_body_pattern_is_compiled_by_re2() -> None:
    regex = HttpCheck(url="http://web/", body_pattern=CATASTROPHIC).body_regex()
    assert isinstance(regex, re2._Regexp)
    assert regex.search(EVIL_BODY) is None  # linear time: a backtracking engine would not finish


@pytest.mark.parametrize(
    ("pattern", "body", "outcome", "message"),
    [
        pytest.param('"status":\\s*"ok"', '{"status": "ok"}', Outcome.SUCCESS, "HTTP 200", id="match"),
        pytest.param("ready", "starting", Outcome.FAILURE, "body does not match 'ready'", id="no-match"),
        pytest.param(CATASTROPHIC, EVIL_BODY, Outcome.FAILURE, "body does not match '(a+)+$'", id="catastrophic"),
        pytest.param(CATASTROPHIC, "aaaa", Outcome.SUCCESS, "HTTP 200", id="catastrophic-that-matches"),
        pytest.param("é", "café", Outcome.SUCCESS, "HTTP 200", id="utf-8"),
    ],
)
async def test_the_body_pattern_decides(
    endpoint: Recorder, pattern: str, body: str, outcome: Outcome, message: str
) -> None:
    endpoint.body = body.encode()
    result = await measure.measure(HttpCheck(url=endpoint.url(), body_pattern=pattern), "shop")
    assert (result.outcome, result.message.split(", ")[-1]) == (outcome, message)


@pytest.mark.parametrize(
    ("size", "outcome", "message"),
    [
        pytest.param(BODY_LIMIT, Outcome.SUCCESS, "HTTP 200", id="exactly-1MiB"),
        pytest.param(
            BODY_LIMIT + 1,
            Outcome.FAILURE,
            "HTTP 200, body larger than 1 MiB: bodyPattern reads at most 1 MiB",
            id="one-byte-more",
        ),
        pytest.param(
            8 * BODY_LIMIT,
            Outcome.FAILURE,
            "HTTP 200, body larger than 1 MiB: bodyPattern reads at most 1 MiB",
            id="8MiB",
        ),
    ],
)
async def test_at_most_1_mib_of_body_is_read(endpoint: Recorder, size: int, outcome: Outcome, message: str) -> None:
    endpoint.body = b"x" * size
    result = await measure.measure(HttpCheck(url=endpoint.url(), body_pattern="x$"), "shop")
    assert (result.outcome, result.message) == (outcome, message)


async def test_without_a_pattern_a_large_body_is_not_read(endpoint: Recorder) -> None:
    endpoint.body = b"x" * (2 * BODY_LIMIT)
    result = await measure.measure(HttpCheck(url=endpoint.url()), "shop")
    assert (result.outcome, result.message) == (Outcome.SUCCESS, "HTTP 200")


def test_a_pattern_re2_cannot_compile_is_refused_at_admission() -> None:
    wire = rolling_wire(step("smoke", "verify", {"http": {"url": "http://web/", "bodyPattern": r"(?=lookahead)"}}))
    errors = validate("Workflow", {"spec": wire})
    assert [(e.path, e.message) for e in errors] == [
        (
            "spec.phases[0].steps[1].verify.http.bodyPattern",
            "not a valid RE2 regular expression (invalid perl operator: (?=): fix it",
        )
    ]


# Headers from a Secret


async def test_headers_come_from_the_secret(endpoint: Recorder, secrets: dict[tuple[str, str], dict[str, str]]) -> None:
    secrets["shop", "probe-headers"] = encoded({"Authorization": TOKEN + "\n", "X-Tenant": "shop"})
    check = HttpCheck.model_validate({"url": endpoint.url(), "headersFrom": {"name": "probe-headers"}})

    result = await measure.measure(check, "shop")

    assert (result.outcome, result.message) == (Outcome.SUCCESS, "HTTP 200")
    assert endpoint.seen[0]["Authorization"] == TOKEN
    assert endpoint.seen[0]["X-Tenant"] == "shop"


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        pytest.param(None, "Secret shop/probe-headers (verify.http.headersFrom) not found", id="missing"),
        pytest.param(
            encoded({"Authorization": TOKEN + "\r\nX-Injected: 1"}),
            "Secret shop/probe-headers key 'Authorization' is not a valid header name and value",
            id="header-injection",
        ),
        pytest.param(
            {"Authorization": base64.b64encode(b"\xff" + TOKEN.encode()).decode()},
            "Secret shop/probe-headers key 'Authorization' is not UTF-8 text: it cannot be a header",
            id="not-text",
        ),
    ],
)
async def test_an_unusable_secret_fails_the_measurement_without_showing_a_value(
    endpoint: Recorder,
    secrets: dict[tuple[str, str], dict[str, str]],
    stored: dict[str, str] | None,
    message: str,
) -> None:
    if stored is not None:
        secrets["shop", "probe-headers"] = stored
    check = HttpCheck.model_validate({"url": endpoint.url(), "headersFrom": {"name": "probe-headers"}})

    result = await measure.measure(check, "shop")

    assert (result.outcome, result.message) == (Outcome.FAILURE, message)
    assert endpoint.seen == []


async def test_with_secret_headers_a_redirect_is_not_followed(
    endpoint: Recorder, secrets: dict[tuple[str, str], dict[str, str]]
) -> None:
    secrets["shop", "probe-headers"] = encoded({"Authorization": TOKEN})
    check = HttpCheck.model_validate({"url": endpoint.url("/redirect"), "headersFrom": {"name": "probe-headers"}})

    result = await measure.measure(check, "shop")

    assert (result.outcome, result.message) == (Outcome.FAILURE, "HTTP 302, expected [200]")
    assert len(endpoint.seen) == 1


@pytest.mark.parametrize(
    ("headers", "errors"),
    [
        pytest.param(
            {"Authorization": TOKEN},
            [
                (
                    "spec.phases[0].steps[1].verify.http",
                    "headers are no longer written in the workflow: put them in a Secret and name it in headersFrom",
                )
            ],
            id="with-values-refused",
        ),
        pytest.param({}, [], id="empty-as-recorded-by-earlier-versions"),
    ],
)
def test_plain_headers_are_no_longer_part_of_a_check(headers: dict[str, str], errors: list[tuple[str, str]]) -> None:
    http = {"url": "http://web/", "headers": headers}
    found = validate("Workflow", {"spec": rolling_wire(step("smoke", "verify", {"http": http}))})
    assert [(e.path, e.message) for e in found] == errors
    assert "headers" not in HttpCheck.model_validate({"url": "http://web/", "headers": {}}).to_wire()


def test_the_schema_has_no_plain_headers() -> None:
    for name, text in render_all().items():
        assert not re.search(r"^\s*headers:", text, re.MULTILINE), name


def test_the_run_records_only_the_secret_name(monkeypatch: pytest.MonkeyPatch) -> None:
    http = {"url": "http://web/", "headersFrom": {"name": "probe-headers"}}
    sim = Sim(rolling(step("smoke", "verify", {"http": http})))
    performed: list[Action] = []
    perform = sim.cluster.perform

    def spy(action: Action, measurements: dict[str, Measurement]) -> None:
        performed.append(action)
        perform(action, measurements)

    monkeypatch.setattr(sim.cluster, "perform", spy)

    status = sim.run()

    assert status.result is RunResult.SUCCEEDED
    recorded = status.to_wire()["workflowSpec"]["phases"][0]["steps"][1]["verify"]["http"]
    assert recorded == {
        "url": "http://web/",
        "method": "GET",
        "expectedStatus": [200],
        "headersFrom": {"name": "probe-headers"},
    }
    measured = [a.check for a in performed if isinstance(a, Measure)]
    assert measured and all(c.to_wire().get("headersFrom") == {"name": "probe-headers"} for c in measured)
