"""Snapshots are trusted only when owned by the run and sealed over its uid, their name and their data: a ConfigMap
someone else made or edited under a snapshot's name is never restored from, and never taken for the run's own."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sealing import use_key

from convoy.adapters import seals, snapshots, workloads
from convoy.adapters.kube import Tenant
from convoy.adapters.owner import NotOurs, Owner
from convoy.api.steps import ErrorKind
from convoy.handlers.execute import perform_or_refuse
from convoy.planner.actions import RestoreSnapshot
from convoy.planner.observed import Refusal

RUN = Owner("WorkflowRun", "web-1", "shop", "uid-1")
OTHER_RUN = Owner("WorkflowRun", "web-2", "shop", "uid-2")
NAME = "web-1-rollout-snapshot"
DATA = {"deployment": "web", "template": '{"spec": {"containers": [{"image": "web:1.0", "name": "main"}]}}'}
FORGED = {"deployment": "web", "template": '{"spec": {"containers": [{"image": "evil:1", "name": "main"}]}}'}


KEY = b"k" * 32
use_key(KEY)  # the parameter tables below are sealed when the module is imported


@pytest.fixture(autouse=True)
def key() -> Iterator[None]:
    use_key(KEY)  # whatever key another test left
    yield


def ours(namespace: str = "shop") -> dict[str, Any]:
    return snapshots.manifest(RUN, namespace, NAME, DATA)


def changed(configmap: dict[str, Any], **meta: Any) -> dict[str, Any]:
    out = copy.deepcopy(configmap)
    out["metadata"].update(meta)
    return out


def sealed_for(owner: Owner, name: str, data: dict[str, str]) -> dict[str, str]:
    return {snapshots.SEAL: seals.seal("snapshot", owner.uid, name, snapshots.digest(data))}


NOT_OWNED = "it is not owned by WorkflowRun web-1 (uid uid-1)"
NO_SEAL = "it has no convoy.dev/seal annotation"
BAD_SEAL = "its convoy.dev/seal annotation does not match its content"


@pytest.mark.parametrize(
    ("configmap", "why"),
    [
        pytest.param(ours(), None, id="ours"),
        pytest.param(ours("prod"), None, id="ours-in-another-namespace-without-owner-reference"),
        pytest.param(changed(ours(), ownerReferences=[]), NOT_OWNED, id="no-owner-reference"),
        pytest.param(changed(ours(), ownerReferences=OTHER_RUN.owns_in("shop")), NOT_OWNED, id="owned-by-another-run"),
        pytest.param(changed(ours(), annotations={}), NO_SEAL, id="owned-but-unsealed"),
        pytest.param(changed(ours("prod"), annotations={}), NO_SEAL, id="unsealed-in-another-namespace"),
        pytest.param({**ours(), "data": FORGED}, BAD_SEAL, id="data-edited-after-sealing"),
        pytest.param({**ours(), "data": {**DATA, "extra": "x"}}, BAD_SEAL, id="key-added-after-sealing"),
        pytest.param(
            changed(ours(), annotations=sealed_for(OTHER_RUN, NAME, DATA)), BAD_SEAL, id="sealed-for-another-run"
        ),
        pytest.param(
            changed(ours(), annotations=sealed_for(RUN, "web-1-canary-snapshot", DATA)),
            BAD_SEAL,
            id="sealed-for-another-snapshot",
        ),
        pytest.param(changed(ours(), annotations={snapshots.SEAL: "0" * 40}), BAD_SEAL, id="made-up-seal"),
    ],
)
def test_trust(configmap: dict[str, Any], why: str | None) -> None:
    assert snapshots.distrust(RUN, configmap) == why


def test_a_snapshot_is_owned_by_the_run_and_sealed() -> None:
    meta = ours()["metadata"]
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "convoy.dev/v1alpha1",
            "kind": "WorkflowRun",
            "name": "web-1",
            "uid": "uid-1",
            "controller": True,
        }
    ]
    assert seals.valid(meta["annotations"][snapshots.SEAL], "snapshot", "uid-1", NAME, snapshots.digest(DATA))


class FakeConfigMaps:
    """The ConfigMaps `snapshots` reads and creates; `appears` is created by someone else just before ours."""

    def __init__(self, existing: dict[str, Any] | None = None, appears: dict[str, Any] | None = None) -> None:
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        if existing is not None:
            self._put(existing)
        self.appears = appears
        self.created: list[dict[str, Any]] = []

    def _put(self, configmap: dict[str, Any]) -> None:
        meta = configmap["metadata"]
        self.stored[meta["namespace"], meta["name"]] = copy.deepcopy(configmap)

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.stored.get((namespace, name)))

    async def create(self, body: dict[str, Any]) -> bool:
        if self.appears is not None:
            self._put(self.appears)
        meta = body["metadata"]
        if (meta["namespace"], meta["name"]) in self.stored:
            return False
        self.created.append(body)
        self._put(body)
        return True


@pytest.fixture
def configmaps(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> FakeConfigMaps:
    fake = FakeConfigMaps(*getattr(request, "param", ()))
    monkeypatch.setattr(snapshots, "read", fake.read)
    monkeypatch.setattr(snapshots, "create", fake.create)
    return fake


SQUATTED = (
    "ConfigMap shop/web-1-rollout-snapshot already exists and is not this run's snapshot ({why}): "
    "nothing was changed, since it could not be restored; delete that ConfigMap to deploy"
)
UNTRUSTED = "snapshot ConfigMap shop/web-1-rollout-snapshot is not trusted ({why}): nothing was restored"
SQUATTER = {"metadata": {"name": NAME, "namespace": "shop"}, "data": FORGED}


@pytest.mark.parametrize(
    ("configmaps", "created", "error"),
    [
        pytest.param((), True, None, id="absent-created"),
        pytest.param((ours(),), False, None, id="ours-kept"),
        pytest.param((None, ours()), False, None, id="ours-from-a-concurrent-cycle"),
        pytest.param((SQUATTER,), False, SQUATTED.format(why=NOT_OWNED), id="pre-created"),
        pytest.param(
            (changed(SQUATTER, ownerReferences=RUN.owns_in("shop")),),
            False,
            SQUATTED.format(why=NO_SEAL),
            id="pre-created-with-our-owner-reference",
        ),
        pytest.param((None, SQUATTER), False, SQUATTED.format(why=NOT_OWNED), id="created-by-someone-else-first"),
    ],
    indirect=["configmaps"],
)
async def test_saving_a_snapshot(configmaps: FakeConfigMaps, created: bool, error: str | None) -> None:
    if error is None:
        await snapshots.ensure(RUN, "shop", NAME, DATA)
    else:
        with pytest.raises(NotOurs) as raised:
            await snapshots.ensure(RUN, "shop", NAME, DATA)
        assert str(raised.value) == error
    assert configmaps.created == ([ours()] if created else [])


@pytest.mark.parametrize(
    ("configmaps", "error"),
    [
        pytest.param((ours(),), None, id="ours"),
        pytest.param((SQUATTER,), UNTRUSTED.format(why=NOT_OWNED), id="foreign"),
        pytest.param(({**ours(), "data": FORGED},), UNTRUSTED.format(why=BAD_SEAL), id="edited"),
        pytest.param((changed(ours(), annotations={}),), UNTRUSTED.format(why=NO_SEAL), id="seal-removed"),
    ],
    indirect=["configmaps"],
)
async def test_reading_a_snapshot(configmaps: FakeConfigMaps, error: str | None) -> None:
    if error is None:
        assert await snapshots.data_of(RUN, "shop", NAME) == DATA
        return
    with pytest.raises(NotOurs) as raised:
        await snapshots.data_of(RUN, "shop", NAME)
    assert str(raised.value) == error


async def test_no_snapshot_reads_as_none(configmaps: FakeConfigMaps) -> None:
    assert await snapshots.data_of(RUN, "shop", NAME) is None


@pytest.mark.parametrize("configmaps", [pytest.param(({**ours(), "data": FORGED},), id="edited")], indirect=True)
async def test_a_forged_snapshot_fails_the_rollback_step_with_conflict(
    configmaps: FakeConfigMaps, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_deployment_access(*_: Any) -> None:
        raise AssertionError("the Deployment must not be touched")

    monkeypatch.setattr(workloads, "read_deployment", no_deployment_access)
    action = RestoreSnapshot("shop", "web", NAME, "web-1/rollout/rollback", "web-1/rollout/deploy")

    refusal = await perform_or_refuse(RUN, Tenant("shop", "convoy-runner"), action, {})

    assert refusal == Refusal(ErrorKind.CONFLICT, UNTRUSTED.format(why=BAD_SEAL))
