"""`kubectl convoy list [-A]`: the workflow runs of a namespace (or all), newest last, as a table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from convoy.cli import output
from convoy.cli.env import Body, Env
from convoy.cli.errors import OK
from convoy.cli.refs import WORKFLOW_RUNS
from convoy.cli.timefmt import duration, parse_time
from convoy.cli.tree import state_text


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("list", parents=[common], help="list workflow runs with their phase and progress")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="list the runs of every namespace")
    output.add_flag(parser)
    parser.set_defaults(command=list_runs)


def list_runs(args: argparse.Namespace, env: Env) -> int:
    cluster = env.connect()
    runs = sorted(
        cluster.list_objects(WORKFLOW_RUNS, all_namespaces=args.all_namespaces),
        key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"]["name"]),
    )
    if args.output:
        output.print_object(env.out, {"apiVersion": "v1", "kind": "List", "items": runs}, args.output)
    elif not runs:
        where = "any namespace" if args.all_namespaces else f"namespace {cluster.namespace}"
        env.out.out(f"No workflow runs found in {where}.", highlight=False)
    else:
        output.print_wide(env.out, runs_table(runs, env.clock(), all_namespaces=args.all_namespaces))
    return OK


def runs_table(runs: Sequence[Body], now: datetime, *, all_namespaces: bool) -> Table:
    """Pure."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["NAME", "WORKFLOW", "TYPE", "PHASE", "STEP", "PROGRESS", "WEIGHT", "AGE"]
    for column in ["NAMESPACE", *columns] if all_namespaces else columns:
        table.add_column(column, no_wrap=True)
    for run in runs:
        meta, status = run["metadata"], run.get("status") or {}
        created = parse_time(meta.get("creationTimestamp"))
        step = "/".join(s for s in (status.get("currentPhase"), status.get("currentStep")) if s)
        cells: list[str | Text] = [
            meta["name"],
            status.get("workflow") or (run.get("spec", {}).get("workflowRef") or {}).get("name") or "",
            status.get("type") or "",
            state_text(status.get("phase") or "Pending"),
            step,
            status.get("progress") or "",
            f"{status['weight']}%" if status.get("weight") is not None else "",
            duration((now - created).total_seconds()) if created else "",
        ]
        table.add_row(*([meta.get("namespace", "")] if all_namespaces else []), *cells)
    return table
