"""Cross-namespace references: followed only when a Grant in the referenced namespace permits them.

Read when a reference is first followed (a run starting, a stage being created), never on every reconcile: the
run then freezes what it resolved, and every later change is still made as the tenant's ServiceAccount, so a
revoked RoleBinding stops it even when the Grant is gone too late.
"""

from __future__ import annotations

from pydantic import ValidationError

from convoy.adapters import resources
from convoy.api.grant import GrantSpec


async def refusal(from_kind: str, from_namespace: str, to_kind: str, to_namespace: str, to_name: str) -> str | None:
    """None when `from_kind` in `from_namespace` may refer to `to_kind` `to_namespace/to_name`; else why not."""
    if from_namespace == to_namespace:
        return None
    for body in await resources.list_all("grants", to_namespace):
        try:
            grant = GrantSpec.model_validate(body.get("spec") or {})
        except ValidationError:
            continue  # the webhook refuses invalid Grants; one written around it grants nothing
        if grant.permits(from_kind, from_namespace, to_kind, to_name):
            return None
    return (
        f"{to_kind} {to_namespace}/{to_name} is in another namespace, and no Grant in namespace {to_namespace} lets "
        f"a {from_kind} of namespace {from_namespace} refer to it: ask that namespace's owners for a Grant "
        f"(docs/security.md), or use an object of namespace {from_namespace}"
    )
