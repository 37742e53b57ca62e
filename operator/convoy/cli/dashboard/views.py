"""What the dashboard's pages show, as plain JSON-ready data: the list of Convoy objects, a PipelineRun as a graph of
its stages, and a WorkflowRun with its phases and steps. The page's script only lays this out.

The words are the plugin's own (the step details, queue positions, pod counts and state symbols of `kubectl convoy
get`, from `convoy.cli.tree`), so the page and the terminal never disagree. Pure: objects are read by the caller and
passed in, with a given `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from convoy.api.pipeline import PipelineSpec
from convoy.api.validation import requirements
from convoy.cli.env import Body
from convoy.cli.refs import PIPELINE_RUNS, WORKFLOW_RUNS
from convoy.cli.timefmt import duration, elapsed, parse_time, until
from convoy.cli.tree import (
    FINISHED,
    STYLES,
    SYMBOLS,
    PhaseView,
    joined,
    phase_views,
    pods_text,
    queued_text,
    step_detail,
)
from convoy.planner.barriers import BARRIER_PREFIX, CROSSED, FAILED, REACHED, read_mark
from convoy.planner.stages import STAGE_LABEL

WORKFLOWS, ROLLBACKS = "workflows", "rollbacks"
KINDS = {
    WORKFLOWS: "Workflow",
    WORKFLOW_RUNS: "WorkflowRun",
    PIPELINE_RUNS: "PipelineRun",
    ROLLBACKS: "Rollback",
}
"""What the list shows, in this order."""


def state(name: str) -> Body:
    """A state with the symbol and colour the plugin prints it in."""
    mark = SYMBOLS.get(name, "?")
    return {"name": name, "symbol": mark, "tone": STYLES.get(mark, "")}


def _age(meta: Body, now: datetime) -> str:
    created = parse_time(meta.get("creationTimestamp"))
    return duration((now - created).total_seconds()) if created else ""


# The list


def listing(
    objects: Mapping[str, Sequence[Body] | str],
    now: datetime,
    *,
    namespace: str | None = None,
    phase: str | None = None,
) -> Body:
    """The list page: for each kind of `objects` (plural → the objects, or why they could not be listed), its rows,
    newest first, in `namespace` and in state `phase` when given; and the namespaces and states to filter by."""
    namespaces: set[str] = set()
    phases: set[str] = set()
    sections: list[Body] = []
    for plural, kind in KINDS.items():
        found = objects.get(plural)
        if found is None:
            continue
        if isinstance(found, str):
            sections.append({"kind": kind, "headers": [], "rows": [], "error": found})
            continue
        headers, rows = _HEADERS[plural], list[Body]()
        newest_first = sorted(
            found, key=lambda o: (o["metadata"].get("creationTimestamp") or "", o["metadata"]["name"]), reverse=True
        )
        for obj in newest_first:
            row = _ROWS[plural](obj, now)
            namespaces.add(row["namespace"])
            phases.add(row["state"]["name"])
            if (not namespace or row["namespace"] == namespace) and (not phase or row["state"]["name"] == phase):
                rows.append(row)
        sections.append({"kind": kind, "headers": headers, "rows": rows, "error": None})
    return {
        "view": "list",
        "namespaces": sorted(namespaces),
        "states": sorted(phases),
        "filter": {"namespace": namespace or "", "state": phase or ""},
        "sections": sections,
    }


def _row(obj: Body, phase: str, cells: list[str], link: str | None, now: datetime) -> Body:
    meta = obj["metadata"]
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "state": state(phase),
        "cells": cells,
        "age": _age(meta, now),
        "link": link,
    }


def _link(kind: str, obj: Body) -> str:
    return f"#/{kind}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _workflow_row(obj: Body, now: datetime) -> Body:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    phase = (
        "Pending" if ready is None else "Ready" if ready.get("status") == "True" else ready.get("reason") or "NotReady"
    )
    return _row(obj, phase, [spec.get("type") or "", (ready or {}).get("message") or ""], None, now)


def _workflow_run_row(obj: Body, now: datetime) -> Body:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    labels = obj["metadata"].get("labels") or {}
    cells = [
        status.get("workflow") or (spec.get("workflowRef") or {}).get("name") or "",
        status.get("type") or "",
        "/".join(s for s in (status.get("currentPhase"), status.get("currentStep")) if s),
        status.get("progress") or "",
        f"{status['weight']}%" if status.get("weight") is not None else "",
        labels.get(STAGE_LABEL) or "",
    ]
    return _row(obj, status.get("phase") or "Pending", cells, _link("workflowrun", obj), now)


def _pipeline_run_row(obj: Body, now: datetime) -> Body:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    trigger: Body = spec.get("trigger") or {}
    cells = [
        (spec.get("pipelineRef") or {}).get("name") or "",
        status.get("stagesDone") or "",
        joined([trigger.get("branch"), trigger.get("tag"), trigger.get("commit")], " "),
    ]
    return _row(obj, status.get("phase") or "Pending", cells, _link("pipelinerun", obj), now)


def _rollback_row(obj: Body, now: datetime) -> Body:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("workflowRef"):
        target = f"workflow {spec['workflowRef'].get('name')}"
    else:
        target = f"workflowrun {(spec.get('workflowRunRef') or {}).get('name')}"
    return _row(obj, status.get("phase") or "Pending", [target, status.get("message") or ""], None, now)


_HEADERS = {
    WORKFLOWS: ["type", "message"],
    WORKFLOW_RUNS: ["workflow", "type", "step", "progress", "weight", "stage"],
    PIPELINE_RUNS: ["pipeline", "stages", "trigger"],
    ROLLBACKS: ["target", "message"],
}
_ROWS = {
    WORKFLOWS: _workflow_row,
    WORKFLOW_RUNS: _workflow_run_row,
    PIPELINE_RUNS: _pipeline_run_row,
    ROLLBACKS: _rollback_row,
}


# A WorkflowRun


def workflow_run(run: Body, now: datetime) -> Body:
    """A WorkflowRun: where it stands (canary weight and pods, queue position), its phases and steps with what
    each waits for, its rollback, and the decisions it can take now."""
    meta, status = run["metadata"], run.get("status") or {}
    phase = status.get("phase") or "Pending"
    revisions: Body = status.get("revisions") or {}
    failure: Body = status.get("failure") or {}
    phases, rollback = phase_views(run)
    return {
        "view": "workflowrun",
        "kind": "WorkflowRun",
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "state": state(phase),
        "workflow": status.get("workflow") or (run.get("spec", {}).get("workflowRef") or {}).get("name") or "",
        "type": status.get("type") or "",
        "elapsed": elapsed(status.get("startedAt"), status.get("finishedAt"), now) or "",
        "startedAt": status.get("startedAt"),
        "finishedAt": status.get("finishedAt"),
        "weight": status.get("weight"),
        "pods": status.get("canary"),
        "podsText": pods_text(status.get("canary")) or "",
        "progress": status.get("progress") or "",
        "revisions": joined([revisions.get("stable"), revisions.get("new")], " → ") if revisions.get("new") else "",
        "queue": queued_text(status) or "",
        "failure": f"{failure.get('phase')}/{failure.get('step')} ({failure.get('error')})" if failure else "",
        "message": status.get("message") or "",
        "phases": [_phase(meta["name"], p, now) for p in phases],
        "rollback": [_phase(meta["name"], p, now) for p in rollback],
        "approvals": _approvals(phases, now),
        "actions": run_actions(run),
    }


def _phase(run: str, phase: PhaseView, now: datetime) -> Body:
    record = phase.record
    return {
        "name": record["name"],
        "state": state(phase.state),
        "weight": phase.weight,
        "elapsed": elapsed(record.get("startedAt"), record.get("finishedAt"), now) or "",
        "undone": phase.undone,
        "steps": [_step(run, step, phase.specs.get(step["name"]) or {}, now) for step in record.get("steps") or []],
    }


def _step(run: str, step: Body, spec: Body, now: datetime) -> Body:
    shown = {"Intervention": "Waiting", "Retry": "Running"}.get(step.get("awaiting") or "", step.get("state"))
    detail, tone = step_detail(run, step, spec, now)
    return {
        "name": step["name"],
        "kind": step.get("kind") or "",
        "state": state(shown or "Pending"),
        "elapsed": elapsed(step.get("startedAt"), step.get("finishedAt"), now) or "",
        "attempts": step.get("attempts") or 0,
        "detail": detail,
        "tone": tone,
    }


def _approvals(phases: list[PhaseView], now: datetime) -> list[Body]:
    """The approval steps that wait: who may approve, who has, and how many more are needed."""
    found = []
    for phase in phases:
        for step in phase.record.get("steps") or []:
            if step.get("awaiting") == "Approval":
                spec: Body = (phase.specs.get(step["name"]) or {}).get("approval") or {}
                found.append({"step": step["name"], **approval(spec, step, now)})
    return found


def approval(spec: Body, record: Body, now: datetime) -> Body:
    """An approval (step or stage): its approvers, who approved, and how many more approvals it needs while it
    waits."""
    approved: list[str] = record.get("approvedBy") or []
    return {
        "approvers": record.get("approvers") or spec.get("approvers") or [],
        "approvedBy": approved,
        "needed": max(0, int(spec.get("minApprovals") or 1) - len(approved)),
        "message": spec.get("message") or "",
        "deadline": until(record.get("deadline"), now) or "",
    }


# A PipelineRun


def pipeline_run(pipeline_run: Body, runs: Mapping[str, Body | str], now: datetime) -> Body:
    """A PipelineRun as a graph: each stage with its column (how deep in the `requires` DAG it is) and row, the
    edges between them, the approval or the WorkflowRun of each stage (`runs`: stage name → its run, or why it
    could not be read), and the barriers the runs declare with who has arrived."""
    meta, spec = pipeline_run["metadata"], pipeline_run.get("spec") or {}
    status: Body = pipeline_run.get("status") or {}
    trigger: Body = spec.get("trigger") or {}
    specs = {s.get("name"): s for s in (status.get("pipelineSpec") or {}).get("stages") or []}
    graph = stage_graph(status)
    columns = _columns(graph)
    rows: dict[int, int] = {}
    stages = []
    for record in status.get("stages") or []:
        name = record["name"]
        column = columns.get(name, 0)
        rows[column] = rows.get(column, -1) + 1
        stage = _stage(record, specs.get(name) or {}, runs.get(name), (column, rows[column]), graph, now)
        if record.get("state") == "WaitingForApproval":
            stage["actions"] = [_action(v, PIPELINE_RUNS, pipeline_run, stage=name) for v in ("approve", "reject")]
        stages.append(stage)
    phase = status.get("phase") or "Pending"
    return {
        "view": "pipelinerun",
        "kind": "PipelineRun",
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "state": state(phase),
        "pipeline": (spec.get("pipelineRef") or {}).get("name") or status.get("pipeline") or "",
        "stagesDone": status.get("stagesDone") or "",
        "trigger": joined(
            [
                f"branch {trigger['branch']}" if trigger.get("branch") else None,
                f"tag {trigger['tag']}" if trigger.get("tag") else None,
                f"commit {trigger['commit']}" if trigger.get("commit") else None,
                f"by {trigger['by']}" if trigger.get("by") else None,
            ],
            " · ",
        ),
        "elapsed": elapsed(status.get("startedAt"), status.get("finishedAt"), now) or "",
        "startedAt": status.get("startedAt"),
        "finishedAt": status.get("finishedAt"),
        "message": status.get("message") or "",
        "stages": stages,
        "edges": [[required, name] for name, needs in graph.items() for required in needs],
        "barriers": barriers(runs),
        "actions": [] if phase in FINISHED else [_action("abort", PIPELINE_RUNS, pipeline_run)],
    }


def stage_graph(status: Body) -> dict[str, list[str]]:
    """Stage → the stages it requires, from the pipeline as the run started it (before it started: the stages
    its status lists, one after the other)."""
    if status.get("pipelineSpec"):
        try:
            return requirements(PipelineSpec.model_validate(status["pipelineSpec"]))
        except ValueError:
            pass
    names = [s["name"] for s in status.get("stages") or []]
    return {name: names[i - 1 : i] for i, name in enumerate(names)}


def _columns(graph: Mapping[str, list[str]]) -> dict[str, int]:
    """Each stage's column: 0 for a stage that requires none, else one more than the deepest it requires."""
    columns: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name not in columns:
            needs = [n for n in graph.get(name, []) if n in graph and n not in seen]
            columns[name] = 1 + max((depth(n, seen | {name}) for n in needs), default=-1)
        return columns[name]

    for name in graph:
        depth(name, frozenset())
    return columns


def _stage(
    record: Body,
    spec: Body,
    run: Body | str | None,
    place: tuple[int, int],
    graph: Mapping[str, list[str]],
    now: datetime,
) -> Body:
    stage_state = record.get("state") or "Pending"
    is_approval = "approval" in spec or bool(record.get("approvers"))
    view: Body = {
        "name": record["name"],
        "kind": "approval" if is_approval else "workflow",
        "state": state(stage_state),
        "column": place[0],
        "row": place[1],
        "requires": list(graph.get(record["name"], [])),
        "elapsed": elapsed(record.get("startedAt"), record.get("finishedAt"), now) or "",
        "startedAt": record.get("startedAt"),
        "finishedAt": record.get("finishedAt"),
        "message": record.get("message") or "",
        "decidedBy": record.get("decidedBy") or "",
        "approval": approval(spec.get("approval") or {}, record, now) if is_approval else None,
        "run": None,
        "runError": "",
        "actions": [],
    }
    if isinstance(run, str):
        view["runError"] = f"workflowrun {record.get('workflowRun')}: {run}"
    elif run is not None:
        view["run"] = workflow_run(run, now)
    return view


def barriers(runs: Mapping[str, Body | str]) -> list[Body]:
    """Each barrier the stage runs declare, with the stages that arrived (marked reached or crossed), failed it,
    or are still missing. The marks are read as they are; only the operator can tell a sealed one."""
    found: dict[str, Body] = {}
    for stage, run in sorted(runs.items()):
        if isinstance(run, str):
            continue
        status: Body = run.get("status") or {}
        annotations: Body = run["metadata"].get("annotations") or {}
        steps = {s["name"]: s for p in status.get("phases") or [] for s in p.get("steps") or []}
        for phase in (status.get("workflowSpec") or {}).get("phases") or []:
            for step in phase.get("steps") or []:
                name = (step.get("barrier") or {}).get("name")
                if not name or (steps.get(step.get("name")) or {}).get("state") == "Skipped":
                    continue
                entry = found.setdefault(name, {"name": name, "arrived": [], "failed": [], "missing": []})
                mark, _ = read_mark(str(annotations.get(BARRIER_PREFIX + name, "")))
                where = {REACHED: "arrived", CROSSED: "arrived", FAILED: "failed"}.get(mark, "missing")
                entry[where].append(stage)
    for entry in found.values():
        entry["state"] = state("Failed" if entry["failed"] else "Succeeded" if not entry["missing"] else "Waiting")
    return list(found.values())


# Decisions


def _action(verb: str, plural: str, obj: Body, **about: str) -> Body:
    kind = "workflowrun" if plural == WORKFLOW_RUNS else "pipelinerun"
    meta = obj["metadata"]
    return {"verb": verb, "kind": kind, "namespace": meta.get("namespace", ""), "name": meta["name"], **about}


def run_actions(run: Body) -> list[Body]:
    """The buttons a WorkflowRun shows: what it waits for can be decided, a run in flight can be aborted or
    rolled back, and a run that succeeded can be rolled back."""
    status: Body = run.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase in FINISHED:
        return [_action("rollback", WORKFLOW_RUNS, run)] if phase == "Succeeded" else []
    verbs: list[tuple[str, dict[str, str]]] = []
    for record in status.get("phases") or []:
        for step in record.get("steps") or []:
            about = {"step": step["name"]}
            awaiting = step.get("awaiting")
            if awaiting == "Approval":
                verbs += [("approve", about), ("reject", about)]
            elif awaiting in ("Pause", "Resume"):
                verbs += [("promote", {}), ("resume", about)]
            elif awaiting == "Intervention":
                verbs += [("retry", {}), ("ignore", {})]
    verbs += [("abort", {}), ("rollback", {})]
    return [_action(verb, WORKFLOW_RUNS, run, **about) for verb, about in verbs]
