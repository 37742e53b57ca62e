"""The Deployment cache: what the watch showed last is what a reconcile observes; a miss is read, not kept."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters import workloads
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
    ("events", "found", "replicas"),
    [
        pytest.param([], deployment(4), 4, id="not-seen-yet-is-read"),
        pytest.param([], None, None, id="missing-is-none"),
        pytest.param([(deployment(3), True)], None, None, id="deleted-is-read-again"),
    ],
)
async def test_a_miss_is_read_each_time_and_not_kept(
    monkeypatch: pytest.MonkeyPatch,
    events: list[tuple[dict[str, Any], bool]],
    found: dict[str, Any] | None,
    replicas: int | None,
) -> None:
    reads, cache = Reads(monkeypatch, found), DeploymentCache()
    for body, deleted in events:
        cache.observe(body, deleted=deleted)
    for _ in range(2):
        seen = await cache.workload("shop", "web", "web")
        assert (seen.replicas if seen else None) == replicas
    assert reads.count == 2


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
        pytest.param(DeleteDeployment("shop", "web"), False, id="always-performed"),
    ],
)  # fmt: skip
def test_an_action_the_deployment_already_satisfies_needs_no_call(action: Action, satisfied: bool) -> None:
    cache = DeploymentCache()
    cache.observe(SEEN)
    assert cache.satisfied(action) is satisfied
