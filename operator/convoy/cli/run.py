"""`kubectl convoy run WORKFLOW --set k=v [--wait]`: start a WorkflowRun; with --wait, follow it and exit 0 only
when it succeeded, so a CI job can gate on the deployment."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from convoy.api.common import API_VERSION
from convoy.cli import output
from convoy.cli.env import Body, Env
from convoy.cli.errors import OK, UsageError
from convoy.cli.follow import RUN_RESULTS, follow, parse_timeout
from convoy.cli.refs import WORKFLOW_RUNS


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("run", parents=[common], help="start a WorkflowRun of a Workflow")
    parser.add_argument("workflow", metavar="WORKFLOW")
    parser.add_argument(
        "--set", dest="values", action="append", default=[], metavar="KEY=VALUE", help="a variable value (repeatable)"
    )
    parser.add_argument("--name", help="the run's name (default: generated, WORKFLOW-xxxxx)")
    parser.add_argument("--wait", action="store_true", help="follow the run; exit 0 on Succeeded, 1 otherwise")
    parser.add_argument("--timeout", default="30m", help="with --wait: give up after this long (exit 2)")
    output.add_flag(parser)
    parser.set_defaults(command=start_run)


def variables(values: Sequence[str]) -> dict[str, str]:
    """`--set` values as a mapping; a later value of the same key wins. Pure."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--set '{value}': write it as KEY=VALUE")
        out[key] = val
    return out


def workflow_run(workflow: str, values: dict[str, str], name: str | None) -> Body:
    """The WorkflowRun to create. Pure."""
    metadata = {"name": name} if name else {"generateName": f"{workflow}-"}
    spec = {"workflowRef": {"name": workflow}, "variables": values}
    return {"apiVersion": API_VERSION, "kind": "WorkflowRun", "metadata": metadata, "spec": spec}


def start_run(args: argparse.Namespace, env: Env) -> int:
    body = workflow_run(args.workflow, variables(args.values), args.name)
    timeout = parse_timeout(args.timeout)
    cluster = env.connect()
    cluster.get("workflows", args.workflow)  # a clear "not found" rather than a run that fails at once
    created = cluster.create(WORKFLOW_RUNS, body)
    name = created["metadata"]["name"]
    if not args.wait:
        if args.output:
            output.print_object(env.out, created, args.output)
        else:
            env.out.out(f"workflowrun/{name} created", highlight=False)
        return OK
    if not args.output:
        env.out.out(f"workflowrun/{name} created; following it (timeout {args.timeout})", highlight=False)
    final = follow(cluster, WORKFLOW_RUNS, name, env, timeout=timeout, results=RUN_RESULTS, quiet=bool(args.output))
    if args.output:
        output.print_object(env.out, final, args.output)
    phase = final["status"]["phase"]
    return RUN_RESULTS[phase]
