"""Arguments as kubectl users type them: global flags before or after the verb, run references, usage errors."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.cli.errors import USAGE, UsageError
from convoy.cli.follow import parse_timeout
from convoy.cli.main import parser
from convoy.cli.refs import PIPELINE_RUNS, WORKFLOW_RUNS, RunRef, parse_run
from convoy.cli.run import variables

from .fake import FakeCluster, invoke


@pytest.mark.parametrize(
    ("argv", "namespace", "kubeconfig", "as_user"),
    [
        pytest.param(["-n", "shop", "list"], "shop", None, None, id="before-the-verb"),
        pytest.param(["list", "-n", "shop"], "shop", None, None, id="after-the-verb"),
        pytest.param(["--kubeconfig", "k", "list", "--as", "bob"], None, "k", "bob", id="split"),
        pytest.param(["-n", "a", "list", "--namespace", "b"], "b", None, None, id="after-wins"),
        pytest.param(["list"], None, None, None, id="none"),
    ],
)
def test_global_flags(argv: list[str], namespace: str | None, kubeconfig: str | None, as_user: str | None) -> None:
    args = parser().parse_args(argv)
    assert (args.namespace, args.kubeconfig, args.as_user) == (namespace, kubeconfig, as_user)


@pytest.mark.parametrize(
    ("text", "kind", "ref"),
    [
        pytest.param("web-1", None, RunRef("web-1"), id="bare"),
        pytest.param("wfr/web-1", None, RunRef("web-1", WORKFLOW_RUNS), id="wfr-slash"),
        pytest.param("plr/release-7", None, RunRef("release-7", PIPELINE_RUNS), id="plr-slash"),
        pytest.param("web-1", "workflowrun", RunRef("web-1", WORKFLOW_RUNS), id="type-word"),
        pytest.param("release-7", "PipelineRun", RunRef("release-7", PIPELINE_RUNS), id="type-word-any-case"),
    ],
)
def test_run_references(text: str, kind: str | None, ref: RunRef) -> None:
    assert parse_run(text, kind) == ref


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        pytest.param("deploy/web", None, id="not-a-run-type"),
        pytest.param("wfr/", None, id="no-name"),
        pytest.param("wfr/web", "wfr", id="type-twice"),
    ],
)
def test_bad_run_references(text: str, kind: str | None) -> None:
    with pytest.raises(UsageError):
        parse_run(text, kind)


def test_set_values() -> None:
    assert variables(["version=2.0", "note=a=b", "version=2.1", "empty="]) == {
        "version": "2.1",
        "note": "a=b",
        "empty": "",
    }


def test_timeouts() -> None:
    assert parse_timeout("30m") == 1800
    assert parse_timeout("1h30m") == 5400
    with pytest.raises(UsageError):
        parse_timeout("soon")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["pause", "web-1"], id="no-pause-verb"),
        pytest.param(["get"], id="get-without-target"),
        pytest.param(["get", "wfr"], id="get-type-without-name"),
        pytest.param(["run", "web", "--set", "version"], id="set-without-value"),
        pytest.param(["run", "web", "--wait", "--timeout", "soon"], id="bad-timeout"),
        pytest.param(["approve", "web-1", "--step", "a", "--stage", "b"], id="step-and-stage"),
        pytest.param(["list", "-o", "table"], id="unknown-output"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], capsys: Any) -> None:
    result = invoke(FakeCluster(), argv, capsys)
    assert result.code == USAGE
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
