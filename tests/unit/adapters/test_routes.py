"""The Gateway API router: the main rule's weights, and the header rule that narrows the main rule by a header."""

from __future__ import annotations

from typing import Any

import pytest

from convoy.adapters.routes import HEADER_RULE, header_rule, weights, with_weights
from convoy.planner.actions import SetRouteWeights

STABLE = {"name": "web", "port": 80}
API = {"path": {"type": "PathPrefix", "value": "/api"}}
X_CANARY = {"type": "Exact", "name": "x-canary", "value": "always"}


def route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "resourceVersion": "7"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": list(rules)},
    }


def action(weight: int, *headers: tuple[str, str]) -> SetRouteWeights:
    return SetRouteWeights("shop", "web", "web", "web-canary", weight, headers)


@pytest.mark.parametrize(
    ("main", "matches"),
    [
        pytest.param({}, [{"headers": [X_CANARY]}], id="no-matches-every-path"),
        pytest.param({"matches": [API]}, [{**API, "headers": [X_CANARY]}], id="path-match-kept"),
        pytest.param(
            {"matches": [API, {"path": {"type": "Exact", "value": "/login"}, "method": "POST"}]},
            [{**API, "headers": [X_CANARY]}, {"path": {"type": "Exact", "value": "/login"}, "method": "POST", "headers": [X_CANARY]}],
            id="each-match-narrowed",
        ),
        pytest.param(
            {"matches": [{**API, "headers": [{"type": "Exact", "name": "x-tenant", "value": "a"}]}]},
            [{**API, "headers": [{"type": "Exact", "name": "x-tenant", "value": "a"}, X_CANARY]}],
            id="own-headers-and-the-canarys",
        ),
        pytest.param(
            {"matches": [{**API, "headers": [{"type": "Exact", "name": "X-Canary", "value": "never"}]}]},
            [{**API, "headers": [X_CANARY]}],
            id="same-header-name-replaced",
        ),
        pytest.param(
            {"matches": [{**API, "queryParams": [{"type": "Exact", "name": "beta", "value": "1"}]}]},
            [{**API, "queryParams": [{"type": "Exact", "name": "beta", "value": "1"}], "headers": [X_CANARY]}],
            id="query-params-kept",
        ),
    ],
)  # fmt: skip
def test_the_header_rule_is_the_main_rule_narrowed_by_the_header(main: dict[str, Any], matches: list[Any]) -> None:
    rule = header_rule({**main, "backendRefs": [STABLE]}, (("x-canary", "always"),), {"name": "web-canary", "port": 80})

    assert rule["name"] == HEADER_RULE
    assert rule["matches"] == matches
    assert rule["backendRefs"] == [{"name": "web-canary", "port": 80, "weight": 1}]


def test_the_header_rule_keeps_the_main_rules_filters_and_settings() -> None:
    rewrite: dict[str, Any] = {
        "type": "URLRewrite",
        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
    }
    main: dict[str, Any] = {
        "name": "main",
        "matches": [API],
        "filters": [rewrite],
        "timeouts": {"request": "5s"},
        "backendRefs": [STABLE],
    }

    rule = header_rule(main, (("x-canary", "always"),), {**STABLE, "name": "web-canary"})

    assert rule["filters"] == [rewrite]
    assert rule["timeouts"] == {"request": "5s"}
    assert rule["name"] == HEADER_RULE, "not the main rule's name"
    rewrite["type"] = "changed"
    assert rule["filters"][0]["type"] == "URLRewrite", "a copy, not shared with the main rule"


def test_weights_go_to_the_main_rule_and_the_header_rule_in_front_of_it() -> None:
    other = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
        "backendRefs": [{"name": "cdn", "port": 80}],
    }
    main = {"matches": [API], "backendRefs": [{**STABLE, "filters": [{"type": "RequestHeaderModifier"}]}]}

    spec = with_weights(route(other, main), action(20, ("x-canary", "always")))

    assert [r.get("name") for r in spec["rules"]] == [None, HEADER_RULE, None]
    assert spec["rules"][0] == other, "rules that are not the main rule stay as git wrote them"
    assert spec["rules"][1]["matches"] == [{**API, "headers": [X_CANARY]}]
    stable, canary = spec["rules"][2]["backendRefs"]
    assert stable == {**STABLE, "filters": [{"type": "RequestHeaderModifier"}], "weight": 80}
    assert canary == {"name": "web-canary", "port": 80, "filters": [{"type": "RequestHeaderModifier"}], "weight": 20}
    assert spec["rules"][2]["matches"] == [API]


@pytest.mark.parametrize(
    ("headers", "rules"),
    [
        pytest.param((), 1, id="no-header-no-header-rule"),
        pytest.param((("x-canary", "always"),), 2, id="header-rule"),
    ],
)
def test_setting_weights_twice_changes_nothing(headers: tuple[tuple[str, str], ...], rules: int) -> None:
    first = with_weights(route({"matches": [API], "backendRefs": [STABLE]}), action(30, *headers))
    again = with_weights({"spec": first}, action(30, *headers))

    assert again == first
    assert len(first["rules"]) == rules
    assert weights({"spec": first}, "web", "web-canary").weights == {"web": 70, "web-canary": 30}


def test_back_to_zero_removes_the_header_rule() -> None:
    canaried = with_weights(route({"matches": [API], "backendRefs": [STABLE]}), action(30, ("x-canary", "always")))

    back = with_weights({"spec": canaried}, action(0))

    assert [r.get("name") for r in back["rules"]] == [None]
    assert weights({"spec": back}, "web", "web-canary").weights == {"web": 100, "web-canary": 0}
