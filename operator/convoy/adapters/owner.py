"""The run an action is performed for: its identity for owner references, Events and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convoy.api.common import API_VERSION
from convoy.planner.cycle import label_value

APPLIED = "convoy.dev/applied"
"""Annotation on what a run changed: the key of the change, so the planner knows it reached the object."""
RUN = "convoy.dev/run"
"""Annotation (namespace/name) or label (name) naming the run that changed or owns an object."""


class NotOurs(Exception):
    """An object under a name the run would use (a snapshot, a Job) that the run did not create: trusting it
    would let whoever made it choose what is restored or reported. The message says which and why."""


@dataclass(frozen=True)
class Owner:
    kind: str
    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        """An ownerReference, so what a run creates is garbage-collected with it (same namespace only)."""
        return {"apiVersion": API_VERSION, "kind": self.kind, "name": self.name, "uid": self.uid, "controller": True}

    def owns_in(self, namespace: str) -> list[dict[str, Any]]:
        return [self.reference()] if namespace == self.namespace else []

    @property
    def label(self) -> str:
        """The run's name as a label value (hash-shortened past 63 characters)."""
        return label_value(self.name)

    def owns(self, body: dict[str, Any]) -> bool:
        """Whether the object carries this run's ownerReference (its uid, not just its name)."""
        return any(ref.get("uid") == self.uid for ref in (body.get("metadata") or {}).get("ownerReferences") or [])
