"""A canary on the dashboard, in a real browser: its weight and pods move on the page, without a reload, when the
run moves on; Promote on the page does what `kubectl convoy promote` does; the list shows and filters it; and
another site's page open in the same browser cannot take an action through the dashboard. Written given / when /
then."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from browser import Dashboard, dashboard, screenshot
from harness import Operator, Runs
from playwright.sync_api import Page, expect
from test_canary import canary_spec, paused_in, web10  # noqa: F401  (web10: the fixture)
from test_workflowruns import run, workflow

pytestmark = pytest.mark.e2e


@pytest.fixture
def paused_canary(convoy: Operator, runs: Runs, web10: None) -> str:  # noqa: F811
    """Given a 10-pod canary at 10, 50 and 100 %, paused at 10 %."""
    runs.apply(workflow("web", canary_spec(10, 50, 100)))
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    paused_in(runs, "web-2", "canary-10")
    return "web-2"


def test_a_canary_moves_on_the_page_without_a_reload(
    runs: Runs, paused_canary: str, page: Page, tmp_path: Path
) -> None:
    with dashboard(runs.kubeconfig, runs.namespace, tmp_path) as mine:
        page.goto(f"{mine.url}#/workflowrun/{runs.namespace}/{paused_canary}")
        expect(page.locator("#weight")).to_have_text("10%")
        expect(page.locator("#pods")).to_have_text("pods 9 stable + 1 canary (of 10)")
        page.evaluate("window.sameDocument = true")
        # when the run is resumed elsewhere (someone's `kubectl convoy resume`)
        runs.decide(paused_canary, {"action": "Resume"})
        # then the page follows: 50 %, 5 + 5 pods, paused again
        expect(page.locator("#weight")).to_have_text("50%")
        expect(page.locator("#pods")).to_have_text("pods 5 stable + 5 canary (of 10)")
        expect(page.locator("#workflowrun .badge")).to_have_attribute("data-state", "Paused")
        assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
        screenshot(page, tmp_path, "canary-at-50")
        # when Promote is clicked on the page
        page.locator('#workflowrun button[data-verb="promote"]').click()
        expect(page.locator("#notice")).to_have_text(f"workflowrun/{paused_canary}: Promote recorded")
        # then the run goes on to full weight and succeeds, still on the same page
        expect(page.locator("#workflowrun .badge")).to_have_attribute("data-state", "Succeeded", timeout=90_000)
        expect(page.locator("#weight")).to_have_text("100%")
        assert [d["action"] for d in runs.get("workflowruns", paused_canary)["spec"]["decisions"]] == [
            "Resume",
            "Promote",
        ]
        # and the list shows it, and only it when filtered by its state
        page.goto(f"{mine.url}#/?state=Succeeded")
        row = page.locator(f'section[data-kind="WorkflowRun"] tr[data-name="{paused_canary}"]')
        expect(row.locator(".badge")).to_have_attribute("data-state", "Succeeded")
        expect(page.locator('section[data-kind="WorkflowRun"] tr[data-name]')).to_have_count(1)
        screenshot(page, tmp_path, "list")


class EvilSite:
    """Another site's page, served from another origin on this machine, that tries to abort `name` through the
    dashboard at `target`: with a form, with a simple fetch, and with a fetch that sends the headers."""

    def __init__(self, target: str, namespace: str, name: str) -> None:
        action = json.dumps({"verb": "abort", "kind": "workflowrun", "namespace": namespace, "name": name})
        page = f"""<!doctype html><html><body>
<form id="form" method="POST" action="{target}api/actions" enctype="text/plain" target="sink">
<input type="hidden" name='{action[:-1]}, "x": "' value='"}}'></form>
<iframe name="sink"></iframe><p id="done"></p>
<script>
const body = {json.dumps(action)};
document.getElementById("form").submit();
const tries = [
  fetch("{target}api/actions", {{method: "POST", mode: "no-cors", body}}),
  fetch("{target}api/actions", {{method: "POST", body, headers: {{"Content-Type": "application/json", "X-Convoy-Token": "guess"}}}}),
];
Promise.allSettled(tries).then((r) => document.getElementById("done").textContent = r.map((x) => x.status).join(","));
</script></body></html>""".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None: ...

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def evil_site(runs: Runs, paused_canary: str, tmp_path: Path) -> Iterator[tuple[Dashboard, EvilSite]]:
    with dashboard(runs.kubeconfig, runs.namespace, tmp_path) as mine:
        site = EvilSite(mine.url, runs.namespace, paused_canary)
        try:
            yield mine, site
        finally:
            site.close()


def test_another_sites_page_cannot_act_through_the_dashboard(
    runs: Runs, paused_canary: str, evil_site: tuple[Dashboard, EvilSite], page: Page
) -> None:
    mine, site = evil_site
    # given the dashboard open in the browser (its page holds the token)
    page.goto(f"{mine.url}#/workflowrun/{runs.namespace}/{paused_canary}")
    expect(page.locator("#weight")).to_have_text("10%")
    # when a page of another site, open in the same browser, posts an abort to the dashboard
    other = page.context.new_page()
    other.goto(site.url)
    expect(other.locator("#done")).not_to_be_empty()
    # then nothing was decided, and the run still waits at 10 %
    assert runs.get("workflowruns", paused_canary)["spec"].get("decisions") == []
    assert runs.status(paused_canary)["phase"] == "Paused"
    # while the same request from the dashboard's own page, with its token, is taken (the guard, not the request,
    # stopped the attack)
    token = page.locator('meta[name="convoy-token"]').get_attribute("content")
    assert token
    action = {"verb": "abort", "kind": "workflowrun", "namespace": runs.namespace, "name": paused_canary}
    request = urllib.request.Request(
        f"{mine.url}api/actions",
        data=json.dumps(action).encode(),
        headers={"Content-Type": "application/json", "X-Convoy-Token": token, "Origin": mine.url.rstrip("/")},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response) == {"ok": True, "message": f"workflowrun/{paused_canary}: Abort recorded"}
    assert [d["action"] for d in runs.get("workflowruns", paused_canary)["spec"]["decisions"]] == ["Abort"]
