"""Building blocks shared by every Convoy resource: the base model, constrained strings, conditions.

Every model forbids unknown fields and speaks camelCase on the wire, so a typo in a manifest is an error that
names the field instead of a silently ignored key.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

GROUP = "convoy.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class ConvoyModel(BaseModel):
    """Base of every spec and status model: strict about unknown fields, camelCase aliases, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNSLabel = Annotated[
    str,
    StringConstraints(pattern=DNS_LABEL, max_length=63),
    Field(description="A DNS-1123 label: lower-case letters, digits and '-', at most 63 characters."),
]
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ResourceName = Annotated[
    str,
    StringConstraints(pattern=DNS_SUBDOMAIN, max_length=253),
    Field(description="The name of a Kubernetes object (DNS-1123 subdomain)."),
]
VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
VariableName = Annotated[
    str,
    StringConstraints(pattern=VARIABLE_NAME, max_length=63),
    Field(description="A variable name: letters, digits and '_', not starting with a digit."),
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION = r"^(\d+(\.\d+)?(ms|s|m|h))+$"
Duration = Annotated[
    str,
    StringConstraints(pattern=DURATION, max_length=32),
    Field(description="A duration such as '30s', '10m', '1h30m' (units ms, s, m, h)."),
]
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: str) -> float:
    """Seconds in a Duration string ('1m30s' is 90.0). The pattern has already been checked by the model."""
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(duration))


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ConvoyModel):
    """A kstatus condition (`Ready`, `Reconciling`, `Stalled`), as Flux, Argo CD and `kubectl wait` read them."""

    type: str
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: str = Field(description="RFC 3339 time the status last changed.")
    observed_generation: int | None = None


class ResourceStatus(ConvoyModel):
    """The status of a definition (Workflow, Pipeline): whether the operator accepted its spec."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)


class ObjectRef(ConvoyModel):
    """A reference to an object by name, in the referrer's namespace unless `namespace` is given."""

    name: ResourceName
    namespace: DNSLabel | None = None


class ContextRef(ConvoyModel):
    """Shared environment for the stage's job steps: a Secret or a ConfigMap, mounted as envFrom."""

    secret: ResourceName | None = None
    config_map: ResourceName | None = None


class SecretKeyRef(ConvoyModel):
    """A key of a Secret in the resource's namespace; the value is read at use and never copied to status."""

    name: ResourceName
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class Variable(ConvoyModel):
    """A workflow or pipeline variable: declared once, given a value by each run."""

    name: VariableName
    type: VariableType = Field(default_factory=lambda: VariableType.STRING)
    default: str | None = Field(default=None, description="Used when a run gives no value.")
    required: bool = Field(default=False, description="A run must give a value when there is no default.")
    description: str | None = None


class VariableType(StrEnum):
    STRING = "String"
    NUMBER = "Number"
    BOOLEAN = "Boolean"


Variable.model_rebuild()
