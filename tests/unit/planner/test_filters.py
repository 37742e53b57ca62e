"""Branch and tag filters of pipeline stages, with CircleCI's semantics."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.api.pipeline import Filters, TriggerContext
from convoy.planner.filters import matches, verdict

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
