"""An in-memory index of the WorkflowRuns of PipelineRuns, by PipelineRun, fed by the watch: when a stage's run
changes, its PipelineRun is reconciled, and so are the runs of the same PipelineRun that wait at a barrier (the
change may be the mark they wait for). Rebuilt from the watch's initial listing after a restart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from convoy.api.workflowrun import RunPhase

Ref = tuple[str, str]  # (namespace, name)


def parent_of(body: Mapping[str, Any]) -> Ref | None:
    """The PipelineRun a WorkflowRun belongs to, from its spec.pipelineRunRef."""
    ref = (body.get("spec") or {}).get("pipelineRunRef") or {}
    if not ref.get("name"):
        return None
    return str(ref.get("namespace") or body["metadata"]["namespace"]), str(ref["name"])


@dataclass
class SiblingIndex:
    phases: dict[Ref, dict[Ref, str]] = field(default_factory=dict)

    def observe(self, body: Mapping[str, Any], *, deleted: bool = False) -> Ref | None:
        """Record (or forget) a WorkflowRun; its PipelineRun, if it has one."""
        parent = parent_of(body)
        if parent is None:
            return None
        me = (body["metadata"]["namespace"], body["metadata"]["name"])
        family = self.phases.setdefault(parent, {})
        if deleted:
            family.pop(me, None)
        else:
            family[me] = str((body.get("status") or {}).get("phase") or "")
        if not family:
            del self.phases[parent]
        return parent

    def at_barrier(self, parent: Ref, *, besides: Ref | None = None) -> list[Ref]:
        """The runs of `parent` that wait at a barrier, other than `besides`."""
        family = self.phases.get(parent, {})
        return [run for run, phase in family.items() if phase == RunPhase.WAITING_AT_BARRIER and run != besides]
