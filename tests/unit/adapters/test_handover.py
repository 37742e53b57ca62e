"""The handover's requests, in order, against a fake API server: the stable is paused with the new image before its
empty ReplicaSets go, its count is set before the copy is deleted (orphaning the canary's ReplicaSet), and nothing is
done twice when the action is performed again. A tenant that may not list ReplicaSets gets the plain promotion."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sealing import use_key

from convoy.adapters import handover
from convoy.adapters.owner import APPLIED, Owner
from convoy.planner.actions import HandOver

from .fake_api import FakeApiServer, Sent, fake_api, status

__all__ = ["fake_api"]  # the fixture, imported for pytest

use_key(b"k" * 32)

RUN = Owner("WorkflowRun", "web-2", "shop", "uid-run")
ACTION = HandOver("shop", "web", "web-canary", None, "web:2.0", "web-2-snapshot", "web-2/promote/deploy", 10)
DEPLOYMENTS = "/apis/apps/v1/namespaces/shop/deployments"
REPLICA_SETS = "/apis/apps/v1/namespaces/shop/replicasets"


def stable(**spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main", "image": "web:1.0"}]}}
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-web", "annotations": {}},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "template": template, **spec},
    }


def replica_set(name: str, replicas: int, owner_uid: str = "uid-web", image: str = "web:1.0") -> dict[str, Any]:
    owner = {"kind": "Deployment", "name": "owner", "uid": owner_uid, "controller": True}
    template = {"spec": {"containers": [{"name": "main", "image": image}]}}
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "ownerReferences": [owner]},
        "spec": {"replicas": replicas, "template": template},
    }


class Cluster:
    """The stable Deployment as the fake API server keeps it: patches are merged into it (enough of a strategic
    merge for these patches), and the ReplicaSets and the copy it lists and deletes."""

    def __init__(self, api: FakeApiServer, body: dict[str, Any], replica_sets: list[dict[str, Any]]) -> None:
        self.body, self.replica_sets, self.copy = body, replica_sets, True
        api.on("GET", f"{DEPLOYMENTS}/web", lambda _s: (200, self.body))
        api.on("PATCH", f"{DEPLOYMENTS}/web", self.patch)
        api.on("GET", f"/api/v1/namespaces/shop/configmaps/{ACTION.snapshot}", status(404))
        api.on("POST", "/api/v1/namespaces/shop/configmaps", lambda s: (201, s.body))
        api.on("GET", REPLICA_SETS, lambda _s: (200, {"items": self.replica_sets}))
        api.on("DELETE", f"{REPLICA_SETS}/*", self.delete_replica_set)
        api.on("DELETE", f"{DEPLOYMENTS}/web-canary", self.delete_copy)

    def patch(self, sent: Sent) -> tuple[int, Any]:
        spec, meta = sent.body.get("spec", {}), sent.body.get("metadata", {})
        self.body["metadata"]["annotations"].update(meta.get("annotations", {}))
        for field in ("paused", "replicas"):
            if field in spec:
                self.body["spec"][field] = spec[field]
        for container in spec.get("template", {}).get("spec", {}).get("containers", []):
            self.body["spec"]["template"]["spec"]["containers"][0]["image"] = container["image"]
        return 200, copy.deepcopy(self.body)

    def delete_replica_set(self, sent: Sent) -> tuple[int, Any]:
        name = sent.path.rsplit("/", 1)[1]
        self.replica_sets = [rs for rs in self.replica_sets if rs["metadata"]["name"] != name]
        return 200, {}

    def delete_copy(self, sent: Sent) -> tuple[int, Any]:
        if not self.copy:
            return status(404)
        self.copy = False
        return 200, {}


def changes(api: FakeApiServer) -> list[tuple[str, str, Any]]:
    return [(s.method, s.path.rsplit("/", 1)[1], s.body) for s in api.sent if s.method in ("PATCH", "DELETE")]


async def test_the_stable_is_paused_with_the_new_image_before_its_replica_sets_go_with_their_pods(
    fake_api: FakeApiServer,
) -> None:
    # given a stable still running 4 old pods, with ReplicaSets of its own (one empty) and one it does not own
    owned = [replica_set("web-1", 0), replica_set("web-busy", 4)]
    cluster = Cluster(fake_api, stable(replicas=4), [*owned, replica_set("other", 0, owner_uid="uid-other")])
    # when the handover is performed
    await handover.hand_over(RUN, ACTION)
    # then: pause with the image and the mark, delete the owned ReplicaSets (the garbage collector takes their pods),
    # set the count, orphan the copy
    done = changes(fake_api)
    assert [(method, name) for method, name, _ in done] == [
        ("PATCH", "web"),
        ("DELETE", "web-1"),
        ("DELETE", "web-busy"),
        ("PATCH", "web"),
        ("DELETE", "web-canary"),
    ]
    pause = done[0][2]
    assert pause["spec"]["paused"] is True and "replicas" not in pause["spec"]
    assert pause["spec"]["template"]["spec"]["containers"] == [{"name": "main", "image": "web:2.0"}]
    assert pause["metadata"]["annotations"][APPLIED] == ACTION.key
    assert done[2][2] == {"propagationPolicy": "Background", "preconditions": {"uid": "uid-web-busy"}}
    assert done[3][2] == {"spec": {"replicas": 10}}
    assert done[4][2] == {"propagationPolicy": "Orphan"}
    assert [rs["metadata"]["name"] for rs in cluster.replica_sets] == ["other"]
    (listed,) = [s for s in fake_api.sent if s.path == REPLICA_SETS]
    assert listed.params["labelSelector"] == "app=web"


async def test_performed_again_it_changes_nothing_twice(fake_api: FakeApiServer) -> None:
    # given a handover performed once: the stable has adopted the canary's ReplicaSet of 10 pods
    cluster = Cluster(fake_api, stable(), [replica_set("web-1", 0)])
    await handover.hand_over(RUN, ACTION)
    adopted = replica_set("web-canary-5d8f", 10, image="web:2.0")
    cluster.replica_sets = [adopted]
    fake_api.sent.clear()
    # when it is performed again (a restart that had not seen its result)
    await handover.hand_over(RUN, ACTION)
    # then it patches nothing and deletes no ReplicaSet: only the copy's deletion is asked again, and is a 404
    assert [(method, name) for method, name, _ in changes(fake_api)] == [("DELETE", "web-canary")]
    assert cluster.body["spec"]["paused"] is True and cluster.replica_sets == [adopted]


async def test_an_old_replica_set_at_the_new_image_but_empty_goes_too(fake_api: FakeApiServer) -> None:
    # given a stable that once ran the new image (an empty ReplicaSet of it is left) and runs 4 old pods
    old = [replica_set("web-2-old", 0, image="web:2.0"), replica_set("web-1", 4)]
    cluster = Cluster(fake_api, stable(replicas=4), old)
    # when the handover is performed, then both go: only a ReplicaSet running the new version is kept
    await handover.hand_over(RUN, ACTION)
    assert cluster.replica_sets == []


@pytest.mark.parametrize("refused", [pytest.param("GET", id="list"), pytest.param("DELETE", id="delete")])
async def test_without_replica_set_rights_the_stable_is_resumed_at_the_full_count(
    fake_api: FakeApiServer, refused: str
) -> None:
    # given a tenant whose role may not list (or delete) ReplicaSets
    cluster = Cluster(fake_api, stable(), [replica_set("web-1", 0)])
    fake_api.on(refused, REPLICA_SETS + ("" if refused == "GET" else "/*"), status(403, "forbidden"))
    # when the handover is performed
    await handover.hand_over(RUN, ACTION)
    # then the stable is resumed with the new image at its full count, starting its own pods; the canary stays
    assert (cluster.body["spec"]["paused"], cluster.body["spec"]["replicas"]) == (False, 10)
    assert cluster.body["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2.0"
    assert cluster.copy
