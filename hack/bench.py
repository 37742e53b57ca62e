"""`make bench`: what one reconcile costs in the planner, and how large a status grows, for the largest workflow
the schema allows (20 phases of 50 steps). Prints a small report; exits 1 if the status of that run, driven to
its end, would not fit comfortably in an etcd object (1.5 MiB limit; we want under 1 MiB)."""

from __future__ import annotations

import json
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from convoy.api.workflow import WorkflowSpec
from convoy.api.workflowrun import WorkflowRunSpec, WorkflowRunStatus
from convoy.planner.cycle import RunIdentity
from convoy.planner.observed import Observed, Workload
from convoy.planner.run import plan

STATUS_BUDGET = 1024 * 1024  # etcd refuses objects over 1.5 MiB; the rest is for metadata and spec


def largest_workflow() -> WorkflowSpec:
    steps = [{"name": "deploy", "deploy": {}}] + [
        {"name": f"note-{i}", "notify": {"message": "x" * 200}} for i in range(49)
    ]
    phases = [{"name": f"phase-{p}", "steps": steps} for p in range(20)]
    return WorkflowSpec.model_validate(
        {"type": "Rolling", "target": {"deployment": "web"}, "artifact": {"image": "web:2"}, "phases": phases}
    )


def drive(wf: WorkflowSpec) -> tuple[WorkflowRunStatus, list[float]]:
    """Run the workflow to its end, each deploy rolled out at once; the planner time of every reconcile."""
    spec = WorkflowRunSpec.model_validate({"workflowRef": {"name": "web"}})
    run = RunIdentity("bench", "default")
    status, now, timings = WorkflowRunStatus(), datetime(2026, 1, 1, tzinfo=UTC), []
    for _ in range(200):
        phase = next((r.name for r in status.phases if r.state.value != "Succeeded"), "phase-0")
        observed = Observed(
            workloads={"default/web": Workload("default", "web", image="web:2", applied=f"bench/{phase}/deploy")}
        )
        started = time.perf_counter()
        result = plan(run=run, spec=spec, workflow=wf, status=status, observed=observed, now=now)
        timings.append(time.perf_counter() - started)
        status, now = result.status, now + timedelta(seconds=1)
        if status.result is not None:
            break
    return status, timings


def main() -> int:
    wf = largest_workflow()
    status, timings = drive(wf)
    tracemalloc.start()
    drive(wf)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = len(json.dumps(status.to_wire()))
    print(f"largest workflow: 20 phases x 50 steps, {status.result} after {len(timings)} reconciles")
    print(
        f"planner time per reconcile: median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )
    print(f"status size at the end: {size / 1024:.0f} KiB (budget {STATUS_BUDGET // 1024} KiB; etcd limit 1536 KiB)")
    print(f"peak memory while planning: {peak / 1024 / 1024:.1f} MiB")
    return 0 if size <= STATUS_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
