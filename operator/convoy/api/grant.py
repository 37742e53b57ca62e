"""Grant: the referenced namespace's consent to be referred to from another namespace.

Shaped like Gateway API's ReferenceGrant (a `from` list of kinds and namespaces, a `to` list of kinds and
optional names, living in the namespace that is referred to), but a Convoy kind: a cluster without Gateway API's
CRDs can still grant, and its `to` kinds are Convoy's own references (a Workflow, a target Deployment, a context
Secret). A Grant is consent, not power: the change is still made as the referrer's ServiceAccount, so RBAC in
the referenced namespace must allow it too.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from convoy.api.common import ConvoyModel, ResourceName


class FromKind(StrEnum):
    WORKFLOW = "Workflow"
    WORKFLOW_RUN = "WorkflowRun"
    PIPELINE = "Pipeline"
    PIPELINE_RUN = "PipelineRun"


class ToKind(StrEnum):
    DEPLOYMENT = "Deployment"
    WORKFLOW = "Workflow"
    PIPELINE = "Pipeline"
    WORKFLOW_RUN = "WorkflowRun"
    SECRET = "Secret"
    CONFIG_MAP = "ConfigMap"


class GrantFrom(ConvoyModel):
    """Who may refer here: objects of a kind in a namespace."""

    kind: FromKind = Field(description="The kind of the object that refers here.")
    namespace: ResourceName = Field(description="The namespace it lives in.")


class GrantTo(ConvoyModel):
    """What they may refer to here: objects of a kind, or one of them by name."""

    kind: ToKind = Field(description="The kind of the object referred to, in this namespace.")
    name: ResourceName | None = Field(default=None, description="Only this object; empty: every object of the kind.")


class GrantSpec(ConvoyModel):
    """Objects of the `from` kinds in the `from` namespaces may refer to the `to` objects of this namespace."""

    from_: list[GrantFrom] = Field(alias="from", min_length=1, max_length=16)
    to: list[GrantTo] = Field(min_length=1, max_length=16)

    def permits(self, from_kind: str, from_namespace: str, to_kind: str, to_name: str) -> bool:
        """Whether this grant lets a `from_kind` in `from_namespace` refer to `to_kind` `to_name`. Pure."""
        source = any(f.kind.value == from_kind and f.namespace == from_namespace for f in self.from_)
        return source and any(t.kind.value == to_kind and t.name in (None, to_name) for t in self.to)
