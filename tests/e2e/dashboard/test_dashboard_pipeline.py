"""The multi-region release on the dashboard, in a real browser: the graph of its stages, the approval with its
approvers, a refused approval by someone who is not one, the approval by alice, and the regions waiting at their
barrier, all seen live without reloading the page. Written given / when / then."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import dashboard, let_read, screenshot
from harness import Operator, Runs, grant_decisions
from playwright.sync_api import Page, expect
from test_pipelines import pipeline_run, regional_pipeline, regional_workflow, resource

pytestmark = pytest.mark.e2e
APPROVAL = "approve-release"


def release_pipeline(region1: str, region2: str) -> dict[str, object]:
    """An approval by alice, then both regions side by side; region2 settles long enough to watch region1 wait
    for it at the barrier."""
    spec = regional_pipeline(region1, region2)
    stages = spec["stages"]
    assert isinstance(stages, list)
    stages[1]["workflow"]["variables"]["settle"] = "15s"
    approval = {"approvers": ["alice"], "message": "Deploy web to both regions?"}
    return {**spec, "stages": [{"name": APPROVAL, "approval": approval}, *stages]}


def test_a_release_across_two_regions_on_the_dashboard(
    convoy: Operator,
    runs: Runs,
    regions: tuple[str, str],
    page: Page,
    tmp_path: Path,
) -> None:
    # given the multi-region pipeline behind alice's approval, started once; alice and mallory may read the runs
    # (in every region) and decide on pipeline runs
    runs.apply(resource("Workflow", "web-regional", regional_workflow()))
    runs.apply(resource("Pipeline", "web-regions", release_pipeline(*regions)))
    let_read(runs, (runs.namespace, *regions), ("alice", "mallory"))
    grant_decisions(runs, "pipelineruns")
    runs.apply(pipeline_run("release-1", "web-regions", variables={"version": "2.0"}))
    link = f"#/pipelinerun/{runs.namespace}/release-1"

    # when mallory, who is not an approver, opens it in her dashboard
    with dashboard(runs.kubeconfig, runs.namespace, tmp_path, as_user="mallory") as mallorys:
        page.goto(mallorys.url + link)
        # then the graph shows the approval waiting, its approver and what it still needs, and both regions after it
        approval = page.locator(f"#stage-{APPROVAL}")
        expect(approval).to_have_attribute("data-state", "WaitingForApproval")
        expect(approval.locator(".approvers")).to_have_text("approvers: alice")
        expect(approval.locator(".needed")).to_have_text("still needed: 1 approval")
        for region in ("region1", "region2"):
            expect(page.locator(f"#stage-{region}")).to_have_attribute("data-state", "Pending")
            expect(page.locator(f'path[data-edge="{APPROVAL}->{region}"]')).to_have_count(1)
        screenshot(page, tmp_path, "pipeline-waiting-for-approval")
        # when she clicks Approve, the API server's refusal is shown as the plugin's one line
        approval.locator('button[data-verb="approve"]').click()
        notice = page.locator("#notice")
        expect(notice).to_have_class("error")
        expect(notice).to_contain_text(f"mallory may not approve stage {APPROVAL}: the approvers are alice")
        assert notice.inner_text().startswith("error: admission webhook ")
        screenshot(page, tmp_path, "pipeline-approval-refused")
        assert runs.status("release-1", "pipelineruns")["phase"] == "WaitingForApproval"

    # when alice approves in hers
    with dashboard(runs.kubeconfig, runs.namespace, tmp_path, as_user="alice") as alices:
        page.goto(alices.url + link)
        page.evaluate("window.sameDocument = true")
        page.locator(f'#stage-{APPROVAL} button[data-verb="approve"]').click()
        expect(page.locator("#notice")).to_have_text(f"pipelinerun/release-1: Approve recorded for {APPROVAL}")
        # then, live, the approval is done and region1 waits at the barrier for region2
        expect(page.locator(f"#stage-{APPROVAL}")).to_have_attribute("data-state", "Succeeded")
        region1 = page.locator("#stage-region1")
        expect(region1.locator('[data-step="all-regions-deployed"]')).to_have_attribute("data-state", "Waiting")
        expect(region1.locator('[data-step="all-regions-deployed"] .detail')).to_contain_text("regions-deployed")
        barrier = page.locator('[data-barrier="regions-deployed"]')
        expect(barrier.locator(".arrived")).to_have_text("arrived: region1")
        expect(barrier.locator(".missing")).to_have_text("missing: region2")
        screenshot(page, tmp_path, "pipeline-barrier-waiting")
        # and both regions cross it and succeed
        for region in ("region1", "region2"):
            expect(page.locator(f"#stage-{region}")).to_have_attribute("data-state", "Succeeded", timeout=120_000)
        expect(page.locator("#pipelinerun .badge")).to_have_attribute("data-state", "Succeeded")
        expect(barrier.locator(".arrived")).to_have_text("arrived: region1, region2")
        assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
        screenshot(page, tmp_path, "pipeline-succeeded")
