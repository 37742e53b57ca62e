"""A canary driven by git alone: Flux applies a Deployment, its Service and a Canary Workflow with a PodTemplate
trigger; a commit that changes the image starts a run; Flux keeps reconciling every 2 s throughout the canary.
Every write to the Deployment is recorded (a watch diffing `managedFields`), so the tests see that Flux never
undoes a phase and Convoy never undoes git's change. Written given / when / then."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flux import Sync
from harness import Operator, Runs
from kubernetes import client
from manifests import REPLICAS, deployment, image, service, triggered_canary
from test_canary import ready_pods
from test_triggers import triggered_runs
from test_workflowruns import available
from waiting import wait_for
from writes import DeploymentWrites

pytestmark = pytest.mark.e2e
FLUX, CONVOY = "kustomize-controller", "convoy"
# Who else writes the Deployment: the Deployment controller (its revision annotation, and the status); and "?",
# one of several managers writing again within the same second (each one's first write shows its name).
OTHERS = {"kube-controller-manager", "kube-controller-manager (status)", "?"}
# What docs/gitops.md tells Flux users to set: Convoy, not git, sizes the stable Deployment during a canary.
IGNORE_REPLICAS = [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]


@pytest.fixture
def writes(api_client: client.ApiClient, namespace: str) -> Iterator[DeploymentWrites]:
    recorder = DeploymentWrites(api_client, namespace, "web")
    recorder.start()
    yield recorder
    recorder.stop()


def deploy_v1_then_commit_v2(
    gitops: Sync, runs: Runs, *, verification_fails: bool = False, ignore_replicas: bool = True
) -> tuple[str, str]:
    """Given web 1.0 and its triggered Canary applied by Flux, when git changes the image to 2.0: the revision
    of that commit and the run it started."""
    gitops.start(ignore=IGNORE_REPLICAS if ignore_replicas else [])
    files: dict[str, Any] = {"web.yaml": [deployment("1.0"), service()]}
    first = gitops.repo.commit(
        "web 1.0", {**files, "workflow.yaml": triggered_canary(verification_fails=verification_fails)}
    )
    gitops.applied(first)
    wait_for(lambda: available(runs, "web", image("1.0")), 60, message="web 1.0 not available")
    wait_for(lambda: runs.deployment("web").spec.paused is True, 30, message="the trigger did not pause web")
    assert triggered_runs(runs) == []
    second = gitops.repo.commit("web 2.0", {"web.yaml": [deployment("2.0"), service()]})
    started = wait_for(lambda: triggered_runs(runs), 60, message="the commit did not start a run")
    assert len(started) == 1 and started[0]["spec"]["variables"] == {"image": image("2.0")}
    return second, started[0]["metadata"]["name"]


def holds_split(gitops: Sync, runs: Runs, run: str, phase: str, stable: int, canary: int) -> None:
    """The run is in `phase` with the declared pods, and keeps them while Flux reconciles again."""

    def split() -> bool:
        status = runs.status(run)
        return bool(
            status.get("currentPhase") == phase
            and status.get("canary") == {"total": REPLICAS, "stable": stable, "canary": canary}
            and ready_pods(runs, "web") == stable
            and ready_pods(runs, "web-canary") == canary
        )

    wait_for(split, 60, 0.3, f"{run} did not reach {phase} with {stable} stable and {canary} canary pods")
    seen = gitops.reconciliations()
    wait_for(lambda: gitops.reconciliations() >= seen + 2, 8, 0.3, f"Flux did not reconcile twice during {phase}")
    assert runs.status(run).get("currentPhase") == phase, "the phase ended before Flux reconciled twice in it"
    assert runs.deployment("web").spec.replicas == stable, f"the split of {phase} was undone"


def report(writes: DeploymentWrites) -> str:
    lines = [f"per manager: {dict(writes.per_manager())}"]
    lines += [f"{w.resource_version} {','.join(w.managers)} replicas={w.replicas} paused={w.paused} {w.image}"
              for w in writes.writes]  # fmt: skip
    return "\n".join(lines)


def assert_no_fight(writes: DeploymentWrites, git_image: str) -> None:
    """Flux changed the Deployment only as git did (created it, then the image); Convoy never put another image
    than git's; and every other write is the Deployment controller's or Convoy's, under the manager `convoy`."""
    details = report(writes)
    print(f"writes to Deployment web: {details}")
    for before, after in writes.changes_by(FLUX):
        assert (before.replicas, before.paused) == (after.replicas, after.paused), f"Flux undid a phase: {details}"
        assert after.image == git_image, f"Flux changed the image to something git does not say: {details}"
    after_git = [w for w in writes.writes if w.image == git_image]
    assert after_git, details
    since = writes.writes.index(after_git[0])
    assert all(w.image == git_image for w in writes.writes[since:]), f"git's image was undone: {details}"
    strangers = set(writes.per_manager()) - {FLUX, CONVOY, *OTHERS}
    assert not strangers, f"writes not under the manager {CONVOY!r}: {strangers}: {details}"


def test_a_commit_runs_a_canary_that_flux_leaves_alone(
    convoy: Operator, runs: Runs, gitops: Sync, writes: DeploymentWrites
) -> None:
    # given web 1.0 and its triggered Canary from git, when a commit changes the image to 2.0
    revision, run = deploy_v1_then_commit_v2(gitops, runs, verification_fails=False)
    # then Flux applies it, the run holds every phase with the declared pods while Flux reconciles again
    gitops.applied(revision)
    holds_split(gitops, runs, run, "canary-25", stable=3, canary=1)
    holds_split(gitops, runs, run, "canary-50", stable=2, canary=2)
    # and the run succeeds with web on 2.0 at full size, the canary gone
    status = runs.wait_phase(run, "Succeeded", "Failed", "RolledBack", "Aborted", timeout=120)
    assert status["phase"] == "Succeeded", status.get("message")
    wait_for(lambda: available(runs, "web", image("2.0")), 60, message="web 2.0 not promoted")
    wait_for(lambda: ready_pods(runs, "web-canary") is None, 30, message="the canary was not removed")
    assert runs.deployment("web").spec.replicas == REPLICAS
    # and Flux, which kept reconciling, reports git's revision applied and never fought Convoy
    assert gitops.applied(revision)["lastAppliedRevision"] == revision
    assert_no_fight(writes, image("2.0"))


def pod_images(runs: Runs) -> set[str]:
    found = runs.core.list_namespaced_pod(runs.namespace, label_selector="app=web")
    pods = runs.core.api_client.sanitize_for_serialization(found)["items"]
    return {str(p["spec"]["containers"][0]["image"]) for p in pods if not p["metadata"].get("deletionTimestamp")}


def test_a_failed_verification_rolls_back_and_flux_shows_git_applied(
    convoy: Operator, runs: Runs, gitops: Sync, writes: DeploymentWrites
) -> None:
    # given web 1.0 and its triggered Canary from git, whose verification fails, when a commit changes the image
    revision, run = deploy_v1_then_commit_v2(gitops, runs, verification_fails=True)
    holds_split(gitops, runs, run, "canary-25", stable=3, canary=1)
    # then the run rolls back: the stable pods run 1.0 at full size, the canary is gone
    status = runs.wait_phase(run, "Succeeded", "Failed", "RolledBack", "Aborted", timeout=120)
    assert status["phase"] == "RolledBack", status.get("message")
    wait_for(lambda: ready_pods(runs, "web-canary") is None, 30, message="the canary was not removed")
    wait_for(lambda: ready_pods(runs, "web") == REPLICAS, 60, message="the stable pods were not restored")
    wait_for(lambda: pod_images(runs) == {image("1.0")}, 30, message="web does not run 1.0 only")
    # and the Deployment still says what git says (2.0), paused, so Flux reports the revision applied, in sync
    web = runs.deployment("web")
    assert web.spec.template.spec.containers[0].image == image("2.0") and web.spec.paused is True
    synced = gitops.applied(revision)
    assert synced["lastAppliedRevision"] == revision
    assert next(c for c in synced["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert_no_fight(writes, image("2.0"))


def test_without_ignoring_replicas_flux_undoes_the_split(
    convoy: Operator, runs: Runs, gitops: Sync, writes: DeploymentWrites
) -> None:
    """Why docs/gitops.md asks for the Kustomization's `ignore` rule: without it, Flux corrects the stable
    Deployment's `spec.replicas` back to git's at its next reconciliation, in the middle of a phase."""
    # given a Kustomization that does not ignore /spec/replicas, when a commit starts a canary
    _, run = deploy_v1_then_commit_v2(gitops, runs, ignore_replicas=False)
    wait_for(lambda: runs.status(run).get("currentPhase") == "canary-25", 60, message=f"{run} did not start")
    # then Flux puts the stable Deployment back to git's size while the canary runs
    wait_for(lambda: any(a.replicas == REPLICAS for _, a in writes.changes_by(FLUX)), 30, 0.3,
             f"Flux did not undo the split: {report(writes)}")  # fmt: skip
