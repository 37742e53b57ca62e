"""The dashboard's HTTP handlers against a cluster in memory: pages and their live stream, the buttons doing what
the plugin's verbs do, and the guard against other sites' pages (a wrong Host, Origin, token or content type)."""

from __future__ import annotations

import json
import queue
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer, unused_port

from convoy.cli.dashboard.command import hosts
from convoy.cli.dashboard.live import Watching
from convoy.cli.dashboard.server import TOKEN_HEADER, application
from convoy.cli.errors import CliError

from . import states
from .fake import Body, FakeCluster

TOKEN = "s3cret-token"


@dataclass
class WatchedCluster(FakeCluster):
    """A FakeCluster whose watches report what `changed` is told; connections for other namespaces share it."""

    events: queue.Queue[tuple[str, Body]] = field(default_factory=queue.Queue)
    watch_refusal: str | None = None

    def watch(
        self,
        plural: str,
        namespace: str | None,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        resource_version: str | None = None,
        seconds: int = 30,
    ) -> Iterator[tuple[str, Body]]:
        if self.watch_refusal:
            raise CliError(self.watch_refusal)
        try:
            yield self.events.get(timeout=0.05)
        except queue.Empty:
            return

    def changed(self, plural: str, obj: Body) -> None:
        self.add(plural, obj)
        self.events.put(("MODIFIED", obj))


@pytest.fixture
def cluster() -> WatchedCluster:
    cluster = WatchedCluster()
    cluster.add("workflowruns", states.canary_at_30_verifying())
    cluster.add("workflowruns", states.approval_waiting())
    pipeline_run, runs = states.pipeline_at_barrier()
    cluster.add("pipelineruns", pipeline_run)
    for run in runs.values():
        cluster.add("workflowruns", run)
    return cluster


@pytest.fixture
async def client(cluster: WatchedCluster) -> AsyncIterator[TestClient[Any, Any]]:
    def connect(namespace: str | None) -> Watching:
        return replace(cluster, namespace=namespace or cluster.namespace)

    port = unused_port()
    app = application(
        connect, hosts={f"127.0.0.1:{port}"}, token=TOKEN, all_namespaces=False, identity="namespace shop, as alice"
    )
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)) as test_client:
        yield test_client


def own_headers(client: TestClient[Any, Any]) -> dict[str, str]:
    """What the dashboard's own page sends with an action."""
    return {TOKEN_HEADER: TOKEN, "Origin": f"http://127.0.0.1:{client.port}"}


async def act(client: TestClient[Any, Any], action: Body, headers: dict[str, str] | None = None) -> ClientResponse:
    return await client.post("/api/actions", json=action, headers=own_headers(client) if headers is None else headers)


async def test_the_page_carries_the_token_and_who_the_caller_is(client: TestClient[Any, Any]) -> None:
    response = await client.get("/")
    page = await response.text()
    assert response.status == 200
    assert f'<meta name="convoy-token" content="{TOKEN}">' in page
    assert "namespace shop, as alice" in page
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in response.headers
    script = await client.get("/static/app.js")
    assert script.status == 200 and "EventSource" in await script.text()
    assert (await client.get("/static/..%2Fviews.py")).status == 404


async def test_a_pipeline_run_page_is_its_graph_with_the_stage_runs(client: TestClient[Any, Any]) -> None:
    response = await client.get(
        "/api/view", params={"view": "pipelinerun", "namespace": "shop", "name": "web-regions-7"}
    )
    view = await response.json()
    assert [(s["name"], s["state"]["name"]) for s in view["stages"]] == [
        ("approve", "Succeeded"),
        ("region1", "Running"),
        ("region2", "Running"),
    ]
    assert view["stages"][1]["run"]["state"]["name"] == "WaitingAtBarrier"
    assert view["barriers"][0]["missing"] == ["region1", "region2"]


async def test_a_page_it_cannot_read_shows_the_plugins_error(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/view", params={"view": "workflowrun", "namespace": "shop", "name": "gone"})
    assert await response.json() == {"view": "error", "error": "error: workflowruns gone not found"}
    assert (await client.get("/api/view", params={"view": "secrets"})).status == 400


async def read_view(response: ClientResponse) -> Body:
    """The next view of a server-sent event stream."""
    while True:
        line = (await response.content.readline()).decode()
        if line.startswith("data: "):
            view: Body = json.loads(line[len("data: ") :])
            return view


async def test_the_stream_sends_the_page_again_when_a_watch_reports_a_change(
    client: TestClient[Any, Any], cluster: WatchedCluster
) -> None:
    query = {"view": "workflowrun", "namespace": "shop", "name": "web-canary-1-1"}
    async with client.get("/api/events", params=query) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        first = await read_view(response)
        assert (first["weight"], first["podsText"]) == (30, "pods 7 stable + 3 canary (of 10)")
        moved = states.canary_at_30_verifying()
        moved["status"] |= {"weight": 60, "canary": {"total": 10, "stable": 4, "canary": 6}}
        cluster.changed("workflowruns", moved)
        second = await read_view(response)
        assert (second["weight"], second["podsText"]) == (60, "pods 4 stable + 6 canary (of 10)")


async def test_a_watch_the_caller_may_not_make_is_shown_on_the_page(
    client: TestClient[Any, Any], cluster: WatchedCluster
) -> None:
    cluster.watch_refusal = 'workflowruns.convoy.dev is forbidden: User "mallory" cannot watch resource'
    async with client.get("/api/events", params={"view": "list"}) as response:
        view = await read_view(response)
        while not view["problem"]:
            view = await read_view(response)
        assert view["problem"] == cluster.watch_refusal


@pytest.mark.parametrize(
    ("action", "ops", "message"),
    [
        pytest.param(
            {"verb": "approve", "kind": "workflowrun", "namespace": "shop", "name": "web-2-0", "step": "go-live"},
            ("workflowruns", "web-2-0", {"action": "Approve", "step": "go-live"}),
            "workflowrun/web-2-0: Approve recorded for go-live",
            id="approve-a-step",
        ),
        pytest.param(
            {"verb": "abort", "kind": "pipelinerun", "namespace": "shop", "name": "web-regions-7"},
            ("pipelineruns", "web-regions-7", {"action": "Abort"}),
            "pipelinerun/web-regions-7: Abort recorded",
            id="abort-a-pipeline-run",
        ),
        pytest.param(
            {"verb": "promote", "kind": "workflowrun", "namespace": "region1", "name": "web-regions-7-region1"},
            ("workflowruns", "web-regions-7-region1", {"action": "Promote"}),
            "workflowrun/web-regions-7-region1: Promote recorded",
            id="in-another-namespace",
        ),
    ],
)
async def test_a_button_appends_the_decision_the_plugin_would(
    client: TestClient[Any, Any], cluster: WatchedCluster, action: Body, ops: tuple[str, str, Body], message: str
) -> None:
    response = await act(client, action)
    assert await response.json() == {"ok": True, "message": message}
    plural, name, patch = cluster.patches[-1]
    assert (plural, name, patch[-1]["value"]) == ops


async def test_rollback_creates_the_rollback_the_plugin_would(
    client: TestClient[Any, Any], cluster: WatchedCluster
) -> None:
    action = {"verb": "rollback", "kind": "workflowrun", "namespace": "shop", "name": "web-canary-1-1"}
    response = await act(client, action)
    assert await response.json() == {"ok": True, "message": "rollback/web-canary-1-1-rollback-x7k2p created"}
    plural, body = cluster.created[-1]
    assert (plural, body["spec"]) == ("rollbacks", {"workflowRunRef": {"name": "web-canary-1-1"}})


@pytest.mark.parametrize(
    ("refusal", "action", "message"),
    [
        pytest.param(
            'admission webhook "validate.convoy.dev" denied the request: mallory may not approve step go-live: '
            "the approvers are alice, group:release-managers",
            {"verb": "approve", "kind": "workflowrun", "namespace": "shop", "name": "web-2-0"},
            'error: admission webhook "validate.convoy.dev" denied the request: mallory may not approve step '
            "go-live: the approvers are alice, group:release-managers",
            id="not-an-approver",
        ),
        pytest.param(
            None,
            {"verb": "resume", "kind": "workflowrun", "namespace": "shop", "name": "web-2-0", "step": "nope"},
            "error: workflowrun web-2-0 has no step nope: see kubectl convoy get web-2-0",
            id="no-such-step",
        ),
    ],
)
async def test_a_refusal_is_the_plugins_one_line(
    client: TestClient[Any, Any], cluster: WatchedCluster, refusal: str | None, action: Body, message: str
) -> None:
    cluster.refusal = refusal
    response = await act(client, action)
    assert await response.json() == {"ok": False, "message": message}


@pytest.mark.parametrize(
    "action",
    [
        pytest.param({"verb": "delete", "kind": "workflowrun", "namespace": "shop", "name": "web-2-0"}, id="verb"),
        pytest.param({"verb": "abort", "kind": "secret", "namespace": "shop", "name": "web-2-0"}, id="kind"),
        pytest.param({"verb": "abort", "kind": "workflowrun", "namespace": "", "name": "web-2-0"}, id="namespace"),
        pytest.param({"verb": "abort", "kind": "workflowrun", "namespace": "shop", "name": ["x"]}, id="not-text"),
    ],
)
async def test_what_no_button_sends_is_refused(
    client: TestClient[Any, Any], cluster: WatchedCluster, action: Body
) -> None:
    response = await act(client, action)
    assert response.status == 400
    assert cluster.patches == [] and cluster.created == []


ABORT = {"verb": "abort", "kind": "workflowrun", "namespace": "shop", "name": "web-2-0"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({"Origin": "http://127.0.0.1:{port}"}, "token is missing or wrong", id="no-token"),
        pytest.param({"Origin": "http://127.0.0.1:{port}", TOKEN_HEADER: "guess"}, "token", id="wrong-token"),
        pytest.param({TOKEN_HEADER: TOKEN, "Origin": "http://evil.example"}, "own page", id="other-origin"),
        pytest.param({TOKEN_HEADER: TOKEN}, "own page", id="no-origin"),
        pytest.param(
            {TOKEN_HEADER: TOKEN, "Origin": "http://evil.example:{port}", "Host": "evil.example:{port}"},
            "does not answer to host",
            id="rebound-host-name",
        ),
    ],
)
async def test_an_action_from_another_page_is_refused(
    client: TestClient[Any, Any], cluster: WatchedCluster, headers: dict[str, str], reason: str
) -> None:
    sent = {k: v.format(port=client.port) for k, v in headers.items()}
    response = await act(client, ABORT, sent)
    assert response.status == 403
    assert reason in (await response.json())["message"]
    assert cluster.patches == []


async def test_a_form_post_is_refused_even_with_the_token(
    client: TestClient[Any, Any], cluster: WatchedCluster
) -> None:
    response = await client.post(
        "/api/actions", data=json.dumps(ABORT), headers={**own_headers(client), "Content-Type": "text/plain"}
    )
    assert response.status == 403
    assert cluster.patches == []


async def test_reads_answer_only_to_the_dashboards_own_host_names(client: TestClient[Any, Any]) -> None:
    for path in ("/", "/api/view?view=list", "/api/events?view=list"):
        response = await client.get(path, headers={"Host": f"evil.example:{client.port}"})
        assert response.status == 403, path


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("127.0.0.1", {"127.0.0.1:3100", "localhost:3100", "[::1]:3100"}, id="loopback"),
        pytest.param("::1", {"127.0.0.1:3100", "localhost:3100", "[::1]:3100"}, id="ipv6-loopback"),
        pytest.param(
            "192.0.2.7", {"127.0.0.1:3100", "localhost:3100", "[::1]:3100", "192.0.2.7:3100"}, id="one-address"
        ),
    ],
)
def test_the_dashboard_answers_to_its_own_host_names_only(address: str, expected: set[str]) -> None:
    assert hosts(address, 3100) == expected
