"""Stage runs carry a seal over their PipelineRun's uid and stage: a WorkflowRun someone else created under the
stage run's name (owner reference included) is never taken for the PipelineRun's own."""

from __future__ import annotations

from typing import Any

import pytest
from sealing import use_key

from convoy.adapters import seals, stage_runs
from convoy.adapters.owner import Owner
from convoy.planner.stages import CreateStageRun

from .fake_api import FakeApiServer, Sent, fake_api

__all__ = ["fake_api"]  # the fixture, imported for pytest

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


@pytest.mark.parametrize(
    ("namespace", "code", "uid"),
    [
        pytest.param("shop", 201, "uid-new", id="created-owned"),
        pytest.param("prod", 201, "uid-new", id="created-in-another-namespace"),
        pytest.param("shop", 409, None, id="exists-already"),
    ],
)
async def test_the_created_run_is_sealed_and_its_uid_returned(
    fake_api: FakeApiServer, namespace: str, code: int, uid: str | None
) -> None:
    def create(sent: Sent) -> tuple[int, Any]:
        return code, {**sent.body, "metadata": {**sent.body["metadata"], "uid": "uid-new"}}

    fake_api.on("POST", f"/apis/convoy.dev/v1alpha1/namespaces/{namespace}/workflowruns", create)
    manifest = body(namespace)
    del manifest["metadata"]["ownerReferences"]
    assert await stage_runs.ensure_stage_run(PIPELINE_RUN, CreateStageRun(manifest, owned=namespace == "shop")) == uid
    (sent,) = fake_api.sent
    assert stage_runs.created_for(sent.body, PIPELINE_RUN, "deploy")
    assert sent.params == {"fieldManager": "convoy"}
