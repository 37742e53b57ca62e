"""`make bench-scale`: the Convoy operator (one process, the Helm chart's RBAC) facing many Workflows with history
and many runs active at once, on the local cluster (kwok makes pods cheap).

1. Before the operator starts: W Workflows spread over K namespaces, each with H entries of status.history, and A
   target Deployments (+ Services) ready at 1.0. Convoy's admission webhooks are removed first, so the objects can
   be created while no operator runs (the operator registers them again when it starts).
2. The operator starts; the bench times its first write to a Workflow (first reconcile), its readiness (webhooks
   registered) and when its writes to Workflows stop (startup done), sampling its RSS all along.
3. A runs (a Canary: 50% then 100%, one deploy step each) are created at once; the bench watches the Deployments
   and the runs until every run ends, and measures the operator-added latency per step from outside (see
   docs/benchmarks.md): the bench-received time of the Deployment watch event that made a step ready (the last
   not-steady -> steady transition of the run's Deployments) to the bench-received time of the run's next status
   change (phase, currentPhase, currentStep or weight).

The operator's API requests and 429s are counted by the API server under a FlowSchema of its own.

    python hack/bench/scale.py --workflows 10000 --active 1000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import (
    Kube,
    Obj,
    Process,
    Watch,
    chart_limits,
    convoy_process,
    convoy_ready,
    deployment,
    deployment_done,
    ensure_nodes,
    log,
    onboard,
    percentile,
    service,
    setup_convoy,
    wait,
)

DASH = "\u2013"  # en dash, for ranges and missing values in the tables
IMAGE_OLD, IMAGE_NEW = "registry.example/app:1.0", "registry.example/app:2.0"
LABEL = "convoy-bench-scale"
GROUP = "/apis/convoy.dev/v1alpha1"


def workflow(name: str, target: str) -> Obj:
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "labels": {LABEL: "1"}},
        "spec": {
            "type": "Canary",
            "target": {"deployment": target, "service": target},
            "artifact": {"image": "registry.example/app:${workflow.variables.version}"},
            "variables": [{"name": "version", "required": True}],
            "canary": {"split": "Replicas", "maxSurge": 0},
            "phases": [
                {"name": "canary-50", "weight": 50, "steps": [{"name": "shift", "deploy": {}}]},
                {"name": "promote", "weight": 100, "steps": [{"name": "promote", "deploy": {}}]},
            ],
        },
    }


def history(name: str, namespace: str, entries: int) -> Obj:
    return {
        "status": {
            "history": [
                {
                    "run": f"{name}-{k}",
                    "revision": f"registry.example/app:0.{k + 1}",
                    "previous": f"registry.example/app:0.{k}",
                    "deployedAt": f"2026-01-{k + 1:02d}T00:00:00Z",
                    "targets": [f"{namespace}/{name}"],
                }
                for k in range(entries)
            ]
        }
    }


def steady(obj: Obj) -> bool:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (
        int(status.get("observedGeneration") or 0) >= int(obj["metadata"].get("generation") or 0)
        and int(status.get("replicas") or 0) == want
        and int(status.get("updatedReplicas") or 0) == want
        and int(status.get("readyReplicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
    )


class Steps:
    """Fed by two watches (Deployments, WorkflowRuns): per run, the latency from the Deployment event that made
    its current step ready to its next status change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steady: dict[str, bool] = {}
        self.ready_at: dict[str, float] = {}  # target key (namespace/app) -> last not-steady -> steady event
        self.signature: dict[str, tuple[Any, ...]] = {}
        self.changed_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.sampled_at: list[float] = []  # when each latency sample ended (the run's status change was received)
        self.created: dict[str, float] = {}
        self.first_change: dict[str, float] = {}
        self.ended: dict[str, tuple[float, str]] = {}

    @staticmethod
    def target_key(namespace: str, name: str) -> str:
        return f"{namespace}/{name.removesuffix('-canary')}"

    def deployment(self, kind: str, obj: Obj, received: float) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        now_steady = kind != "DELETED" and steady(obj)
        with self.lock:
            if now_steady and not self.steady.get(key, False) and kind != "LISTED":
                self.ready_at[self.target_key(meta["namespace"], meta["name"])] = received
            self.steady[key] = now_steady

    def run(self, kind: str, obj: Obj, received: float) -> None:
        if kind in ("DELETED", "LISTED"):
            return
        meta, status = obj["metadata"], obj.get("status") or {}
        key = f"{meta['namespace']}/{meta['name']}"
        sig = (status.get("phase"), status.get("currentPhase"), status.get("currentStep"), status.get("weight"))
        with self.lock:
            if kind == "ADDED":
                self.created.setdefault(key, received)
            if sig == self.signature.get(key):
                return
            previous = self.changed_at.get(key)
            target = self.target_key(meta["namespace"], obj["spec"]["workflowRef"]["name"])
            ready = self.ready_at.get(target)
            if previous is not None and ready is not None and ready > previous:
                self.latencies.append(received - ready)
                self.sampled_at.append(received)
            if status.get("phase") and key not in self.first_change:
                self.first_change[key] = received
            self.signature[key] = sig
            self.changed_at[key] = received
            if status.get("phase") in ("Succeeded", "Failed", "RolledBack", "Aborted") and key not in self.ended:
                self.ended[key] = (received, str(status.get("phase")))


class Sampler(threading.Thread):
    """The operator's RSS every half second."""

    def __init__(self, process: Process) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.max_rss = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set() and self.process.alive():
            try:
                self.max_rss = max(self.max_rss, self.process.usage().rss_mib)
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.5)


def remove_convoy_webhooks(kube: Kube) -> None:
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        path = f"/apis/admissionregistration.k8s.io/v1/{kind}"
        for item in kube.request("GET", path).get("items") or []:
            groups = {
                g for w in item.get("webhooks") or [] for r in w.get("rules") or [] for g in r.get("apiGroups") or []
            }
            if "convoy.dev" in groups:
                log(f"removing {kind}/{item['metadata']['name']} (the operator registers it again at start)")
                kube.try_request("DELETE", f"{path}/{item['metadata']['name']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=10000)
    parser.add_argument("--active", type=int, default=1000, help="runs created at once")
    parser.add_argument("--history", type=int, default=5, help="status.history entries per Workflow")
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=2, help="replicas of each active run's target")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--workdir", default=os.environ.get("BENCH_WORKDIR", "/tmp/convoy-bench"))
    parser.add_argument("--out", help="also write the table and the raw figures here (.md and .json)")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kube = Kube(os.environ["KUBECONFIG"])
    stamp = int(time.time()) % 100000
    spaces = [f"bench-scale-{stamp}-{k}" for k in range(args.namespaces)]
    if args.active > args.workflows:
        parser.error("--active cannot exceed --workflows (each run uses its own Workflow)")

    log("setup: CRDs, the chart's RBAC, the operator's identity and FlowSchema")
    kubeconfig = setup_convoy(kube, workdir)
    remove_convoy_webhooks(kube)
    ensure_nodes(kube, max(1, args.active * args.replicas * 2 // 800 + 1))
    for ns in spaces:
        onboard(kube, ns)
    t = time.monotonic()
    targets = [(spaces[i % len(spaces)], f"app-{i}") for i in range(args.active)]
    kube.create_all([(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(n, IMAGE_OLD, args.replicas, {LABEL: "1"}))
                     for ns, n in targets])  # fmt: skip
    kube.create_all([(f"/api/v1/namespaces/{ns}/services", service(n)) for ns, n in targets])
    log(
        f"{args.active} target Deployments and Services in {time.monotonic() - t:.0f}s; creating {args.workflows} Workflows"
    )
    t = time.monotonic()
    flows = [(spaces[i % len(spaces)], f"app-{i}") for i in range(args.workflows)]
    kube.create_all([(f"{GROUP}/namespaces/{ns}/workflows", workflow(n, n)) for ns, n in flows], workers=12)
    log(f"{args.workflows} Workflows in {time.monotonic() - t:.0f}s; writing their history")
    t = time.monotonic()

    def write_history(item: tuple[str, str]) -> None:
        ns, n = item
        kube.request("PATCH", f"{GROUP}/namespaces/{ns}/workflows/{n}/status", history(n, ns, args.history),
                     content_type="application/merge-patch+json")  # fmt: skip

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(write_history, flows))
    log(f"history written in {time.monotonic() - t:.0f}s; waiting for the targets to be ready")

    def targets_ready() -> bool:
        items: list[Obj] = kube.request("GET", "/apis/apps/v1/deployments", query=[("labelSelector", f"{LABEL}=1")])[
            "items"
        ]
        return bool(sum(1 for o in items if deployment_done(o, IMAGE_OLD)) >= args.active)

    wait(targets_ready, 900, f"{args.active} targets ready", 2)

    # --- the operator starts ----------------------------------------------------------------------------------
    workflow_writes: list[float] = []
    written: set[str] = set()

    def on_workflow(kind: str, obj: Obj, received: float) -> None:
        if kind == "MODIFIED":
            workflow_writes.append(received)
            written.add(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")

    wf_watch = Watch(kube, f"{GROUP}/workflows", lambda *_: None, f"{LABEL}=1")
    wf_watch.on_event = lambda k, o, r: on_workflow(k, o, r) if wf_watch.synced.is_set() else None
    steps = Steps()
    dep_watch = Watch(kube, "/apis/apps/v1/deployments", steps.deployment)
    run_watch = Watch(kube, f"{GROUP}/workflowruns", steps.run)
    for w in (wf_watch, dep_watch, run_watch):
        w.start()
        w.synced.wait(120)
    flow0 = kube.flow_counts().get("bench-convoy", (0.0, 0.0))
    process = convoy_process(kubeconfig, workdir, f"convoy-scale-{stamp}")
    t_start = time.monotonic()
    process.start()
    sampler = Sampler(process)
    sampler.start()
    wait(lambda: convoy_ready(process, 0), 600, "the operator to become ready", 0.2)
    t_ready = time.monotonic()

    def quiet() -> bool:  # no write to a Workflow for 5 s
        if workflow_writes:
            return time.monotonic() - workflow_writes[-1] > 5
        return time.monotonic() - t_ready > 20

    wait(quiet, 900, "the operator's startup writes to settle", 1)
    t_settled = workflow_writes[-1] if workflow_writes else t_ready
    first_write = workflow_writes[0] - t_start if workflow_writes else None
    flow1 = kube.flow_counts().get("bench-convoy", (0.0, 0.0))
    rss_startup = sampler.max_rss
    log(f"operator ready after {t_ready - t_start:.1f}s; first Workflow write after {first_write}; "
        f"{len(written)} Workflows written; settled at {t_settled - t_start:.1f}s; RSS {rss_startup:.0f} MiB")  # fmt: skip

    # --- A runs at once ---------------------------------------------------------------------------------------
    def create_run(item: tuple[str, str]) -> None:
        ns, n = item
        body = {"apiVersion": "convoy.dev/v1alpha1", "kind": "WorkflowRun", "metadata": {"name": f"{n}-2-0"},
                "spec": {"workflowRef": {"name": n}, "variables": {"version": "2.0"}}}  # fmt: skip
        kube.request("POST", f"{GROUP}/namespaces/{ns}/workflowruns", body)

    # The bench stamps each watch event when its thread reads it: a pause of its own garbage collector (it holds
    # every watched object too) between a readiness and the status change that follows would count as the
    # operator's. So its collector stops for the measured window, after one last collection.
    gc.collect()
    gc.freeze()
    gc.disable()
    t_runs = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create_run, targets))
    t_created = time.monotonic()
    log(f"{args.active} runs created in {t_created - t_runs:.1f}s")
    try:
        wait(lambda: len(steps.ended) >= args.active, args.timeout, f"{args.active} runs to end", 2)
    except TimeoutError as error:
        log(str(error))
    t_end = time.monotonic()
    flow2 = kube.flow_counts().get("bench-convoy", (0.0, 0.0))
    usage = process.usage() if process.alive() else None
    sampler.stopped.set()
    for w in (wf_watch, dep_watch, run_watch):
        w.stop()
    ended = list(steps.ended.values())
    outcome: dict[str, int] = {}
    for _, phase in ended:
        outcome[phase] = outcome.get(phase, 0) + 1
    durations = [steps.ended[k][0] - steps.created.get(k, t_runs) for k in steps.ended]
    to_first = [steps.first_change[k] - steps.created.get(k, t_runs) for k in steps.first_change]
    lat_ms = [x * 1000 for x in steps.latencies]
    limit = chart_limits().get("memory", "512Mi")
    window = t_end - t_runs
    figures = {
        "workflows": args.workflows, "history_per_workflow": args.history, "active_runs": args.active,
        "namespaces": args.namespaces, "replicas_per_target": args.replicas,
        "startup_ready_s": t_ready - t_start, "startup_first_workflow_write_s": first_write,
        "startup_workflows_written": len(written), "startup_settled_s": t_settled - t_start,
        "startup_requests": flow1[0] - flow0[0], "startup_429": flow1[1] - flow0[1],
        "rss_max_mib": sampler.max_rss, "rss_peak_hwm_mib": usage.peak_rss_mib if usage else None,
        "rss_startup_mib": rss_startup, "cpu_s": usage.cpu_seconds if usage else None,
        "runs_window_s": window, "runs_requests": flow2[0] - flow1[0], "runs_429": flow2[1] - flow1[1],
        "runs_requests_per_s": (flow2[0] - flow1[0]) / window if window > 0 else None,
        "runs_outcome": outcome, "runs_not_ended": args.active - len(ended),
        "run_to_first_status_p50_s": percentile(to_first, 50), "run_to_first_status_p99_s": percentile(to_first, 99),
        "run_duration_p50_s": percentile(durations, 50), "run_duration_p99_s": percentile(durations, 99),
        "step_latency_samples": len(lat_ms), "step_latency_p50_ms": percentile(lat_ms, 50),
        "step_latency_p99_ms": percentile(lat_ms, 99), "step_latency_max_ms": max(lat_ms) if lat_ms else None,
        "step_latency_slowest": sorted(  # (s after the first run was created, ms): when the slow ones happen
            ((round(at - t_runs, 1), round(ms)) for at, ms in zip(steps.sampled_at, lat_ms, strict=True)),
            key=lambda sample: -sample[1],
        )[:20],
        "memory_limit": limit, "load_average": os.getloadavg(),
    }  # fmt: skip
    process.stop()
    (workdir / f"scale-{stamp}.json").write_text(json.dumps(figures, indent=1))

    def f(value: Any, fmt: str = "{:.1f}") -> str:
        return DASH if value is None else fmt.format(value)

    rows = [
        ("Workflows (status.history entries each) / namespaces", f"{args.workflows} ({args.history}) / {args.namespaces}"),
        ("runs active at once (replicas per target)", f"{args.active} ({args.replicas})"),
        ("operator RSS, max sampled / peak (VmHWM), MiB", f"{f(sampler.max_rss, '{:.0f}')} / "
         f"{f(figures['rss_peak_hwm_mib'], '{:.0f}')} (chart limit {limit})"),
        ("operator RSS after startup, MiB", f(rss_startup, "{:.0f}")),
        ("start → ready (webhooks registered), s", f(figures["startup_ready_s"])),
        ("start → first write to a Workflow (first reconcile), s", f(first_write)),
        ("start → startup writes settled, s (Workflows written)", f"{f(figures['startup_settled_s'])} ({len(written)})"),
        ("API requests during startup (429s)", f"{figures['startup_requests']:.0f} ({figures['startup_429']:.0f})"),
        ("API requests while the runs ran, per second (429s)",
         f"{f(figures['runs_requests_per_s'])} over {window:.0f}s ({figures['runs_429']:.0f})"),
        ("operator CPU, s (whole process)", f(figures["cpu_s"])),
        ("runs ended: outcome", ", ".join(f"{k} {v}" for k, v in sorted(outcome.items())) or "none"),
        ("run created → first status, p50 / p99, s", f"{f(figures['run_to_first_status_p50_s'])} / "
         f"{f(figures['run_to_first_status_p99_s'])}"),
        ("run duration, p50 / p99, s", f"{f(figures['run_duration_p50_s'])} / {f(figures['run_duration_p99_s'])}"),
        ("operator-added latency per step, p50 / p99 / max, ms (samples)",
         f"{f(figures['step_latency_p50_ms'], '{:.0f}')} / {f(figures['step_latency_p99_ms'], '{:.0f}')} / "
         f"{f(figures['step_latency_max_ms'], '{:.0f}')} ({len(lat_ms)})"),
    ]  # fmt: skip
    text = "| figure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(text)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs")
    if args.out:
        Path(args.out).with_suffix(".md").write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
