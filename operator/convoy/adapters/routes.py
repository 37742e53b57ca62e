"""Traffic routers: where a traffic-route canary sets its weights. One small interface, one implementation per
routing API — Gateway API HTTPRoute here; SMI, Istio or NGINX would be siblings.

Convoy manages the route's *main* rule (the first rule whose backends include the stable Service) and, when a
header match is configured, one rule of its own in front of it that always sends matching requests to the
canary. Every other rule and field of the route is left as git wrote it.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from kubernetes_asyncio import client

from convoy.adapters.kube import api, call, get_or_none
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
    """The route's spec with Convoy's rules set for `action`. Pure."""
    spec: dict[str, Any] = copy.deepcopy(route["spec"])
    rules = [r for r in spec.get("rules", []) if not _is_header_rule(r)]
    for rule in rules:
        refs = rule.get("backendRefs", [])
        if not any(ref.get("name") == action.stable_service for ref in refs):
            continue
        port = next(ref.get("port") for ref in refs if ref.get("name") == action.stable_service)
        others = [r for r in refs if r.get("name") not in (action.stable_service, action.canary_service)]
        rule["backendRefs"] = [
            {"name": action.stable_service, "port": port, "weight": 100 - action.canary_weight},
            {"name": action.canary_service, "port": port, "weight": action.canary_weight},
            *others,
        ]
        if action.header_match:
            header_rule = {
                "name": HEADER_RULE,
                "matches": [{"headers": [{"type": "Exact", "name": k, "value": v} for k, v in action.header_match]}],
                "backendRefs": [{"name": action.canary_service, "port": port, "weight": 1}],
            }
            rules.insert(rules.index(rule), header_rule)
        break
    spec["rules"] = rules
    return spec


class GatewayRouter:
    group, version, plural = "gateway.networking.k8s.io", "v1", "httproutes"

    async def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        custom = client.CustomObjectsApi(api())
        found: dict[str, Any] | None = await get_or_none(
            self.plural, custom.get_namespaced_custom_object(self.group, self.version, namespace, self.plural, name)
        )
        return found

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
        custom = client.CustomObjectsApi(api())
        await call(
            "patch",
            self.plural,
            custom.patch_namespaced_custom_object(
                self.group, self.version, action.namespace, self.plural, action.route, ops
            ),
        )


ROUTER: Router = GatewayRouter()
