"""Branch and tag filters of pipeline stages, with CircleCI's semantics."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.pipeline import Filters, Stage, TriggerContext
from convoy.planner.filters import matches, skips, verdict

MAIN_ONLY = {"branches": {"only": ["main"]}}
USER_BRANCHES = {"branches": {"only": ["dev", "/user-.*/"]}}
NOT_WIP = {"branches": {"ignore": ["/wip-.*/", "scratch"]}}
ALL_TAGS = {"tags": {"only": ["/.*/"]}}
RELEASE_TAGS_ONLY = {"tags": {"only": ["/^v\\d+\\.\\d+\\.\\d+$/"]}, "branches": {"ignore": ["/.*/"]}}
NO_TESTING_TAGS = {"tags": {"ignore": ["/^testing-.*/"]}}


@pytest.mark.parametrize(
    ("filters", "trigger", "runs"),
    [
        # branch pushes
        pytest.param(None, {"branch": "main"}, True, id="no-filter-branch"),
        pytest.param(MAIN_ONLY, {"branch": "main"}, True, id="only-exact-match"),
        pytest.param(MAIN_ONLY, {"branch": "mainline"}, False, id="only-exact-is-not-a-prefix"),
        pytest.param(USER_BRANCHES, {"branch": "user-ann"}, True, id="only-regex-match"),
        pytest.param(USER_BRANCHES, {"branch": "xuser-ann"}, False, id="only-regex-matches-whole-name"),
        pytest.param(USER_BRANCHES, {"branch": "dev"}, True, id="only-second-pattern"),
        pytest.param(NOT_WIP, {"branch": "wip-1"}, False, id="ignore-regex"),
        pytest.param(NOT_WIP, {"branch": "scratch"}, False, id="ignore-exact"),
        pytest.param(NOT_WIP, {"branch": "main"}, True, id="ignore-other"),
        pytest.param(ALL_TAGS, {"branch": "main"}, True, id="tags-filter-only-does-not-stop-branches"),
        pytest.param(RELEASE_TAGS_ONLY, {"branch": "main"}, False, id="branches-ignore-all"),
        pytest.param({"branches": {"only": ["/rel.*/"], "ignore": ["release-old"]}}, {"branch": "release-old"}, False, id="only-and-ignore"),
        # tag pushes
        pytest.param(None, {"tag": "v1.0.0"}, False, id="no-filter-tag-skips"),
        pytest.param(MAIN_ONLY, {"tag": "v1.0.0"}, False, id="branch-filter-only-tag-skips"),
        pytest.param(ALL_TAGS, {"tag": "v1.0.0"}, True, id="all-tags"),
        pytest.param(RELEASE_TAGS_ONLY, {"tag": "v1.0.0"}, True, id="release-tag"),
        pytest.param(RELEASE_TAGS_ONLY, {"tag": "v1.0.0-rc1"}, False, id="release-tag-pattern-whole-name"),
        pytest.param(NO_TESTING_TAGS, {"tag": "testing-3"}, False, id="tags-ignore"),
        pytest.param(NO_TESTING_TAGS, {"tag": "v2"}, True, id="tags-ignore-other"),
        pytest.param(ALL_TAGS, {"tag": "v1", "branch": "main"}, True, id="tag-wins-over-branch"),
        # started by hand
        pytest.param(None, {}, True, id="no-ref-no-filter"),
        pytest.param(MAIN_ONLY, {}, False, id="no-ref-only-filter"),
        pytest.param(NOT_WIP, {}, True, id="no-ref-ignore-filter"),
    ],
)  # fmt: skip
def test_verdict(filters: dict[str, Any] | None, trigger: dict[str, Any], runs: bool) -> None:
    parsed = Filters.model_validate(filters) if filters is not None else None
    result = verdict(parsed, TriggerContext.model_validate(trigger))
    assert result.runs is runs
    assert bool(result.reason) is not runs


@pytest.mark.parametrize(
    ("filters", "trigger", "reason"),
    [
        pytest.param(None, {"tag": "v1"}, "tag v1: a tag-triggered run skips stages without a tags filter", id="tag"),
        pytest.param(MAIN_ONLY, {"branch": "dev"}, "branch dev is not among only: main", id="only"),
        pytest.param(NOT_WIP, {"branch": "wip-2"}, "branch wip-2 is ignored (/wip-.*/)", id="ignore"),
        pytest.param(MAIN_ONLY, {}, "no branch given: the stage runs only on main", id="no-branch"),
    ],
)
def test_the_reason_names_the_ref_and_the_filter(
    filters: dict[str, Any] | None, trigger: dict[str, Any], reason: str
) -> None:
    parsed = Filters.model_validate(filters) if filters is not None else None
    assert verdict(parsed, TriggerContext.model_validate(trigger)).reason == reason


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        pytest.param("main", "main", True, id="exact"),
        pytest.param("/main/", "main", True, id="regex"),
        pytest.param("/", "/", True, id="a-lone-slash-is-a-name"),
        pytest.param("/ma/", "main", False, id="regex-is-anchored"),
        pytest.param("feature/x", "feature/x", True, id="slash-inside-is-a-name"),
    ],
)
def test_matches(pattern: str, name: str, matched: bool) -> None:
    assert matches(pattern, name) is matched


# A stage runs only after the stages it requires ran: skips propagate, transitively.

CONFIG_TEST = {"tags": {"only": ["/^config-test.*/"]}}
CONFIG_TEST_NO_BRANCHES = {"tags": {"only": ["/^config-test.*/"]}, "branches": {"ignore": ["/.*/"]}}
NO_TAGS = "a tag-triggered run skips stages without a tags filter"
RAN_FIRST = "a stage runs only after the stages it requires ran"


def stage(name: str, requires: list[str] | None = None, filters: dict[str, Any] | None = None) -> Stage:
    return Stage.model_validate(
        {"name": name, "approval": {}, "requires": requires or [], **({"filters": filters} if filters else {})}
    )


# The reference's build-n-deploy pipelines: deploy requires test, which has no tags filter (the second example of
# "Git Tag Job Execution"), and the one where every stage has a tags filter (the third).
TEST_WITHOUT_TAGS = [
    stage("build", [], CONFIG_TEST),
    stage("test", ["build"]),
    stage("deploy", ["test"], CONFIG_TEST_NO_BRANCHES),
]
ALL_TAGGED = [
    stage("build", [], CONFIG_TEST),
    stage("test", ["build"], CONFIG_TEST),
    stage("deploy", ["test"], CONFIG_TEST_NO_BRANCHES),
]
# a <- b (main only) <- c, and d requiring a and c: a skipped stage in the middle of a chain and of a fan-in
CHAIN = [stage("a"), stage("b", ["a"], {"branches": {"only": ["main"]}}), stage("c", ["b"]), stage("d", ["a", "c"])]


@pytest.mark.parametrize(
    ("stages", "trigger", "reused", "skipped"),
    [
        pytest.param(TEST_WITHOUT_TAGS, {"tag": "config-test-1"}, set(), {
            "test": f"tag config-test-1: {NO_TAGS}",
            "deploy": f"requires test, which was skipped (tag config-test-1: {NO_TAGS}); {RAN_FIRST}",
        }, id="reference-tag-test-has-no-tags-filter"),
        pytest.param(TEST_WITHOUT_TAGS, {"branch": "main"}, set(), {
            "deploy": "branch main is ignored (/.*/)",
        }, id="reference-branch-deploy-ignores-branches"),
        pytest.param(ALL_TAGGED, {"tag": "config-test-1"}, set(), {}, id="reference-tag-every-stage-tagged"),
        pytest.param(ALL_TAGGED, {"tag": "v1"}, set(), {
            "build": "tag v1 is not among only: /^config-test.*/",
            "test": "tag v1 is not among only: /^config-test.*/",
            "deploy": "tag v1 is not among only: /^config-test.*/",
        }, id="reference-tag-not-matched-own-reason-first"),
        pytest.param(CHAIN, {"branch": "main"}, set(), {}, id="chain-main"),
        pytest.param(CHAIN, {"branch": "dev"}, set(), {
            "b": "branch dev is not among only: main",
            "c": f"requires b, which was skipped (branch dev is not among only: main); {RAN_FIRST}",
            "d": f"requires c, which was skipped because b was (branch dev is not among only: main); {RAN_FIRST}",
        }, id="chain-transitive-names-the-root"),
        pytest.param(CHAIN, {"branch": "dev"}, {"b"}, {}, id="a-reused-stage-is-not-skipped"),
        pytest.param(CHAIN, {"branch": "dev"}, {"c"}, {
            "b": "branch dev is not among only: main",
        }, id="a-reused-stage-stops-the-skip"),
    ],
)  # fmt: skip
def test_skips(stages: list[Stage], trigger: dict[str, Any], reused: set[str], skipped: dict[str, str]) -> None:
    graph = {s.name: list(s.requires) for s in stages}
    assert skips(stages, graph, TriggerContext.model_validate(trigger), reused=reused) == skipped
