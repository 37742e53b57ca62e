"""`kubectl convoy get workflowrun|pipelinerun NAME [--watch]`: a run as a tree, re-rendered until it finishes."""

from __future__ import annotations

import argparse
from datetime import datetime

from rich.live import Live
from rich.tree import Tree

from convoy.cli import output
from convoy.cli.env import Body, Cluster, Env
from convoy.cli.errors import OK, CliError, UsageError
from convoy.cli.pipeline_tree import pipeline_run_tree
from convoy.cli.refs import PIPELINE_RUNS, RUN_TYPES, WORKFLOW_RUNS, fetch_run, parse_run
from convoy.cli.tree import FINISHED, workflow_run_tree

WATCH_SECONDS = 2.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "get",
        parents=[common],
        help="show a run as a tree: stages, workflow runs, phases, steps",
        description="Show a WorkflowRun or a PipelineRun as a tree. TYPE is workflowrun (wfr) or pipelinerun (plr); "
        "'TYPE/NAME' and a bare NAME (a workflow run, else a pipeline run) work too.",
    )
    parser.add_argument("type", metavar="TYPE", help="workflowrun|wfr|pipelinerun|plr, TYPE/NAME, or NAME")
    parser.add_argument("name", metavar="NAME", nargs="?")
    parser.add_argument("-w", "--watch", action="store_true", help="re-render until the run finishes")
    output.add_flag(parser)
    parser.set_defaults(command=get)


def get(args: argparse.Namespace, env: Env) -> int:
    if args.name is None and args.type.lower() in RUN_TYPES:
        raise UsageError(f"a name is required: kubectl convoy get {args.type} NAME")
    ref = parse_run(args.type) if args.name is None else parse_run(args.name, args.type)
    cluster = env.connect()
    plural, obj = fetch_run(cluster, ref)
    if args.output:
        output.print_object(env.out, obj, args.output)
        return OK
    if not args.watch:
        env.out.print(render(cluster, plural, obj, env.clock()))
        return OK
    with Live(render(cluster, plural, obj, env.clock()), console=env.out, auto_refresh=False) as live:
        while (obj.get("status") or {}).get("phase") not in FINISHED:
            env.sleep(WATCH_SECONDS)
            obj = cluster.get(plural, ref.name)
            live.update(render(cluster, plural, obj, env.clock()), refresh=True)
    return OK


def render(cluster: Cluster, plural: str, obj: Body, now: datetime) -> Tree:
    if plural == WORKFLOW_RUNS:
        return workflow_run_tree(obj, now)
    assert plural == PIPELINE_RUNS
    return pipeline_run_tree(obj, stage_runs(cluster, obj), now)


def stage_runs(cluster: Cluster, pipeline_run: Body) -> dict[str, Body | str]:
    """Stage name → its WorkflowRun, read from the stage's namespace, or why it could not be read."""
    namespace = pipeline_run["metadata"].get("namespace") or cluster.namespace
    runs: dict[str, Body | str] = {}
    for stage in (pipeline_run.get("status") or {}).get("stages") or []:
        if stage.get("workflowRun"):
            try:
                runs[stage["name"]] = cluster.get(
                    WORKFLOW_RUNS, stage["workflowRun"], stage.get("namespace") or namespace
                )
            except CliError as error:
                runs[stage["name"]] = error.message
    return runs
