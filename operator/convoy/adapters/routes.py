"""Traffic routers: where a traffic-route canary sets its weights. One small interface, one implementation per
routing API — Gateway API HTTPRoute here; SMI, Istio or NGINX would be siblings.

Convoy manages the route's *main* rule (the first rule whose backends include the stable Service) and, when a
header match is configured, one rule of its own in front of it that always sends matching requests to the
canary. The header rule is the main rule narrowed by the header: each of the main rule's matches (path, method,
query parameters, headers) with the canary's headers added, and the main rule's filters and other settings, so a
request with the header reaches the canary only where it would have reached the stable Service. Every other rule
and field of the route is left as git wrote it.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from convoy.adapters.kube import get_or_none, path, request
from convoy.planner.actions import SetRouteWeights
from convoy.planner.observed import Route

HEADER_RULE = "convoy-canary-header"


class Router(Protocol):
    async def observe(self, namespace: str, route: str, stable: str, canary: str) -> Route | None: ...

    async def set_weights(self, action: SetRouteWeights) -> None: ...


def _is_header_rule(rule: dict[str, Any]) -> bool:
    return rule.get("name") == HEADER_RULE


def main_rule(route: dict[str, Any], stable: str) -> dict[str, Any] | None:
    for rule in route.get("spec", {}).get("rules", []):
        if not _is_header_rule(rule) and any(ref.get("name") == stable for ref in rule.get("backendRefs", [])):
            return dict(rule)
    return None


def weights(route: dict[str, Any], stable: str, canary: str) -> Route:
    rule = main_rule(route, stable) or {}
    seen = {ref["name"]: int(ref.get("weight", 1)) for ref in rule.get("backendRefs", []) if ref.get("name")}
    return Route(weights={name: seen.get(name, 0) for name in (stable, canary)})


def with_weights(route: dict[str, Any], action: SetRouteWeights) -> dict[str, Any]:
    """The route's spec with Convoy's rules set for `action`. Pure.

    The stable backend keeps whatever git set on it (port, filters) but its weight; the canary backend is a copy
    of it for the canary Service."""
    spec: dict[str, Any] = copy.deepcopy(route["spec"])
    rules = [r for r in spec.get("rules", []) if not _is_header_rule(r)]
    for rule in rules:
        refs = rule.get("backendRefs", [])
        stable = next((ref for ref in refs if ref.get("name") == action.stable_service), None)
        if stable is None:
            continue
        others = [r for r in refs if r.get("name") not in (action.stable_service, action.canary_service)]
        canary = {**stable, "name": action.canary_service}
        rule["backendRefs"] = [
            {**stable, "weight": 100 - action.canary_weight},
            {**canary, "weight": action.canary_weight},
            *others,
        ]
        if action.header_match:
            rules.insert(rules.index(rule), header_rule(rule, action.header_match, canary))
        break
    spec["rules"] = rules
    return spec


def header_rule(main: dict[str, Any], headers: tuple[tuple[str, str], ...], canary: dict[str, Any]) -> dict[str, Any]:
    """Convoy's header rule: the main rule's matches, each with the canary's headers added (a header of the same
    name in a match is replaced: Gateway API allows one per name), its filters and other settings, and the
    canary as its only backend. A main rule without matches matches every path: so does the header rule. Pure.

        main matches [{path: /api}], header X-Canary: always
            -> [{path: /api, headers: [X-Canary = always]}]
    """
    wanted = [{"type": "Exact", "name": name, "value": value} for name, value in headers]
    names = {name.lower() for name, _ in headers}
    matches = []
    for match in main.get("matches") or [{}]:
        kept = [h for h in match.get("headers") or [] if str(h.get("name", "")).lower() not in names]
        matches.append({**match, "headers": [*kept, *wanted]})
    settings = {k: v for k, v in main.items() if k not in ("name", "matches", "backendRefs")}
    return {
        "name": HEADER_RULE,
        **copy.deepcopy(settings),
        "matches": matches,
        "backendRefs": [{**canary, "weight": 1}],
    }


class GatewayRouter:
    api_version, plural = "gateway.networking.k8s.io/v1", "httproutes"

    async def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await get_or_none(self.plural, path(self.api_version, self.plural, namespace, name))

    async def observe(self, namespace: str, route: str, stable: str, canary: str) -> Route | None:
        found = await self._read(namespace, route)
        return None if found is None else weights(found, stable, canary)

    async def set_weights(self, action: SetRouteWeights) -> None:
        found = await self._read(action.namespace, action.route)
        if found is None:
            return
        spec = with_weights(found, action)
        if spec == found["spec"]:
            return
        ops = [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": found["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/rules", "value": spec["rules"]},
        ]
        url = path(self.api_version, self.plural, action.namespace, action.route)
        await request("patch", self.plural, "PATCH", url, body=ops, patch="json")


ROUTER: Router = GatewayRouter()
