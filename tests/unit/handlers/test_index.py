"""The run index behind the Queue policy: which runs a run waits for, and which runs share its targets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from convoy.handlers.admission import ADMITTED_AT, ADMITTED_AT_SEAL, stamp_patch
from convoy.handlers.index import RunIndex


def run(
    name: str,
    *,
    namespace: str = "shop",
    created: str = "2026-01-01T10:00:00Z",
    targets: list[str] | None = None,
    started: bool = False,
    finished: bool = False,
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if targets is not None:
        status["targets"] = targets
    if started:
        status["startedAt"] = created
    if finished:
        status["result"] = "Succeeded"
    meta = {"name": name, "namespace": namespace, "creationTimestamp": created}
    return {"metadata": meta, "spec": {}, "status": status}


EARLY, LATE = "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"
WEB = "shop/web"


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        pytest.param([run("a", created=EARLY, targets=[WEB])], ("shop/a",), id="earlier-run-same-target"),
        pytest.param([run("a", created=EARLY, targets=["shop/api"])], (), id="earlier-run-other-target"),
        pytest.param(
            [run("a", namespace="other", created=EARLY, targets=["other/web"])],
            (),
            id="same-name-other-namespace",
        ),
        pytest.param([run("a", created=EARLY)], (), id="earlier-run-targets-unknown-blocks-nothing"),
        pytest.param([run("a", created=EARLY, targets=[WEB], finished=True)], (), id="earlier-run-finished"),
        pytest.param([run("z", created=LATE, targets=[WEB])], (), id="later-run-not-started"),
        pytest.param([run("z", created=LATE, targets=[WEB], started=True)], ("shop/z",), id="later-run-started"),
        pytest.param(
            [run("z", created=LATE, targets=[WEB], started=True, finished=True)], (), id="later-run-started-finished"
        ),
        pytest.param(
            [run("b", created=EARLY, targets=[WEB]), run("a", created=EARLY, targets=["shop/api", WEB])],
            ("shop/a", "shop/b"),
            id="several-in-creation-order",
        ),
        pytest.param(
            [
                run("a", created="2026-01-01T09:00:00Z", targets=[WEB]),
                run("z", created=LATE, targets=[WEB], started=True),
            ],
            ("shop/a", "shop/z"),
            id="earlier-and-started-later",
        ),
    ],
)
def test_a_run_waits_for(others: list[dict[str, Any]], expected: tuple[str, ...]) -> None:
    index = RunIndex()
    for other in others:
        index.observe(other)
    index.observe(run("me", created="2026-01-01T10:01:00Z"))
    index.set_targets("shop", "me", [WEB])
    assert index.ahead_of("shop", "me", [WEB]) == expected


def test_a_run_never_waits_for_itself_even_once_started() -> None:
    index = RunIndex()
    index.observe(run("me", targets=[WEB], started=True))
    assert index.ahead_of("shop", "me", [WEB]) == ()


def test_an_unknown_run_waits_for_nothing() -> None:
    index = RunIndex()
    index.observe(run("a", targets=[WEB], started=True))
    assert index.ahead_of("shop", "unknown", [WEB]) == ()


def test_a_run_waits_once_its_targets_become_known() -> None:
    index = RunIndex()
    index.observe(run("a", created=EARLY))
    index.observe(run("b", created=LATE, targets=[WEB]))
    assert index.ahead_of("shop", "b", [WEB]) == ()
    index.set_targets("shop", "a", [WEB])
    assert index.ahead_of("shop", "b", [WEB]) == ("shop/a",)


def test_known_targets_are_kept_when_a_later_event_has_none() -> None:
    index = RunIndex()
    index.observe(run("a", created=EARLY))
    index.set_targets("shop", "a", [WEB])
    index.observe(run("a", created=EARLY))
    index.observe(run("b", created=LATE))
    assert index.ahead_of("shop", "b", [WEB]) == ("shop/a",)


@pytest.mark.parametrize(
    ("entry", "shares"),
    [
        pytest.param(run("a", targets=[WEB]), True, id="same-target"),
        pytest.param(run("a", targets=["shop/api", WEB]), True, id="one-of-its-targets"),
        pytest.param(run("a", targets=["shop/api"]), False, id="other-target"),
        pytest.param(run("a", namespace="team-a", targets=["team-a/web"]), False, id="same-name-other-namespace"),
        pytest.param(run("a"), False, id="targets-unknown"),
        pytest.param(run("a", targets=[]), False, id="no-targets"),
        pytest.param(run("a", targets=[WEB], finished=True), False, id="finished"),
    ],
)
def test_runs_sharing_a_target(entry: dict[str, Any], shares: bool) -> None:
    index = RunIndex()
    index.observe(entry)
    meta = entry["metadata"]
    assert index.sharing([WEB]) == ([(meta["namespace"], meta["name"])] if shares else [])


def test_a_removed_run_blocks_nothing() -> None:
    index = RunIndex()
    index.observe(run("a", created=EARLY, targets=[WEB], started=True))
    index.observe(run("b", created=LATE, targets=[WEB]))
    index.remove("shop", "a")
    assert index.ahead_of("shop", "b", [WEB]) == ()
    assert index.sharing([WEB]) == [("shop", "b")]


# Creation order within one second: the sealed admission stamp (issue: c, b, a created in one second queued a, b, c)

SECOND = "2026-01-01T10:01:00Z"


def admitted_run(name: str, microsecond: int, created: str = SECOND, **extra: Any) -> dict[str, Any]:
    """A run of WEB as stored after the mutating webhook stamped it, `microsecond` into 10:01:00."""
    body = run(name, created=created, targets=[WEB], **extra)
    at = datetime(2026, 1, 1, 10, 1, 0, microsecond, tzinfo=UTC)
    body["metadata"]["annotations"] = stamp_patch("WorkflowRun", body, None, {"username": "ci"}, at)["metadata"][
        "annotations"
    ]
    return body


def forged(body: dict[str, Any], **annotations: str) -> dict[str, Any]:
    body["metadata"]["annotations"].update(annotations)
    return body


def copied_stamp(body: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """`body` carrying the admission stamp and seal of another run."""
    keys = (ADMITTED_AT, ADMITTED_AT_SEAL)
    return forged(body, **{k: source["metadata"]["annotations"][k] for k in keys})


@pytest.mark.parametrize(
    ("bodies", "order"),  # the runs, as stored, in the order the watch delivers them
    [
        pytest.param(
            lambda: [admitted_run("c", 100), admitted_run("b", 200), admitted_run("a", 300)], ["c", "b", "a"],
            id="same-second-by-admission-not-by-name",
        ),
        pytest.param(
            lambda: [admitted_run("a", 300), admitted_run("b", 200), admitted_run("c", 100)], ["c", "b", "a"],
            id="seen-in-any-order",
        ),
        pytest.param(
            lambda: [run("c", created=SECOND, targets=[WEB]), run("b", created=SECOND, targets=[WEB])], ["b", "c"],
            id="no-stamps-falls-back-to-name",
        ),
        pytest.param(
            lambda: [admitted_run("c", 100, created=LATE), admitted_run("b", 900)], ["b", "c"],
            id="the-second-the-api-server-recorded-comes-first",
        ),
        pytest.param(
            lambda: [admitted_run("c", 500), forged(admitted_run("a", 100), **{ADMITTED_AT: "2026-01-01T10:00:59.000000000Z"})],
            ["c", "a"], id="a-stamp-edited-to-jump-the-queue-loses-its-place",
        ),
        pytest.param(
            lambda: [admitted_run("c", 500), forged(admitted_run("a", 100), **{ADMITTED_AT_SEAL: "0" * 40})], ["c", "a"],
            id="a-forged-seal-counts-as-none",
        ),
        pytest.param(
            lambda: [admitted_run("c", 500), copied_stamp(admitted_run("a", 900), admitted_run("b", 100))], ["c", "a"],
            id="a-stamp-copied-from-another-run-counts-as-none",
        ),
        pytest.param(
            lambda: [admitted_run("c", 500), run("a", created=SECOND, targets=[WEB])], ["c", "a"],
            id="an-unstamped-run-queues-after-the-stamped-ones-of-its-second",
        ),
    ],
)  # fmt: skip
def test_runs_created_in_one_second_queue_in_admission_order(
    bodies: Callable[[], list[dict[str, Any]]], order: list[str]
) -> None:
    index = RunIndex()
    index.observe(run("first", created=EARLY, targets=[WEB], started=True))
    for body in bodies():  # built once the seal key is loaded
        index.observe(body)
    positions = {name: len(index.ahead_of("shop", name, [WEB])) for name in order}
    assert positions == {name: place for place, name in enumerate(order, start=1)}
    assert index.ahead_of("shop", order[-1], [WEB]) == ("shop/first", *(f"shop/{name}" for name in order[:-1]))


def minute(m: int) -> str:
    return f"2026-01-01T10:{m:02d}:00Z"


def slots(*bodies: dict[str, Any]) -> RunIndex:
    index = RunIndex()
    for body in bodies:
        index.observe(body)
    return index


@pytest.mark.parametrize(
    ("bodies", "me", "limit", "per_namespace", "position"),
    [
        pytest.param([run("me", created=minute(1))], "me", 0, 0, None, id="no-limit"),
        pytest.param(
            [run("a", created=minute(0), targets=["shop/a"], started=True), run("me", created=minute(1))],
            "me",
            2,
            0,
            None,
            id="a-free-slot",
        ),
        pytest.param(
            [run("a", created=minute(0), targets=["shop/a"], started=True), run("me", created=minute(1))],
            "me",
            1,
            0,
            1,
            id="cluster-limit-reached-first-in-line",
        ),
        pytest.param(
            [
                run("a", created=minute(0), targets=["shop/a"], started=True),
                run("b", created=minute(1), targets=["shop/b"]),
                run("me", created=minute(2)),
            ],
            "me",
            2,
            0,
            1,
            id="an-earlier-waiting-run-takes-the-free-slot",
        ),
        pytest.param(
            [
                run("a", created=minute(0), targets=["shop/a"], started=True),
                run("b", created=minute(1), targets=["shop/a"]),
                run("me", created=minute(2), targets=["shop/c"]),
            ],
            "me",
            2,
            0,
            None,
            id="a-run-queued-on-its-target-takes-no-slot",
        ),
        pytest.param(
            [
                run("a", created=minute(0), targets=["shop/a"], started=True, finished=True),
                run("me", created=minute(1)),
            ],
            "me",
            1,
            0,
            None,
            id="finished-runs-free-their-slot",
        ),
        pytest.param(
            [
                run("a", namespace="other", created=minute(0), targets=["other/a"], started=True),
                run("me", created=minute(1)),
            ],
            "me",
            0,
            1,
            None,
            id="per-namespace-counts-only-its-namespace",
        ),
        pytest.param(
            [
                run("a", created=minute(0), targets=["shop/a"], started=True),
                run("b", created=minute(1)),
                run("me", created=minute(2)),
            ],
            "me",
            5,
            1,
            2,
            id="per-namespace-limit-position",
        ),
        pytest.param(
            [run("me", created=minute(0), targets=["shop/a"], started=True)], "me", 1, 1, None, id="started-runs-run"
        ),
    ],
)
def test_the_limit_on_progressing_runs(
    bodies: list[dict[str, Any]], me: str, limit: int, per_namespace: int, position: int | None
) -> None:
    wait = slots(*bodies).slot_wait("shop", me, limit=limit, per_namespace=per_namespace)
    assert (wait.position if wait else None) == position
    if wait is not None:
        assert "waiting for a slot" in wait.reason


def test_runs_waiting_for_a_slot_are_woken_when_one_ends() -> None:
    waiting = run("w", created=minute(1))
    waiting["status"] = {"phase": "Queued", "queueReason": "ProgressLimit", "queuePosition": 1}
    queued = run("q", created=minute(1))
    queued["status"] = {"phase": "Queued", "queueReason": "Target", "queuePosition": 1}
    assert slots(waiting, queued).waiting_for_slots() == [("shop", "w")]


def test_a_removed_run_says_what_was_known_of_it() -> None:
    index = slots(run("a", targets=[WEB]))
    gone = index.remove("shop", "a")
    assert gone is not None and gone.targets == [WEB]
    assert index.remove("shop", "a") is None


@pytest.mark.parametrize(
    ("exclusive", "second"),
    [
        pytest.param(True, ("shop/a",), id="queue-policy-the-second-waits"),
        pytest.param(False, (), id="allow-policy-both-start"),
    ],
)
def test_of_two_runs_planned_at_once_only_the_first_to_claim_starts(exclusive: bool, second: tuple[str, ...]) -> None:
    # given two runs of one target, neither started, their targets not yet known to each other
    index = RunIndex()
    index.observe(run("a", created=LATE))
    index.observe(run("b", created=EARLY))
    assert index.ahead_of("shop", "a", [WEB]) == index.ahead_of("shop", "b", [WEB]) == ()
    # when both were planned to start, and a claims the target first
    first = index.claim("shop", "a", [WEB], exclusive=exclusive)
    # then a starts, and b waits for it (unless the workflow allows runs side by side)
    assert first == ()
    assert index.claim("shop", "b", [WEB], exclusive=exclusive) == second


def test_an_older_event_of_a_claimed_run_does_not_unstart_it() -> None:
    index = RunIndex()
    index.observe(run("a"))
    assert index.claim("shop", "a", [WEB]) == ()
    index.observe(run("a"))  # the watch brings the version from before its status write
    index.observe(run("b", created=LATE, targets=[WEB]))
    assert index.ahead_of("shop", "b", [WEB]) == ("shop/a",)
