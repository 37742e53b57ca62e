"""The tree `kubectl convoy get` prints for a PipelineRun: its stages and, under each workflow stage, that stage's
WorkflowRun with its phases and steps. Pure: the runs are read by the caller and passed in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from rich.tree import Tree

from convoy.cli.env import Body
from convoy.cli.timefmt import elapsed
from convoy.cli.tree import add_phases, joined, run_label, state_text, symbol


def pipeline_run_tree(pipeline_run: Body, runs: Mapping[str, Body | str], now: datetime) -> Tree:
    """`runs` maps a stage name to its WorkflowRun, or to why it could not be read."""
    status: Body = pipeline_run.get("status") or {}
    tree = Tree(_label(pipeline_run, now), guide_style="dim")
    for stage in status.get("stages") or []:
        node = tree.add(_stage_label(stage, now))
        run = runs.get(stage["name"])
        if isinstance(run, str):
            node.add(Text(f"workflowrun {stage.get('workflowRun')}: {run}", style="red"))
        elif run is not None:
            add_phases(node.add(run_label(run, now)), run, now)
    return tree


def _label(pipeline_run: Body, now: datetime) -> Text:
    status: Body = pipeline_run.get("status") or {}
    spec: Body = pipeline_run.get("spec") or {}
    trigger: Body = spec.get("trigger") or {}
    label = Text.assemble(
        (f"PipelineRun {pipeline_run['metadata']['name']}", "bold"), "  ", state_text(status.get("phase") or "Pending")
    )
    label.append(f"  {elapsed(status.get('startedAt'), status.get('finishedAt'), now) or ''}".rstrip())
    details = joined(
        [
            f"pipeline {(spec.get('pipelineRef') or {}).get('name') or status.get('pipeline')}",
            f"stages {status['stagesDone']}" if status.get("stagesDone") else None,
            f"branch {trigger['branch']}" if trigger.get("branch") else None,
            f"tag {trigger['tag']}" if trigger.get("tag") else None,
            f"commit {trigger['commit']}" if trigger.get("commit") else None,
        ],
        " · ",
    )
    label.append(f"\n{details}", style="dim")
    if status.get("message"):
        label.append(f"\n{status['message']}", style="dim")
    return label


def _stage_label(stage: Body, now: datetime) -> Text:
    state, by = stage.get("state") or "Pending", stage.get("decidedBy")
    label = Text.assemble(symbol(state), " ", (stage["name"], "bold"), f"  {state}")
    extras = [
        elapsed(stage.get("startedAt"), stage.get("finishedAt"), now),
        f"decided by {by}" if by and by not in (stage.get("message") or "") else None,
        stage.get("message"),
    ]
    label.append(f"  {joined(extras)}".rstrip(), style="yellow" if state == "WaitingForApproval" else "dim")
    return label
