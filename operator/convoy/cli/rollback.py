"""`kubectl convoy rollback WORKFLOW|RUN [--force] [--wait]`.

Creates a `Rollback` object, and with --wait follows it until it is Succeeded, Failed or Refused. For a Workflow it
returns the target to what ran before its most recent successful deployment; for a run in flight it stops the run,
which undoes the phases it started in reverse order; for a run that succeeded (the Workflow's most recent
deployment) it undoes that run. The operator decides whether the rollback may go ahead, so the right to roll back
is exactly the right to create Rollbacks (the chart's rollback role), apart from deploying and deciding.
"""

from __future__ import annotations

import argparse

from convoy.api.common import API_VERSION
from convoy.cli.env import Body, Cluster, Env
from convoy.cli.errors import OK, NotFound, UsageError
from convoy.cli.follow import ROLLBACK_RESULTS, follow, parse_timeout
from convoy.cli.refs import WORKFLOW_RUNS

WORKFLOWS = "workflows"
_TYPES = {
    "wf": WORKFLOWS,
    "workflow": WORKFLOWS,
    "workflows": WORKFLOWS,
    "wfr": WORKFLOW_RUNS,
    "workflowrun": WORKFLOW_RUNS,
    "workflowruns": WORKFLOW_RUNS,
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "rollback",
        parents=[common],
        help="roll a workflow's target back, or a run",
        description="Creates a Rollback: of a Workflow's most recent successful deployment, of a run in flight (it "
        "stops and undoes its phases), or of a run that was the Workflow's most recent successful deployment.",
    )
    parser.add_argument("target", metavar="WORKFLOW|RUN", help="wf/NAME, wfr/NAME, or NAME (a workflow, else a run)")
    parser.add_argument("--force", action="store_true", help="even if the Workflow changed since that deployment")
    parser.add_argument("--reason", help="why; recorded on the Rollback")
    parser.add_argument("--wait", action="store_true", help="follow it; exit 0 once rolled back, 1 if not")
    parser.add_argument("--timeout", default="30m", help="with --wait: give up after this long (exit 2)")
    parser.set_defaults(command=rollback)


def rollback_object(plural: str, name: str, *, force: bool, reason: str | None) -> Body:
    """The Rollback to create for a Workflow or a WorkflowRun. Pure."""
    ref = "workflowRef" if plural == WORKFLOWS else "workflowRunRef"
    spec: Body = {ref: {"name": name}}
    if force:
        spec["force"] = True
    if reason:
        spec["reason"] = reason
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollback",
        "metadata": {"generateName": f"{name}-rollback-"},
        "spec": spec,
    }


def rollback(args: argparse.Namespace, env: Env) -> int:
    timeout = parse_timeout(args.timeout)
    cluster = env.connect()
    created_name = create(cluster, args.target, force=args.force, reason=args.reason)["metadata"]["name"]
    env.out.out(f"rollback/{created_name} created", highlight=False)
    if not args.wait:
        return OK
    final = follow(cluster, "rollbacks", created_name, env, timeout=timeout, results=ROLLBACK_RESULTS)
    return ROLLBACK_RESULTS[final["status"]["phase"]]


def create(cluster: Cluster, target: str, *, force: bool, reason: str | None) -> Body:
    """The Rollback of `target` (WORKFLOW|RUN), as created."""
    plural, obj = _target(cluster, target)
    return cluster.create("rollbacks", rollback_object(plural, obj["metadata"]["name"], force=force, reason=reason))


def _target(cluster: Cluster, text: str) -> tuple[str, Body]:
    kind, sep, name = text.rpartition("/")
    if sep:
        plural = _TYPES.get(kind.lower())
        if plural is None or not name:
            raise UsageError(f"'{text}': use wf/NAME for a workflow or wfr/NAME for a workflow run")
        return plural, cluster.get(plural, name)
    for plural in (WORKFLOWS, WORKFLOW_RUNS):
        try:
            return plural, cluster.get(plural, name)
        except NotFound:
            continue
    raise NotFound(f"no workflow or workflowrun {name} in namespace {cluster.namespace}")
