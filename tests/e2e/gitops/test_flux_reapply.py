"""Convoy's own fields on a Deployment that git owns survive Flux's re-apply with `force: false` and no Flux
annotation: the pause a triggered Canary keeps and Convoy's `convoy.dev/*` annotations stay when a commit makes
Flux apply the Deployment again, and such a commit (no pod template change) starts no run. Written given / when /
then."""

from __future__ import annotations

import pytest
from flux import Sync
from harness import Operator, Runs
from manifests import deployment, service, triggered_canary
from test_triggers import triggered_runs
from waiting import wait_for

pytestmark = pytest.mark.e2e


def test_convoy_fields_survive_a_flux_reapply(convoy: Operator, runs: Runs, gitops: Sync) -> None:
    # given a Deployment and its triggered Canary from git, which Convoy paused and marked
    gitops.start(force=False)
    web = deployment("1.0")
    first = gitops.repo.commit("web", {"web.yaml": [web, service()], "workflow.yaml": triggered_canary()})
    gitops.applied(first)

    def marked() -> bool:
        d = runs.deployment("web")
        return bool(d.spec.paused and "convoy.dev/template-hash" in (d.metadata.annotations or {}))

    wait_for(marked, 60, message="Convoy did not pause and mark web")
    annotations = {k: v for k, v in runs.deployment("web").metadata.annotations.items() if k.startswith("convoy.dev/")}
    # when a commit changes the Deployment outside its pod template, so Flux applies it again
    web["metadata"]["labels"] = {"team": "payments"}
    second = gitops.repo.commit("label web", {"web.yaml": [web, service()]})
    gitops.applied(second)
    after = runs.deployment("web")
    assert after.metadata.labels.get("team") == "payments", "Flux did not apply the Deployment again"
    # then Convoy's pause and annotations are still there, and no run started
    assert after.spec.paused is True
    assert {k: v for k, v in after.metadata.annotations.items() if k.startswith("convoy.dev/")} == annotations
    assert triggered_runs(runs) == []
