"""The Deployment cache: what the watch showed last is what a reconcile observes; a miss is read, and kept only as
an absence the watch would end."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters import workloads
from convoy.handlers import config
from convoy.handlers.cache import DeploymentCache
from convoy.planner.actions import Action, DeleteDeployment, ScaleDeployment, SetImage, SetPaused


def deployment(replicas: int, image: str = "web:1", **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "shop",
            "name": "web",
            "generation": 2,
            "annotations": annotations,
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "web", "image": image}]}},
        },
        "status": {"observedGeneration": 2, "replicas": replicas, "readyReplicas": replicas},
    }


class Reads:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, found: dict[str, Any] | None) -> None:
        self.count, self.found = 0, found
        monkeypatch.setattr(workloads, "read_deployment", self.read)

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.count += 1
        return self.found


async def test_the_last_event_is_what_is_observed_without_a_read(monkeypatch: pytest.MonkeyPatch) -> None:
    reads, cache = Reads(monkeypatch, deployment(9)), DeploymentCache()
    cache.observe(deployment(3, "web:1"))
    cache.observe(deployment(5, "web:2", **{"convoy.dev/applied": "run/k"}))
    seen = await cache.workload("shop", "web", "web")
    assert seen is not None
    assert (seen.replicas, seen.image, seen.applied, reads.count) == (5, "web:2", "run/k", 0)


@pytest.mark.parametrize(
    ("events", "found", "watched", "replicas", "count"),
    [
        pytest.param([], deployment(4), (), 4, 2, id="not-seen-yet-is-read-each-time"),
        pytest.param([], None, (), None, 1, id="missing-is-read-once"),
        pytest.param([], None, ("prod",), None, 2, id="missing-where-nothing-is-watched-is-read-each-time"),
        pytest.param([(deployment(3), True)], deployment(3), (), None, 0, id="deleted-is-absent-without-a-read"),
        pytest.param([(deployment(3), True), (deployment(5), False)], None, (), 5, 0, id="created-again-is-seen"),
    ],
)
async def test_a_miss_is_read_and_only_an_absence_is_kept(
    monkeypatch: pytest.MonkeyPatch,
    events: list[tuple[dict[str, Any], bool]],
    found: dict[str, Any] | None,
    watched: tuple[str, ...],
    replicas: int | None,
    count: int,
) -> None:
    monkeypatch.setattr(config, "current", config.OperatorConfig(namespaces=watched))
    reads, cache = Reads(monkeypatch, found), DeploymentCache()
    for body, deleted in events:
        cache.observe(body, deleted=deleted)
    for _ in range(2):
        seen = await cache.workload("shop", "web", "web")
        assert (seen.replicas if seen else None) == replicas
    assert reads.count == count


async def test_an_absence_read_while_an_event_arrived_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = DeploymentCache()

    async def read_while_created(namespace: str, name: str) -> dict[str, Any] | None:
        cache.observe(deployment(2))  # the watch shows it created before the read's 404 comes back
        return None

    monkeypatch.setattr(workloads, "read_deployment", read_while_created)
    assert await cache.workload("shop", "web", "web") is None
    seen = await cache.workload("shop", "web", "web")
    assert seen is not None and seen.replicas == 2


SEEN = deployment(4, "web:2", **{"convoy.dev/applied": "run/deploy"})


@pytest.mark.parametrize(
    ("action", "satisfied"),
    [
        pytest.param(SetImage("shop", "web", "web", "web:2", "snap", "run/deploy"), True, id="image-applied"),
        pytest.param(SetImage("shop", "web", "web", "web:2", "snap", "run/other"), False, id="other-key"),
        pytest.param(SetImage("shop", "web", "web", "web:2", "snap", "run/deploy", replicas=4), True, id="with-count"),
        pytest.param(SetImage("shop", "web", "web", "web:2", "snap", "run/deploy", replicas=10), False, id="count-differs"),
        pytest.param(ScaleDeployment("shop", "web", 4), True, id="scaled"),
        pytest.param(ScaleDeployment("shop", "web", 3), False, id="not-scaled"),
        pytest.param(ScaleDeployment("shop", "db", 4), False, id="never-seen"),
        pytest.param(SetPaused("shop", "web", False), True, id="not-paused"),
        pytest.param(DeleteDeployment("shop", "web"), False, id="delete-what-is-there"),
        pytest.param(DeleteDeployment("shop", "web-canary"), True, id="deleted-already"),
        pytest.param(DeleteDeployment("shop", "db"), False, id="delete-what-was-never-seen"),
    ],
)  # fmt: skip
def test_an_action_the_deployment_already_satisfies_needs_no_call(action: Action, satisfied: bool) -> None:
    cache = DeploymentCache()
    cache.observe(SEEN)
    cache.observe({**SEEN, "metadata": {**SEEN["metadata"], "name": "web-canary"}}, deleted=True)
    assert cache.satisfied(action) is satisfied


def rolling(
    ready: int, *, replicas: int = 5, image: str = "web:2", generation: int = 3, marks: dict[str, str] | None = None
) -> dict[str, Any]:
    """The Deployment half-way through a rollout to `image`: `ready` of `replicas` pods updated, ready, available."""
    body = deployment(replicas, image, **(marks or {}))
    body["metadata"]["generation"] = generation
    body["status"] = {
        "observedGeneration": 3,
        "replicas": replicas,
        "updatedReplicas": ready,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    return body


@pytest.mark.parametrize(
    ("before", "after", "wakes"),
    [
        pytest.param(None, rolling(2), True, id="first-seen"),
        pytest.param(rolling(2), rolling(3), False, id="one-more-pod-ready-half-way"),
        pytest.param(rolling(4), rolling(5), True, id="rolled-out"),
        pytest.param(rolling(5), rolling(5), False, id="the-same-again"),
        pytest.param(rolling(5), rolling(5, generation=4), True, id="a-new-spec-not-yet-seen-by-its-controller"),
        pytest.param(rolling(2), rolling(2, image="web:3"), True, id="another-image"),
        pytest.param(rolling(2), rolling(2, replicas=6), True, id="another-count"),
        pytest.param(rolling(2), rolling(2, marks={"convoy.dev/applied": "run/k"}), True, id="marked-applied"),
        pytest.param(rolling(2), rolling(2, marks={"convoy.dev/run": "shop/r2"}), True, id="taken-by-another-run"),
    ],
)
def test_a_watch_event_wakes_the_run_only_when_the_planner_would_see_a_change(
    before: dict[str, Any] | None, after: dict[str, Any], wakes: bool
) -> None:
    cache = DeploymentCache()
    if before is not None:
        cache.observe(before)
    assert cache.observe(after) is wakes


def test_a_deletion_always_wakes() -> None:
    cache = DeploymentCache()
    cache.observe(rolling(5))
    assert cache.observe(rolling(5), deleted=True) is True


def test_the_answer_to_the_operators_own_patch_does_not_hide_the_event_that_shows_it() -> None:
    """The patch's answer is what the next action starts from, but only the watch event wakes the run: a step
    that waits for the change must still be planned again when the watch shows it."""
    cache = DeploymentCache()
    cache.observe(rolling(5))
    marked = rolling(5, marks={"convoy.dev/applied": "run/k"})
    cache.remember(marked)
    seen = cache.body("shop", "web")
    assert seen is not None and seen["metadata"]["annotations"] == {"convoy.dev/applied": "run/k"}
    assert cache.observe(marked) is True
