"""A Job's outputs: the termination messages of its succeeded pod's containers, read from the pods' status."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters.jobs import termination_messages


def pod(job: str, phase: str, created: str, uid: str = "", **messages: str) -> dict[str, Any]:
    """A pod of `job` (uid `uid-<job>` unless given) whose containers (in spec order) terminated with `messages`."""
    owner = {"kind": "Job", "name": job, "uid": uid or f"uid-{job}"}
    return {
        "metadata": {"ownerReferences": [owner], "creationTimestamp": created},
        "spec": {"containers": [{"name": name} for name in messages]},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": name, "state": {"terminated": {"exitCode": 0, "message": text}}}
                for name, text in reversed(messages.items())  # the kubelet's order is not the spec's
            ],
        },
    }


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param([pod("build-1", "Succeeded", "t1", builder="image=a")], {"build-1": ("image=a",)}, id="one"),
        pytest.param(
            [pod("build-1", "Succeeded", "t1", builder="image=a", sidecar='{"digest": "d"}')],
            {"build-1": ("image=a", '{"digest": "d"}')},
            id="containers-in-spec-order",
        ),
        pytest.param(
            [pod("build-1", "Failed", "t1", builder="fake exit code 1"), pod("build-1", "Succeeded", "t2", builder="image=b")],
            {"build-1": ("image=b",)},
            id="a-retried-job-the-succeeded-pod",
        ),
        pytest.param(
            [pod("build-1", "Succeeded", "t1", builder="image=a"), pod("build-1", "Succeeded", "t2", builder="image=b")],
            {"build-1": ("image=b",)},
            id="the-newest-succeeded-pod",
        ),
        pytest.param([pod("build-1", "Running", "t1", builder="")], {}, id="not-done"),
        pytest.param(
            [{**pod("x", "Succeeded", "t1", builder="image=a"), "metadata": {"ownerReferences": []}}], {}, id="no-job"
        ),
        pytest.param(
            [{**pod("build-1", "Succeeded", "t1", builder="x"), "status": {"phase": "Succeeded"}}],
            {"build-1": ("",)},
            id="no-container-statuses",
        ),
        pytest.param(
            [pod("build-1", "Succeeded", "t9", uid="planted", builder="image=evil")], {}, id="a-job-of-that-name-not-ours"
        ),
    ],
)  # fmt: skip
def test_termination_messages(pods: list[dict[str, Any]], expected: dict[str, tuple[str, ...]]) -> None:
    assert termination_messages(pods, {"build-1": "uid-build-1", "x": "uid-x"}) == expected
