"""A traffic-route canary with a header match on an HTTPRoute whose rule matches a path: header traffic reaches the
canary only where the main rule would have taken it (its matches, its filters), never on other paths. Written
given / when / then."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from harness import Operator, Runs
from test_canary import canary_spec, paused_in, web10
from test_workflowruns import run, workflow

pytestmark = pytest.mark.e2e
__all__ = ["web10"]  # the fixture, used by name

HEADER_RULE = "convoy-canary-header"
API = {"path": {"type": "PathPrefix", "value": "/api"}}
ADD_HEADER = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x-via", "value": "gw"}]}}
STATIC: dict[str, Any] = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
    "backendRefs": [{"name": "cdn", "port": 80}],
}


def rules(runs: Runs) -> list[dict[str, Any]]:
    route: dict[str, Any] = runs.custom.api_client.sanitize_for_serialization(
        runs.custom.get_namespaced_custom_object("gateway.networking.k8s.io", "v1", runs.namespace, "httproutes", "web")
    )
    found: list[dict[str, Any]] = route["spec"]["rules"]
    return found


def main_weights(runs: Runs) -> dict[str, int]:
    """The backend weights of the rule for the stable Service (not the header rule)."""
    main = next(
        r for r in rules(runs) if r.get("name") != HEADER_RULE and any(b["name"] == "web" for b in r["backendRefs"])
    )
    return {ref["name"]: ref.get("weight", 1) for ref in main["backendRefs"]}


def test_header_traffic_keeps_the_main_rules_path_match_and_filters(convoy: Operator, runs: Runs, web10: None) -> None:
    # given an HTTPRoute whose rule for the stable Service matches /api and adds a header, beside a /static rule
    services = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}
        for name in ("web-canary", "cdn")
    ]
    main = {"matches": [API], "filters": [ADD_HEADER], "backendRefs": [{"name": "web", "port": 80}]}
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": "public"}], "rules": [STATIC, main]},
    }
    runs.apply(yaml.safe_dump_all([*services, route]))
    traffic = {
        "split": "TrafficRoute",
        "trafficRoute": {
            "httpRoute": "web",
            "stableService": "web",
            "canaryService": "web-canary",
            "headerMatch": [{"name": "x-canary", "value": "always"}],
        },
    }
    runs.apply(workflow("web", canary_spec(20, 100, canary=traffic)))
    # when a canary runs at 20%
    runs.apply(run("web-2", "web", {"version": "2.0"}))
    paused_in(runs, "web-2", "canary-20")
    # then the header rule sits in front of the main rule and matches /api with the header, with its filter
    seen = rules(runs)
    assert [r.get("name") for r in seen] == [None, HEADER_RULE, None]
    assert [m["path"] for m in seen[0]["matches"]] == [STATIC["matches"][0]["path"]], "the /static rule is untouched"
    header = seen[1]
    assert [m["path"] for m in header["matches"]] == [API["path"]]
    assert [(h["name"], h["value"]) for m in header["matches"] for h in m["headers"]] == [("x-canary", "always")]
    assert header["filters"] == [ADD_HEADER]
    assert [ref["name"] for ref in header["backendRefs"]] == ["web-canary"]
    assert [m["path"] for m in seen[2]["matches"]] == [API["path"]], "the main rule keeps its match"
    assert seen[2]["filters"] == [ADD_HEADER]
    assert main_weights(runs) == {"web": 80, "web-canary": 20}
    # when it is promoted, the header rule goes and the route is as git wrote it, weights aside
    runs.decide("web-2", {"action": "Resume"})
    assert runs.wait_phase("web-2", "Succeeded", "Failed", "RolledBack", "Aborted", timeout=90)["phase"] == "Succeeded"
    assert [r.get("name") for r in rules(runs)] == [None, None]
    assert main_weights(runs) == {"web": 100, "web-canary": 0}
