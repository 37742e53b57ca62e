"""Stage runs carry a seal over their PipelineRun's uid and stage: a WorkflowRun someone else created under the
stage run's name (owner reference included) is never taken for the PipelineRun's own."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException
from sealing import use_key

from convoy.adapters import seals, stage_runs
from convoy.adapters.owner import Owner
from convoy.planner.stages import CreateStageRun

use_key(b"k" * 32)  # the parameter tables below are sealed when the module is imported
PIPELINE_RUN = Owner("PipelineRun", "rel-1", "shop", "uid-pr")
OWNED = [PIPELINE_RUN.reference()]


def body(
    namespace: str = "shop", seal: str | None = None, owners: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    annotations = {stage_runs.STAGE_SEAL: seal} if seal is not None else {}
    meta = {"name": "rel-1-deploy", "namespace": namespace, "annotations": annotations, "ownerReferences": owners}
    return {"metadata": meta, "spec": {"pipelineRunRef": {"name": "rel-1", "namespace": "shop", "stage": "deploy"}}}


def seal_for(
    stage: str = "deploy", pipeline_run: str = "uid-pr", namespace: str = "shop", name: str = "rel-1-deploy"
) -> str:
    return seals.seal("stage", pipeline_run, stage, namespace, name)


SEAL = seal_for()


@pytest.mark.parametrize(
    ("run", "ours"),
    [
        pytest.param(body(seal=SEAL, owners=OWNED), True, id="sealed-and-owned"),
        pytest.param(body("prod", seal=seal_for(namespace="prod")), True, id="sealed-in-another-namespace"),
        pytest.param(body("prod", seal=SEAL), False, id="attack-seal-copied-from-another-namespace"),
        pytest.param(
            {**body("prod", seal=seal_for(namespace="prod")), "metadata": {**body("prod", seal=seal_for(namespace="prod"))["metadata"], "name": "copy"}},
            False,
            id="attack-seal-copied-onto-another-name",
        ),
        pytest.param(body(owners=OWNED), False, id="attack-owner-reference-without-seal"),
        pytest.param(body(seal=SEAL), False, id="sealed-but-not-owned-in-the-same-namespace"),
        pytest.param(body("prod"), False, id="attack-pre-created-in-another-namespace"),
        pytest.param(body("prod", seal=seal_for("build", namespace="prod")), False, id="attack-seal-of-another-stage"),
        pytest.param(body("prod", seal=seal_for(pipeline_run="uid-other", namespace="prod")), False, id="attack-seal-of-another-pipeline-run"),
        pytest.param(body("prod", seal="0" * 40), False, id="attack-forged-seal"),
    ],
)  # fmt: skip
def test_a_stage_run_is_ours_only_when_sealed_for_this_pipeline_run_and_stage(run: dict[str, Any], ours: bool) -> None:
    assert stage_runs.created_for(run, PIPELINE_RUN, "deploy") is ours


class FakeApi:
    def __init__(self, status: int | None = None) -> None:
        self.status = status
        self.created: list[dict[str, Any]] = []
        self.managers: list[str] = []

    async def create(
        self, group: str, version: str, namespace: str, plural: str, obj: dict[str, Any], field_manager: str
    ) -> Any:
        self.managers.append(field_manager)
        if self.status is not None:
            raise ApiException(status=self.status)
        self.created.append(obj)
        return {**obj, "metadata": {**obj["metadata"], "uid": "uid-new"}}

    create_namespaced_custom_object = create


@pytest.mark.parametrize(
    ("namespace", "status", "uid"),
    [
        pytest.param("shop", None, "uid-new", id="created-owned"),
        pytest.param("prod", None, "uid-new", id="created-in-another-namespace"),
        pytest.param("shop", 409, None, id="exists-already"),
    ],
)
async def test_the_created_run_is_sealed_and_its_uid_returned(
    monkeypatch: pytest.MonkeyPatch, namespace: str, status: int | None, uid: str | None
) -> None:
    fake = FakeApi(status)
    monkeypatch.setattr(stage_runs, "_custom", lambda: fake)
    manifest = body(namespace)
    del manifest["metadata"]["ownerReferences"]
    assert await stage_runs.ensure_stage_run(PIPELINE_RUN, CreateStageRun(manifest, owned=namespace == "shop")) == uid
    for created in fake.created:
        assert stage_runs.created_for(created, PIPELINE_RUN, "deploy")
    assert fake.managers == ["convoy"]
