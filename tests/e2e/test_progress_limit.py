"""A limit on runs progressing at once: with `--max-progressing-runs-per-namespace 1`, runs of three different
workloads run one after the other; the waiting ones say their queue position and why, in status and in
`kubectl convoy get`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from harness import Operator, Runs, deployment_manifest
from test_cli import convoy_cli
from test_workflowruns import available, rolling, run, workflow
from waiting import wait_for

pytestmark = pytest.mark.e2e
FINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
APPS = ("web", "api", "db")


@pytest.fixture
def limited(convoy: Operator, operator_kubeconfig: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    """The session's operator, replaced by one that lets one run per namespace progress at a time."""
    convoy.stop()
    operator = Operator(
        operator_kubeconfig, tmp_path_factory.mktemp("limited"), ["--max-progressing-runs-per-namespace", "1"]
    )
    operator.start()
    yield operator
    operator.stop()
    convoy.start()


@pytest.fixture
def three_apps(runs: Runs) -> None:
    for app in APPS:
        runs.apply(deployment_manifest(app, f"registry.example/{app}:1.0", replicas=2))
    for app in APPS:
        image = f"registry.example/{app}:1.0"
        wait_for(lambda: available(runs, app, image), 60, message=f"{app} not ready")  # noqa: B023  (waited for here)


def test_runs_beyond_the_limit_wait_their_turn(limited: Operator, runs: Runs, three_apps: None) -> None:
    # given a Workflow per app, each run held by an approval
    for app in APPS:
        spec = rolling({"name": "approve", "approval": {"allowSelfApproval": True}}, target=app)
        spec["artifact"]["image"] = f"registry.example/{app}:" + "${workflow.variables.version}"
        runs.apply(workflow(app, spec))
    # when a run of each is created, in order
    for app in APPS:
        runs.apply(run(f"{app}-2", app, {"version": "2.0"}))
        wait_for(lambda: runs.status(f"{app}-2").get("phase"), 30, 0.2, f"{app}-2 not planned")  # noqa: B023
    # then the first progresses and the others wait, with their position and the reason
    runs.wait_phase("web-2", "WaitingForApproval", timeout=60)
    api = runs.wait_phase("api-2", "Queued")
    db = runs.wait_phase("db-2", "Queued")
    assert (api["queuePosition"], api["queueReason"]) == (1, "ProgressLimit")
    assert (db["queuePosition"], db["queueReason"]) == (2, "ProgressLimit")
    assert "at most 1 at once" in api["message"]
    shown = convoy_cli(runs, "get", "workflowrun", "db-2")
    assert "queue position 2 (progress limit)" in shown.stdout, shown.stdout + shown.stderr
    # and when each approved run ends, the next one starts
    for app in APPS:
        runs.wait_phase(f"{app}-2", "WaitingForApproval", timeout=60)
        runs.decide(f"{app}-2", {"action": "Approve", "step": "approve"})
        assert runs.wait_phase(f"{app}-2", *FINAL, timeout=60)["phase"] == "Succeeded"
    spans = sorted((runs.status(f"{a}-2")["startedAt"], runs.status(f"{a}-2")["finishedAt"]) for a in APPS)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans)), spans
