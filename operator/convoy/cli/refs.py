"""Naming runs on the command line as kubectl does: `wfr/NAME`, `plr/NAME`, `workflowrun NAME`, or a bare NAME
(a WorkflowRun, else a PipelineRun of that name)."""

from __future__ import annotations

from dataclasses import dataclass

from convoy.cli.env import Body, Cluster
from convoy.cli.errors import NotFound, UsageError

WORKFLOW_RUNS, PIPELINE_RUNS = "workflowruns", "pipelineruns"
RUN_TYPES = {
    "wfr": WORKFLOW_RUNS,
    "workflowrun": WORKFLOW_RUNS,
    "workflowruns": WORKFLOW_RUNS,
    "plr": PIPELINE_RUNS,
    "pipelinerun": PIPELINE_RUNS,
    "pipelineruns": PIPELINE_RUNS,
}


@dataclass(frozen=True)
class RunRef:
    name: str
    plural: str | None = None  # None: not said; a WorkflowRun of that name, else a PipelineRun


def parse_run(text: str, kind: str | None = None) -> RunRef:
    """`wfr/web-1`, `plr/release-7` or `web-1`; with `kind`, the type was given as a separate word. Pure."""
    if "/" in text:
        if kind is not None:
            raise UsageError(f"give the type once: '{kind} {text}'")
        kind, text = text.split("/", 1)
    if not text:
        raise UsageError("a run name is required")
    if kind is None:
        return RunRef(text)
    plural = RUN_TYPES.get(kind.lower())
    if plural is None:
        raise UsageError(f"unknown run type '{kind}': use one of {', '.join(RUN_TYPES)}")
    return RunRef(text, plural)


def fetch_run(cluster: Cluster, ref: RunRef) -> tuple[str, Body]:
    """The plural and the object a reference names."""
    if ref.plural is not None:
        return ref.plural, cluster.get(ref.plural, ref.name)
    try:
        return WORKFLOW_RUNS, cluster.get(WORKFLOW_RUNS, ref.name)
    except NotFound:
        pass
    try:
        return PIPELINE_RUNS, cluster.get(PIPELINE_RUNS, ref.name)
    except NotFound:
        raise NotFound(f"no workflowrun or pipelinerun {ref.name} in namespace {cluster.namespace}") from None
