"""kstatus conditions (`Ready`, `Reconciling`, `Stalled`) of anything that runs: the same three for runs,
pipeline runs and rollbacks, so Flux health checks, Argo CD and `kubectl wait --for=condition=Ready` read all
of them alike. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from convoy.api.common import Condition, ConditionStatus
from convoy.planner.cycle import clip
from convoy.planner.timeutil import stamp


def kstatus(
    previous: Sequence[Condition],
    *,
    succeeded: bool,
    running: bool,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> list[Condition]:
    """Ready once succeeded, Reconciling while running, Stalled when it ended otherwise. A condition keeps its
    lastTransitionTime while its status does not change."""
    wanted = [("Ready", succeeded), ("Reconciling", running), ("Stalled", not running and not succeeded)]
    old = {c.type: c for c in previous}
    out = []
    for kind, true in wanted:
        value = ConditionStatus.TRUE if true else ConditionStatus.FALSE
        before = old.get(kind)
        moved = before is None or before.status is not value
        out.append(
            Condition(
                type=kind,
                status=value,
                reason=reason,
                message=clip(message, 1024),
                last_transition_time=stamp(now) if moved or before is None else before.last_transition_time,
                observed_generation=generation,
            )
        )
    return out
