"""Blue/green workflows, natively: two colored Deployments, an active and a preview Service.

The deploy step copies the active Deployment into the other color (`<deployment>-blue` / `-green`) with the
new image, at full size, and points the preview Service at it. Its pods carry the original selector's label
values with '-<color>' appended, so no Service reaches them until Convoy points one there. The swap step points
the active Service at the new color: one selector change, atomic for clients. The old color is kept for
`scaleDownDelay` (a rollback is then an instant swap back), and scaled to zero before the run ends.

Rolling back the phase that swapped points the active Service back (scaling the old color up again if it was
already scaled down); rolling back the phase that deployed scales the new color to zero.
"""

from __future__ import annotations

from convoy.api.steps import ErrorKind
from convoy.api.workflow import BlueGreenStrategy
from convoy.api.workflowrun import Awaiting, BlueGreenState, StepState
from convoy.planner.actions import EnsureCopy, PointService, ScaleDeployment
from convoy.planner.canary import copy_selector
from convoy.planner.cycle import Cycle, Position, clip, target_of
from convoy.planner.steps import applied_key, fail, record_revisions, succeed
from convoy.planner.timeutil import after, stamp

COLOR = "convoy.dev/color"


def _strategy(c: Cycle) -> BlueGreenStrategy:
    assert c.workflow.blue_green is not None
    return c.workflow.blue_green


def color_names(deployment: str) -> tuple[str, str]:
    return f"{deployment}-blue", f"{deployment}-green"


def color_selector(base: dict[str, str], color: str) -> tuple[tuple[str, str], ...]:
    return copy_selector({k: v for k, v in base.items() if k != COLOR}, f"-{color}", (COLOR, color))


def _base_selector(c: Cycle, namespace: str, deployment: str) -> dict[str, str] | None:
    base = c.observed.workload(namespace, deployment)
    return dict(base.selector) if base is not None else None


def deploy(c: Cycle, pos: Position) -> None:
    namespace, deployment = target_of(c.workflow, pos.phase, c.run.namespace)
    assert deployment is not None and c.workflow.artifact is not None
    strategy, artifact = _strategy(c), c.workflow.artifact
    state = c.status.blue_green
    if state is None:
        active = c.observed.services.get(f"{namespace}/{strategy.active_service}")
        if active is None:
            fail(pos.record, ErrorKind.DEPLOYMENT_FAILED, f"Service {namespace}/{strategy.active_service} not found")
            return
        old_color = active.get(COLOR)
        previous = f"{deployment}-{old_color}" if old_color else deployment
        old = c.observed.workload(namespace, previous)
        if old is None:
            fail(pos.record, ErrorKind.DEPLOYMENT_FAILED, f"the active Deployment {namespace}/{previous} is not found")
            return
        color = "green" if old_color == "blue" else "blue"
        state = BlueGreenState(
            color=color,
            deployment=f"{deployment}-{color}",
            previous=previous,
            previous_selector=dict(active),
            previous_replicas=old.replicas,
        )
        c.status.blue_green = state
        record_revisions(c, stable=old.image, new=artifact.image)
    base = _base_selector(c, namespace, deployment) or {}
    key = applied_key(c, pos, "deploy")
    label = (COLOR, state.color)
    copy = EnsureCopy(
        namespace, state.previous, state.deployment, artifact.image, artifact.container,
        state.previous_replicas, label, f"-{state.color}", key,
    )  # fmt: skip
    c.act(copy)
    wanted = color_selector(base, state.color)
    c.act(PointService(namespace, strategy.preview_service, wanted))
    new = c.observed.workload(namespace, state.deployment)
    preview = c.observed.services.get(f"{namespace}/{strategy.preview_service}")
    if new is not None and new.applied == key and new.rolled_out and preview == dict(wanted):
        succeed(c, pos.record, f"{state.color} runs the new version behind {strategy.preview_service}")
        return
    pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
    pos.record.message = clip(f"{state.deployment}: waiting for {state.previous_replicas} pods")


def swap(c: Cycle, pos: Position) -> None:
    state, strategy = c.status.blue_green, _strategy(c)
    if state is None:
        fail(pos.record, ErrorKind.DEPLOYMENT_FAILED, "nothing to swap to: the deploy step has not run")
        return
    namespace, deployment = target_of(c.workflow, pos.phase, c.run.namespace)
    assert deployment is not None
    wanted = color_selector(_base_selector(c, namespace, deployment) or {}, state.color)
    c.act(PointService(namespace, strategy.active_service, wanted))
    if c.observed.services.get(f"{namespace}/{strategy.active_service}") != dict(wanted):
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.TRAFFIC
        pos.record.message = f"pointing {strategy.active_service} at {state.color}"
        return
    state.swapped_at = state.swapped_at or c.stamp
    keep = stamp(after(state.swapped_at, strategy.scale_down_delay))
    succeed(c, pos.record, f"{strategy.active_service} now serves {state.color}; {state.previous} kept until {keep}")


def wrap_up(c: Cycle) -> bool:
    """Before a successful run ends: scale the old color down once scaleDownDelay has passed. True when done."""
    state = c.status.blue_green
    if state is None or state.swapped_at is None or state.old_scaled_down:
        return True
    namespace = target_of(c.workflow, c.workflow.phases[0], c.run.namespace)[0]
    deadline = after(state.swapped_at, _strategy(c).scale_down_delay)
    if c.now < deadline:
        c.wake_at(deadline)
        c.status.message = clip(f"keeping {state.previous} for a quick swap back until {stamp(deadline)}")
        return False
    c.act(ScaleDeployment(namespace, state.previous, 0))
    old = c.observed.workload(namespace, state.previous)
    if old is not None and old.replicas != 0:
        return False
    state.old_scaled_down = True
    c.event(
        "old-color-scaled-down", "ScaledDown", f"{state.previous} scaled down after {_strategy(c).scale_down_delay}"
    )
    return True


def rollback(c: Cycle, pos: Position) -> None:
    state, strategy = c.status.blue_green, _strategy(c)
    deployed = c.status.phases[pos.phase_index]
    specs = pos.phase.steps
    swapped_here = any(
        s.swap is not None and r.state is not StepState.PENDING for s, r in zip(specs, deployed.steps, strict=True)
    )
    deployed_here = any(
        s.deploy is not None and r.state is not StepState.PENDING for s, r in zip(specs, deployed.steps, strict=True)
    )
    if state is None or not (swapped_here or deployed_here):
        succeed(c, pos.record, "nothing was deployed in this phase")
        return
    namespace = target_of(c.workflow, pos.phase, c.run.namespace)[0]
    if swapped_here and not _swapped_back(c, pos, namespace, state, strategy):
        return
    if deployed_here:
        c.act(ScaleDeployment(namespace, state.deployment, 0))
        c.act(PointService(namespace, strategy.preview_service, tuple(sorted(state.previous_selector.items()))))
        new = c.observed.workload(namespace, state.deployment)
        if new is not None and new.replicas != 0:
            pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
            pos.record.message = f"scaling {state.deployment} down"
            return
    succeed(c, pos.record, f"{strategy.active_service} serves {state.previous} again")


def _swapped_back(c: Cycle, pos: Position, namespace: str, state: BlueGreenState, strategy: BlueGreenStrategy) -> bool:
    """Point the active Service back at the old pods, bringing them back first if they were scaled down."""
    old = c.observed.workload(namespace, state.previous)
    if state.old_scaled_down:
        c.act(ScaleDeployment(namespace, state.previous, state.previous_replicas))
        if old is None or old.replicas != state.previous_replicas or not old.rolled_out:
            pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.ROLLOUT
            pos.record.message = f"bringing {state.previous} back: waiting for {state.previous_replicas} pods"
            return False
    c.act(PointService(namespace, strategy.active_service, tuple(sorted(state.previous_selector.items()))))
    if c.observed.services.get(f"{namespace}/{strategy.active_service}") != state.previous_selector:
        pos.record.state, pos.record.awaiting = StepState.RUNNING, Awaiting.TRAFFIC
        pos.record.message = f"swapping {strategy.active_service} back to {state.previous}"
        return False
    state.swapped_at = None
    return True
