"""The tree `kubectl convoy get` prints for a WorkflowRun: the run, its phases, their steps and the rollback, each
with a state symbol, the canary weight, durations and, for whatever waits, what it waits for and until when.

Pure: it reads the object as the API server returns it (plain dicts, so that fields a newer operator adds do no
harm) and a given `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from rich.tree import Tree

from convoy.cli.env import Body
from convoy.cli.timefmt import elapsed, until

SYMBOLS = {
    "Succeeded": "✔",
    "Reused": "✔",
    "Failed": "✖",
    "Pending": "◌",
    "Running": "⟳",
    "Waiting": "⏸",
    "Queued": "⏸",
    "Paused": "⏸",
    "WaitingForApproval": "⏸",
    "WaitingAtBarrier": "⏸",
    "WaitingForIntervention": "⏸",
    "RollingBack": "↺",
    "RolledBack": "↺",
    "Skipped": "⊘",
    "Aborted": "⊘",
    "Refused": "⊘",
    "Ignored": "~",
}
STYLES = {"✔": "green", "✖": "red", "◌": "dim", "⟳": "cyan", "⏸": "yellow", "↺": "magenta", "⊘": "dim", "~": "yellow"}
FINISHED = {"Succeeded", "Failed", "RolledBack", "Aborted", "Refused"}


def symbol(state: str) -> Text:
    mark = SYMBOLS.get(state, "?")
    return Text(mark, style=STYLES.get(mark, ""))


def state_text(state: str) -> Text:
    return Text.assemble(symbol(state), " ", (state, STYLES.get(SYMBOLS.get(state, "?"), "")))


def joined(parts: Iterable[str | None], sep: str = "  ") -> str:
    return sep.join(p for p in parts if p)


def workflow_run_tree(run: Body, now: datetime) -> Tree:
    tree = Tree(run_label(run, now), guide_style="dim")
    add_phases(tree, run, now)
    return tree


def pods_text(canary: Body | None) -> str | None:
    """The desired pod counts of a canary split."""
    if not canary:
        return None
    return f"pods {canary['stable']} stable + {canary['canary']} canary (of {canary['total']})"


def run_label(run: Body, now: datetime) -> Text:
    status: Body = run.get("status") or {}
    phase = status.get("phase") or "Pending"
    label = Text.assemble((f"WorkflowRun {run['metadata']['name']}", "bold"), "  ", state_text(phase))
    label.append(f"  {elapsed(status.get('startedAt'), status.get('finishedAt'), now) or ''}".rstrip())
    revisions: Body = status.get("revisions") or {}
    details = joined(
        [
            f"{status.get('type') or 'workflow'} {status['workflow']}" if status.get("workflow") else None,
            f"weight {status['weight']}%" if status.get("weight") is not None else None,
            pods_text(status.get("canary")),
            f"phases {status['progress']}" if status.get("progress") else None,
            joined([revisions.get("stable"), revisions.get("new")], " → ") if revisions.get("new") else None,
            queued_text(status),
        ],
        " · ",
    )
    if details:
        label.append(f"\n{details}", style="dim")
    failure: Body = status.get("failure") or {}
    if failure:
        label.append(f"\nfailed: {failure.get('phase')}/{failure.get('step')} ({failure.get('error')})", style="red")
    if status.get("message"):
        label.append(f"\n{status['message']}", style="red" if phase not in ("Succeeded", "Running") else "dim")
    return label


def queued_text(status: Body) -> str | None:
    """Where a queued run stands, and what it waits for (a run of its target, or the limit on progressing runs)."""
    if not status.get("queuePosition"):
        return None
    reasons = {"Target": "behind its target", "ProgressLimit": "progress limit"}
    why = reasons.get(status.get("queueReason") or "")
    return f"queue position {status['queuePosition']}" + (f" ({why})" if why else "")


@dataclass(frozen=True)
class PhaseView:
    """One phase of a run (or of its rollback) as the tree and the dashboard show it."""

    record: Body
    state: str
    weight: int | None
    """A canary phase's weight."""
    undone: bool
    """Its rollback succeeded."""
    specs: dict[str, Body]
    """Its steps' specs, by name."""


def phase_views(run: Body) -> tuple[list[PhaseView], list[PhaseView]]:
    """The run's phases, and its rollback's (phases undone in reverse order). Pure."""
    status: Body = run.get("status") or {}
    workflow: Body = status.get("workflowSpec") or {}
    weights = {p.get("name"): p.get("weight") for p in workflow.get("phases") or []}
    canary = workflow.get("type") == "Canary"
    rollback: list[Body] = status.get("rollback") or []
    undone = {p.get("name") for p in rollback if p.get("state") == "Succeeded"}
    phases = [
        PhaseView(
            record=phase,
            state="RolledBack" if phase["name"] in undone else phase.get("state") or "Pending",
            weight=weights.get(phase["name"]) if canary else None,
            undone=phase["name"] in undone,
            specs=step_specs(workflow, phase["name"], "steps"),
        )
        for phase in status.get("phases") or []
    ]
    undoing = [
        PhaseView(
            phase, phase.get("state") or "Pending", None, False, step_specs(workflow, phase["name"], "rollbackSteps")
        )
        for phase in rollback
    ]
    return phases, undoing


def add_phases(node: Tree, run: Body, now: datetime) -> None:
    """The run's phases and steps under `node`, then its rollback (phases undone in reverse order)."""
    name = run["metadata"]["name"]
    phases, rollback = phase_views(run)
    for phase in phases:
        branch = node.add(_phase_label(phase, now))
        for step in phase.record.get("steps") or []:
            branch.add(step_label(name, step, phase.specs.get(step["name"]), now))
    if rollback:
        undoing = node.add(
            Text.assemble(symbol("RollingBack"), " ", ("rollback", "bold"), ("  (reverse order)", "dim"))
        )
        for phase in rollback:
            branch = undoing.add(_phase_label(phase, now))
            for step in phase.record.get("steps") or []:
                branch.add(step_label(name, step, phase.specs.get(step["name"]), now))


def step_specs(workflow: Body, phase: str, key: str) -> dict[str, Body]:
    for spec in workflow.get("phases") or []:
        if spec.get("name") == phase:
            return {s["name"]: s for s in spec.get(key) or [] if "name" in s}
    return {}


def _phase_label(phase: PhaseView, now: datetime) -> Text:
    record = phase.record
    label = Text.assemble(symbol(phase.state), " ", (record["name"], "bold"))
    extras = [
        f"{phase.weight}%" if phase.weight is not None else None,
        elapsed(record.get("startedAt"), record.get("finishedAt"), now),
        "rolled back" if phase.undone else None,
    ]
    label.append(f"  {joined(extras)}".rstrip(), style="dim")
    return label


def step_label(run: str, step: Body, spec: Body | None, now: datetime) -> Text:
    state, awaiting = step.get("state") or "Pending", step.get("awaiting")
    shown = {"Intervention": "Waiting", "Retry": "Running"}.get(awaiting or "", state)
    label = Text.assemble(symbol(shown), " ", step["name"], (f"  {step.get('kind', '')}", "dim"))
    label.append(f"  {elapsed(step.get('startedAt'), step.get('finishedAt'), now) or ''}".rstrip())
    if (step.get("attempts") or 0) > 1:
        label.append(f"  attempt {step['attempts']}", style="dim")
    detail, style = step_detail(run, step, spec or {}, now)
    if detail:
        label.append(f"  {detail}", style=style)
    return label


def step_detail(run: str, step: Body, spec: Body, now: datetime) -> tuple[str, str]:
    """What a step is doing or waiting for, and the style to show it in."""
    awaiting, message = step.get("awaiting"), step.get("message") or ""
    deadline = until(step.get("deadline"), now)
    failed = f"{step.get('error')}: {message}" if step.get("error") else message
    by = step.get("decidedBy")
    decided = f" (decided by {by})" if by and by not in message else ""
    if awaiting == "Approval":
        approval: Body = spec.get("approval") or {}
        approvers = ", ".join(approval.get("approvers") or []) or "anyone allowed to patch the run"
        note = f' — "{approval["message"]}"' if approval.get("message") else ""
        return joined(
            [f"waiting for approval by {approvers}{note}", f"until {deadline}" if deadline else None]
        ), "yellow"
    if awaiting == "Barrier":
        return joined([message, f"until {deadline}" if deadline else None]), "yellow"
    if awaiting == "Intervention":
        decide = f"decide: kubectl convoy retry|ignore|abort|rollback {run}"
        return joined([f"{failed}; {decide}", f"by {deadline}" if deadline else None]), "yellow"
    if awaiting == "Resume":
        return f"paused until resumed: kubectl convoy resume {run}", "yellow"
    if awaiting == "Pause":
        return f"paused until {deadline}", "yellow"
    if awaiting == "Retry":
        return f"{failed}; next attempt at {until(step.get('nextAt'), now)}", "yellow"
    if awaiting == "Measurement" and step.get("nextAt"):
        return joined([message, f"next measurement at {until(step.get('nextAt'), now)}"]), "dim"
    if step.get("state") in ("Failed", "Ignored"):
        return failed + decided, "red" if step.get("state") == "Failed" else "yellow"
    return message + decided, "dim"
