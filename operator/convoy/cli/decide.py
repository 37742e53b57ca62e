"""`approve`, `reject`, `promote [--full]`, `resume`, `abort`, `retry`, `ignore`: append one Decision to the run's
spec.decisions, which the operator applies on its next reconcile.

Only verbs with a DecisionAction exist; the admission webhook stamps who decided and refuses an approver who is
not one, and that refusal is shown as one line (exit 1).
"""

from __future__ import annotations

import argparse

from convoy.api.decisions import DecisionAction
from convoy.cli.env import Body, Env
from convoy.cli.errors import FAILED, OK, CliError, UsageError
from convoy.cli.refs import WORKFLOW_RUNS, fetch_run, parse_run
from convoy.cli.tree import FINISHED

VERBS = {
    "approve": (DecisionAction.APPROVE, "approve the approval step (or stage) that waits"),
    "reject": (DecisionAction.REJECT, "reject the approval step (or stage) that waits"),
    "promote": (DecisionAction.PROMOTE, "end a canary pause and go on (--full: to full weight at once)"),
    "resume": (DecisionAction.RESUME, "resume a paused step"),
    "abort": (DecisionAction.ABORT, "stop the run where it is, rolling nothing back"),
    "retry": (DecisionAction.RETRY, "retry the step that waits for an intervention"),
    "ignore": (DecisionAction.IGNORE, "ignore the failure of the step that waits for an intervention"),
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    for verb, (action, summary) in VERBS.items():
        parser = commands.add_parser(verb, parents=[common], help=summary, description=summary)
        parser.add_argument(
            "run", metavar="RUN", help="wfr/NAME, plr/NAME, or NAME (a workflow run, else a pipeline run)"
        )
        about = parser.add_mutually_exclusive_group()
        about.add_argument("--step", help="the step it is about (default: the current one)")
        about.add_argument("--stage", help="PipelineRuns: the stage it is about")
        parser.add_argument("--reason", help="why; recorded in the decision log")
        if verb == "promote":
            parser.add_argument("--full", action="store_true", help="promote to full weight at once")
        parser.set_defaults(command=decide, action=action)


def decision(action: DecisionAction, *, step: str | None, stage: str | None, reason: str | None) -> Body:
    """The Decision as it is appended; `by` is left to the admission webhook. Pure."""
    fields = {"action": action.value, "step": step, "stage": stage, "reason": reason}
    return {k: v for k, v in fields.items() if v is not None}


def decision_patch(obj: Body, new: Body) -> list[Body]:
    """A JSON patch appending `new` to spec.decisions, creating the list when the object has none. Pure."""
    ops: list[Body] = []
    if "decisions" not in (obj.get("spec") or {}):
        ops.append({"op": "add", "path": "/spec/decisions", "value": []})
    ops.append({"op": "add", "path": "/spec/decisions/-", "value": new})
    return ops


def decide(args: argparse.Namespace, env: Env) -> int:
    action = DecisionAction.PROMOTE_FULL if getattr(args, "full", False) else args.action
    return send(env, args.run, decision(action, step=args.step, stage=args.stage, reason=args.reason))


def send(env: Env, run: str, new: Body) -> int:
    """Append `new` to the decisions of the run `run` names, once it is clear that the run can take it."""
    cluster = env.connect()
    plural, obj = fetch_run(cluster, parse_run(run))
    kind, name = ("workflowrun" if plural == WORKFLOW_RUNS else "pipelinerun"), obj["metadata"]["name"]
    check(kind, obj, new)
    cluster.patch(plural, name, decision_patch(obj, new))
    about = new.get("step") or new.get("stage")
    env.out.out(f"{kind}/{name}: {new['action']} recorded" + (f" for {about}" if about else ""), highlight=False)
    return OK


def check(kind: str, obj: Body, new: Body) -> None:
    """Refuse, before sending, a decision the operator could only ignore. Pure."""
    name, status = obj["metadata"]["name"], obj.get("status") or {}
    if kind == "pipelinerun" and "step" in new:
        raise UsageError("--step is for workflow runs: use --stage for a pipelinerun")
    if kind == "workflowrun" and "stage" in new:
        raise UsageError("--stage is for pipeline runs: use --step for a workflowrun")
    if status.get("phase") in FINISHED:
        raise CliError(f"{kind} {name} has already finished ({status['phase']}): nothing to decide", FAILED)
    about, known = new.get("step") or new.get("stage"), _names(status)
    if about and known and about not in known:
        what = "step" if "step" in new else "stage"
        raise UsageError(f"{kind} {name} has no {what} {about}: see kubectl convoy get {name}")


def _names(status: Body) -> set[str]:
    """The steps of a run or the stages of a pipeline run, as far as its status lists them (empty before it starts)."""
    records = [*(status.get("phases") or []), *(status.get("rollback") or [])]
    steps = {step.get("name") for phase in records for step in phase.get("steps") or []}
    return {str(n) for n in steps | {stage.get("name") for stage in status.get("stages") or []} if n}
