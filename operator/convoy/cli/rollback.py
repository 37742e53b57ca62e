"""`kubectl convoy rollback WORKFLOW|RUN [--force] [--wait]`.

A run still in flight is told to roll itself back (a Rollback decision: it undoes its phases in reverse order,
or takes the rollback offered by a step that waits for an intervention). Otherwise a `Rollback` object is
created: for a Workflow it returns the target to what ran before its last successful deployment; for a
finished run it undoes that run.
"""

from __future__ import annotations

import argparse

from convoy.api.common import API_VERSION
from convoy.api.decisions import DecisionAction
from convoy.cli.decide import send
from convoy.cli.env import Body, Cluster, Env
from convoy.cli.errors import FAILED, OK, NotFound, UsageError
from convoy.cli.follow import ROLLBACK_RESULTS, RUN_RESULTS, follow, parse_timeout
from convoy.cli.refs import WORKFLOW_RUNS
from convoy.cli.tree import FINISHED

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
        description="A run in flight is told to roll itself back (a Rollback decision); for a Workflow, or a run that "
        "has finished, a Rollback object is created.",
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
    plural, obj = _target(cluster, args.target)
    name = obj["metadata"]["name"]
    if plural == WORKFLOW_RUNS and (obj.get("status") or {}).get("phase") not in FINISHED:
        action = {"action": DecisionAction.ROLLBACK.value, **({"reason": args.reason} if args.reason else {})}
        send(env, f"wfr/{name}", action)
        if not args.wait:
            return OK
        final = follow(cluster, WORKFLOW_RUNS, name, env, timeout=timeout, results=RUN_RESULTS)
        return OK if final["status"]["phase"] == "RolledBack" else FAILED
    created = cluster.create("rollbacks", rollback_object(plural, name, force=args.force, reason=args.reason))
    created_name = created["metadata"]["name"]
    env.out.out(f"rollback/{created_name} created", highlight=False)
    if not args.wait:
        return OK
    final = follow(cluster, "rollbacks", created_name, env, timeout=timeout, results=ROLLBACK_RESULTS)
    return ROLLBACK_RESULTS[final["status"]["phase"]]


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
