"""A Build workflow's outputs are what its Job produced: the termination message its container wrote, read from
the Job's pod once it completed (on the dev cluster kwok writes the fake-termination-message annotation there).
Written given / when / then."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import Operator, Runs
from test_workflowruns import run, step_record, workflow

pytestmark = pytest.mark.e2e


def build(message: str, *outputs: str) -> dict[str, Any]:
    """A Build workflow whose one job step writes `message` to its termination message and declares `outputs`."""
    template = {
        "metadata": {"annotations": {"convoy.dev/fake-termination-message": message}},
        "spec": {"containers": [{"name": "builder", "image": "registry.example/tools/image-builder:1.0"}]},
    }
    return {
        "type": "Build",
        "phases": [
            {
                "name": "build",
                "steps": [{"name": "image", "job": {"template": template, "outputs": [{"name": o} for o in outputs]}}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("message", "outputs"),
    [
        pytest.param(
            json.dumps({"image": "registry.example/web:4f2c", "digest": "sha256:9b1d", "unused": "x"}),
            {"image": "registry.example/web:4f2c", "digest": "sha256:9b1d"},
            id="json",
        ),
        pytest.param(
            "image=registry.example/web:4f2c\ndigest=sha256:9b1d\n",
            {"image": "registry.example/web:4f2c", "digest": "sha256:9b1d"},
            id="key-value-lines",
        ),
    ],
)
def test_the_outputs_are_what_the_job_wrote(
    convoy: Operator, runs: Runs, message: str, outputs: dict[str, str]
) -> None:
    # given a Build workflow whose job writes its outputs to its termination message
    runs.apply(workflow("build", build(message, "image", "digest")))
    # when it runs
    runs.apply(run("build-1", "build"))
    status = runs.wait_phase("build-1", "Succeeded", "Failed", "Aborted", "RolledBack")
    # then the run publishes what the pod's container wrote, the declared outputs only
    assert status["phase"] == "Succeeded"
    assert status["outputs"] == outputs
    assert step_record(status, "image")["message"].endswith("produced image, digest")


def test_a_declared_output_the_job_did_not_write_fails_the_step(convoy: Operator, runs: Runs) -> None:
    # given a Build workflow whose job declares a digest but writes only the image
    runs.apply(workflow("build", build("image=registry.example/web:4f2c", "image", "digest")))
    # when it runs
    runs.apply(run("build-1", "build"))
    status = runs.wait_phase("build-1", "Succeeded", "Failed", "Aborted", "RolledBack")
    # then the job step fails, saying which output is missing and where outputs are written, and nothing is published
    assert status["phase"] == "RolledBack"  # the default failure strategy
    record = step_record(status, "image")
    assert record["error"] == "JobFailed"
    assert "without producing output digest" in record["message"]
    assert "/dev/termination-log" in record["message"]
    assert not status.get("outputs")
