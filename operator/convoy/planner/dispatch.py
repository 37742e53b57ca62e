"""Which evaluator a step gets: by its kind, and for deploy and rollback steps, by the workflow's type."""

from __future__ import annotations

from collections.abc import Callable

from convoy.api.workflow import WorkflowType
from convoy.planner import bluegreen, canary, steps
from convoy.planner.cycle import Cycle, Position

Evaluator = Callable[[Cycle, Position], None]

_BY_KIND: dict[str, Evaluator] = {
    "deploy": steps.deploy,
    "rollback": steps.rollback,
    "job": steps.job,
    "verify": steps.verify,
    "approval": steps.approval,
    "pause": steps.pause,
    "barrier": steps.barrier,
    "notify": steps.notify,
    "swap": steps.unsupported,
}
_BY_TYPE: dict[tuple[WorkflowType, str], Evaluator] = {
    (WorkflowType.CANARY, "deploy"): canary.deploy,
    (WorkflowType.CANARY, "rollback"): canary.rollback,
    (WorkflowType.BLUE_GREEN, "deploy"): bluegreen.deploy,
    (WorkflowType.BLUE_GREEN, "swap"): bluegreen.swap,
    (WorkflowType.BLUE_GREEN, "rollback"): bluegreen.rollback,
}


def evaluate(c: Cycle, pos: Position) -> None:
    """Advance the step as far as the observed world allows; a step whose action the API server refused for good
    fails with the refusal, so its failure strategy applies instead of a retry that can never succeed."""
    refusal = c.observed.refused.get(pos.key)
    if refusal is not None:
        steps.fail(pos.record, refusal.error, refusal.message)
        return
    kind = pos.step.kind
    c.step_key = pos.key
    try:
        _BY_TYPE.get((c.workflow.type, kind), _BY_KIND[kind])(c, pos)
        steps.time_limit(c, pos)
    finally:
        c.step_key = None
