"""`make bench-compare`: the same canary driven by Convoy and by Argo Rollouts' controller, one controller at a
time, interleaved, plus the floor (the same image change as a plain Deployment rollout, no controller).

The canary: a 10-replica target, image 1.0 -> 2.0, weight 20% -> pause 5 s -> 50% -> pause 5 s -> 100%, replica
split, no traffic router. Each controller runs as a process of its own with its own ServiceAccount; a FlowSchema per
ServiceAccount makes the API server count that controller's requests (apiserver_flowcontrol_dispatched_requests_total
{flow_schema=...}). See docs/benchmarks.md for what each figure means.

    python hack/bench/compare.py --n 1,20,100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from common import (
    Kube,
    Obj,
    Process,
    Watch,
    convoy_calls,
    convoy_process,
    deployment,
    deployment_done,
    ensure_nodes,
    free_port,
    log,
    onboard,
    percentile,
    service,
    setup_convoy,
    start_convoy,
    wait,
)

DASH = "\u2013"  # en dash, for ranges and missing values in the tables
IMAGE_OLD, IMAGE_NEW = "registry.example/app:1.0", "registry.example/app:2.0"
ARGO_NAMESPACE, ARGO_ACCOUNT = "argo-rollouts", "argo-rollouts"
FINISHED = ("Succeeded", "Failed", "RolledBack", "Aborted")


@dataclass
class Trial:
    controller: str
    n: int
    repeat: int
    durations: list[float] = field(default_factory=list)
    total: float = 0.0
    cpu: float | None = None
    peak_rss: float | None = None
    requests: float | None = None
    rejected: float | None = None
    failed: int = 0
    calls: dict[str, float] = field(default_factory=dict)  # Convoy's own count, by verb and resource
    cluster: dict[str, float] = field(default_factory=dict)  # requests of the cluster's own controllers, by FlowSchema
    work: dict[str, float] = field(default_factory=dict)  # every request on WORKLOAD_RESOURCES, by verb and code


# --- the canary, for each controller ----------------------------------------------------------------------------


def convoy_workflow(name: str, replicas: int) -> Obj:
    pause = {"name": "pause", "pause": {"duration": "5s"}}
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {
            "type": "Canary",
            "target": {"deployment": name, "service": name},
            "artifact": {"image": "registry.example/app:${workflow.variables.version}"},
            "variables": [{"name": "version", "required": True}],
            "canary": {"split": "Replicas", "maxSurge": 0},
            "phases": [
                {"name": "canary-20", "weight": 20, "steps": [{"name": "shift", "deploy": {}}, pause]},
                {"name": "canary-50", "weight": 50, "steps": [{"name": "shift", "deploy": {}}, pause]},
                {"name": "promote", "weight": 100, "steps": [{"name": "promote", "deploy": {}}]},
            ],
        },
    }


def convoy_run(name: str) -> Obj:
    return {
        "apiVersion": "convoy.dev/v1alpha1",
        "kind": "WorkflowRun",
        "metadata": {"name": f"{name}-2-0"},
        "spec": {"workflowRef": {"name": name}, "variables": {"version": "2.0"}},
    }


def rollout(name: str, replicas: int, image: str) -> Obj:
    """Argo's defaults except the steps (maxSurge/maxUnavailable 25%, as Argo documents)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image}]}},
            "strategy": {"canary": {"steps": [
                {"setWeight": 20}, {"pause": {"duration": "5s"}}, {"setWeight": 50}, {"pause": {"duration": "5s"}},
            ]}},
        },
    }  # fmt: skip


def rollout_done(obj: Obj, image: str) -> bool:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (
        spec["template"]["spec"]["containers"][0]["image"] == image
        and status.get("phase") == "Healthy"
        and str(status.get("observedGeneration")) == str(obj["metadata"].get("generation"))
        and bool(status.get("stableRS"))
        and status.get("stableRS") == status.get("currentPodHash")
        and int(status.get("updatedReplicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
    )


# --- tracking completion through a watch ------------------------------------------------------------------------


class Tracker:
    """Records, per object name, the first time (bench clock) `done(obj)` held after `arm()`."""

    def __init__(self, done: Callable[[Obj], bool], failed: Callable[[Obj], bool] = lambda _: False,
                 key: Callable[[Obj], str] = lambda o: str(o["metadata"]["name"])) -> None:  # fmt: skip
        self.done, self.failed, self.key = done, failed, key
        self.lock = threading.Lock()
        self.finished: dict[str, float] = {}
        self.failures: set[str] = set()
        self.latest: dict[str, Obj] = {}
        self.armed = False

    def arm(self) -> None:
        with self.lock:
            self.armed = True
            for name, obj in self.latest.items():
                self._check(name, obj, time.monotonic())

    def __call__(self, kind: str, obj: Obj, received: float) -> None:
        name = self.key(obj)
        with self.lock:
            self.latest[name] = obj
            if self.armed and kind != "DELETED":
                self._check(name, obj, received)

    def _check(self, name: str, obj: Obj, received: float) -> None:
        if name in self.finished:
            return
        if self.done(obj):
            self.finished[name] = received
        elif self.failed(obj):
            self.finished[name] = received
            self.failures.add(name)

    def count(self) -> int:
        with self.lock:
            return len(self.finished)


def parallel(fn: Callable[[int], None], n: int, workers: int = 16) -> None:
    with ThreadPoolExecutor(min(workers, max(n, 1))) as pool:
        list(pool.map(fn, range(n)))


# --- one trial ----------------------------------------------------------------------------------------------------


# The cluster's own controllers that do each rollout's work (kube-controller-manager runs each under a ServiceAccount
# of its own): their requests, counted the same way, say how much of the cluster's capacity a design uses. Each has
# its own client-side rate limit (20/s by default), and the ReplicaSet controller's is what bounds the floor.
CLUSTER_CONTROLLERS = {"bench-replicaset-controller": "replicaset-controller",
                       "bench-deployment-controller": "deployment-controller"}  # fmt: skip
WORKLOAD_RESOURCES = ("pods", "replicasets", "deployments", "rollouts", "events")


class Bench:
    def __init__(self, kube: Kube, workdir: Path, argo_bin: str, argo_src: str, replicas: int, timeout: float) -> None:
        self.kube, self.workdir, self.replicas, self.timeout = kube, workdir, replicas, timeout
        self.argo_bin, self.argo_src = argo_bin, argo_src
        self.convoy_kubeconfig = ""
        self.argo_kubeconfig = ""

    def setup(self, controllers: Sequence[str], max_n: int) -> None:
        # room for N targets of `replicas` pods plus surges (the three dev-cluster nodes hold 110 pods each)
        ensure_nodes(self.kube, max(1, (max_n * self.replicas * 2) // 800 + 1))
        for flow, account in CLUSTER_CONTROLLERS.items():
            self.kube.flow_schema(flow, "kube-system", account, level="workload-high")
        if "convoy" in controllers:
            self.convoy_kubeconfig = setup_convoy(self.kube, self.workdir)
        if "argo" in controllers:
            self.setup_argo()

    def setup_argo(self) -> None:
        crds = Path(self.argo_src) / "manifests" / "crds"
        docs = [d for f in sorted(crds.glob("*-crd.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
        self.kube.apply(docs)
        wait(lambda: self.established("rollouts.argoproj.io"), 60, "Argo Rollouts' CRD to be established")
        role = yaml.safe_load(
            (Path(self.argo_src) / "manifests" / "role" / "argo-rollouts-clusterrole.yaml").read_text()
        )
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "argo-rollouts-bench"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role["metadata"]["name"],
            },
            "subjects": [{"kind": "ServiceAccount", "name": ARGO_ACCOUNT, "namespace": ARGO_NAMESPACE}],
        }
        self.kube.namespace(ARGO_NAMESPACE)
        self.kube.apply([role, binding])
        self.kube.flow_schema("bench-argo", ARGO_NAMESPACE, ARGO_ACCOUNT)
        self.argo_kubeconfig = self.kube.identity(ARGO_NAMESPACE, ARGO_ACCOUNT, self.workdir / "argo.kubeconfig")

    def quiet(self, still: float = 3, timeout: float = 300) -> None:
        """Waits until the cluster's controllers have made no request for `still` seconds, so that no backlog of an
        earlier trial (or of the targets' creation) is counted against this one."""

        def counts() -> list[float]:
            flows = self.kube.flow_counts()
            return [flows.get(flow, (0.0, 0.0))[0] for flow in CLUSTER_CONTROLLERS]

        deadline, last, since = time.monotonic() + timeout, counts(), time.monotonic()
        while time.monotonic() - since < still:
            if time.monotonic() > deadline:
                log(f"warning: the cluster's controllers still busy after {timeout:.0f}s")
                return
            time.sleep(0.5)
            now = counts()
            if now != last:
                last, since = now, time.monotonic()

    def established(self, crd: str) -> bool:
        # `kubectl wait` fails outright on a CRD whose status the API server has not written yet (or written with
        # conditions still null, as a fresh cluster may)
        status = (
            self.kube.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}").get("status")
            or {}
        )
        return any(c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions") or [])

    # each trial: fresh namespace, fresh controller process; the window measured is trigger -> all done

    def trial(self, controller: str, n: int, repeat: int) -> Trial:
        ns = f"bench-{controller}-{n}-{repeat}-{int(time.time()) % 100000}"
        result = Trial(controller, n, repeat)
        log(f"trial {controller} N={n} repeat {repeat + 1} in {ns}")
        process: Process | None = None
        watches: list[Watch] = []
        try:
            if controller == "convoy":
                process = convoy_process(self.convoy_kubeconfig, self.workdir, f"convoy-{ns}")
                start_convoy(process)
                onboard(self.kube, ns)
            elif controller == "argo":
                process = self.argo_process(ns)
                self.kube.namespace(ns)
            else:
                self.kube.namespace(ns)
            names = [f"app-{i}" for i in range(n)]
            tracker, trigger, path = self.prepare(controller, ns, names)
            # the targets are ready at 1.0 and the controller idle: let it and the cluster settle, then measure
            time.sleep(3)
            self.quiet()
            watch = Watch(self.kube, path, tracker)
            watch.start()
            watches.append(watch)
            watch.synced.wait(30)
            before_flow = self.kube.flow_counts()
            before_work = self.kube.request_counts(WORKLOAD_RESOURCES)
            before_use = process.usage() if process else None
            before_calls = convoy_calls(process) if controller == "convoy" and process else {}
            tracker.arm()
            started: dict[str, float] = {}

            def go(i: int) -> None:
                started[names[i]] = time.monotonic()
                trigger(names[i])

            t0 = time.monotonic()
            parallel(go, n)
            wait(lambda: tracker.count() >= n, self.timeout, f"{n} {controller} rollouts to finish", 0.2)
            end = max(tracker.finished.values())
            result.total = end - t0
            result.durations = [tracker.finished[name] - started[name] for name in names]
            result.failed = len(tracker.failures)
            time.sleep(1)  # the controller's last writes (e.g. Argo's final status) land in the count
            after_flow = self.kube.flow_counts()
            after_work = self.kube.request_counts(WORKLOAD_RESOURCES)
            result.work = {k: v - before_work.get(k, 0.0) for k, v in sorted(after_work.items())}
            log("  all requests on workloads: " + ", ".join(f"{k} {v:.0f}" for k, v in result.work.items() if v))
            for flow in CLUSTER_CONTROLLERS:
                result.cluster[flow] = after_flow.get(flow, (0.0, 0.0))[0] - before_flow.get(flow, (0.0, 0.0))[0]
            if process is not None and before_use is not None:
                after_use = process.usage()
                result.cpu = after_use.cpu_seconds - before_use.cpu_seconds
                result.peak_rss = after_use.peak_rss_mib
                flow = f"bench-{controller}"
                result.requests = after_flow.get(flow, (0.0, 0.0))[0] - before_flow.get(flow, (0.0, 0.0))[0]
                result.rejected = after_flow.get(flow, (0.0, 0.0))[1] - before_flow.get(flow, (0.0, 0.0))[1]
            if controller == "convoy" and process is not None:
                after_calls = convoy_calls(process)
                result.calls = {k: v - before_calls.get(k, 0.0) for k, v in sorted(after_calls.items())}
                log("  convoy calls: " + ", ".join(f"{k} {v:.0f}" for k, v in result.calls.items() if v))
            log(f"  {controller} N={n}: total {result.total:.1f}s, p50 {percentile(result.durations, 50):.1f}s, "
                f"cpu {result.cpu}, requests {result.requests}, failed {result.failed}, cluster {result.cluster}")  # fmt: skip
        finally:
            for w in watches:
                w.stop()
            # delete while the controller still runs (Convoy's objects carry kopf's finalizers)
            self.kube.delete_namespace(ns, wait=180)
            if process is not None:
                process.stop()
        return result

    def prepare(self, controller: str, ns: str, names: list[str]) -> tuple[Tracker, Callable[[str], None], str]:
        """Creates the targets at 1.0, waits until they are ready; returns the tracker, the trigger and the watched
        collection."""
        kube = self.kube
        base = f"/apis/apps/v1/namespaces/{ns}/deployments"
        if controller == "argo":
            rpath = f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts"
            kube.create_all([(rpath, rollout(name, self.replicas, IMAGE_OLD)) for name in names])
            self.wait_ready(rpath, names, lambda o: rollout_done(o, IMAGE_OLD))

            def patch_image(name: str) -> None:
                body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGE_NEW}]}}}}
                kube.request("PATCH", f"{rpath}/{name}", body, content_type="application/merge-patch+json")

            return Tracker(lambda o: rollout_done(o, IMAGE_NEW), lambda o: (o.get("status") or {}).get("phase") == "Degraded"), patch_image, rpath  # fmt: skip
        kube.create_all([(base, deployment(name, IMAGE_OLD, self.replicas)) for name in names])
        self.wait_ready(base, names, lambda o: deployment_done(o, IMAGE_OLD))
        if controller == "floor":

            def set_image(name: str) -> None:
                body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGE_NEW}]}}}}
                kube.request("PATCH", f"{base}/{name}", body, content_type="application/strategic-merge-patch+json")

            return Tracker(lambda o: deployment_done(o, IMAGE_NEW)), set_image, base
        kube.create_all([(f"/api/v1/namespaces/{ns}/services", service(name)) for name in names])
        wpath = f"/apis/convoy.dev/v1alpha1/namespaces/{ns}/workflows"
        kube.create_all([(wpath, convoy_workflow(name, self.replicas)) for name in names])
        runs = f"/apis/convoy.dev/v1alpha1/namespaces/{ns}/workflowruns"

        def create_run(name: str) -> None:
            kube.request("POST", runs, convoy_run(name))

        def phase(o: Obj) -> str:
            return str((o.get("status") or {}).get("phase"))

        def target(o: Obj) -> str:
            return str(o["spec"]["workflowRef"]["name"])

        return Tracker(lambda o: phase(o) == "Succeeded", lambda o: phase(o) in FINISHED[1:], target), create_run, runs

    def wait_ready(self, path: str, names: list[str], ready: Callable[[Obj], bool]) -> None:
        def all_ready() -> bool:
            items = self.kube.request("GET", path).get("items") or []
            return sum(1 for o in items if ready(o)) >= len(names)

        wait(all_ready, 300, f"{len(names)} targets at 1.0", 1.0)

    def argo_process(self, ns: str) -> Process:
        # Argo does not release its leader lease on exit: remove the previous process's so this one leads at once
        self.kube.try_request(
            "DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{ARGO_NAMESPACE}/leases/argo-rollouts-controller-lock"
        )
        healthz = free_port()
        command = [self.argo_bin, "--kubeconfig", self.argo_kubeconfig,
                   "--metricsPort", str(free_port()), "--healthzPort", str(healthz)]  # fmt: skip
        env = {**os.environ, "POD_NAMESPACE": ARGO_NAMESPACE}
        process = Process("argo", command, env, self.workdir / f"argo-{ns}.log")
        process.start()

        def leading() -> bool:
            if not process.alive():
                raise RuntimeError(f"Argo Rollouts' controller exited:\n{process.tail()}")
            return "I am the new leader" in process.log_path.read_text(errors="replace")

        wait(leading, 60, "Argo Rollouts' controller to lead", 0.3)
        time.sleep(1)  # informers' initial sync
        return process


# --- the report ----------------------------------------------------------------------------------------------------


def span(values: Sequence[float | None], fmt: str) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return DASH
    lo, hi = min(present), max(present)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}{DASH}{fmt.format(hi)}"


def ratios(a: Sequence[float | None], b: Sequence[float | None]) -> str:
    """Convoy/Argo per repeat (repeat i against repeat i), as a range."""
    pairs = [x / y for x, y in zip(a, b, strict=False) if x is not None and y]
    return span(pairs, "{:.2f}") if pairs else DASH


def table(trials: list[Trial], ns: Sequence[int]) -> str:
    def of(controller: str, n: int) -> list[Trial]:
        return sorted((t for t in trials if t.controller == controller and t.n == n), key=lambda t: t.repeat)

    figures: list[tuple[str, Callable[[Trial], float | None], str]] = [
        ("per-rollout wall time p50 (s)", lambda t: percentile(t.durations, 50), "{:.1f}"),
        ("per-rollout wall time p95 (s)", lambda t: percentile(t.durations, 95), "{:.1f}"),
        ("per-rollout wall time max (s)", lambda t: max(t.durations) if t.durations else None, "{:.1f}"),
        ("total wall time (s)", lambda t: t.total, "{:.1f}"),
        ("controller's own API requests", lambda t: t.requests, "{:,.0f}"),
        ("controller CPU (s)", lambda t: t.cpu, "{:.2f}"),
        ("peak RSS (MiB)", lambda t: t.peak_rss, "{:.0f}"),
        ("429s (API requests rejected)", lambda t: t.rejected, "{:.0f}"),
        ("ReplicaSet controller's requests", lambda t: t.cluster.get("bench-replicaset-controller"), "{:,.0f}"),
        ("Deployment controller's requests", lambda t: t.cluster.get("bench-deployment-controller"), "{:,.0f}"),
        ("rollouts failed", lambda t: float(t.failed), "{:.0f}"),
    ]
    lines = [
        "| N at once | figure | Convoy | Argo Rollouts | Convoy/Argo | Deployment floor |",
        "|---|---|---|---|---|---|",
    ]
    for n in ns:
        c, a, f = of("convoy", n), of("argo", n), of("floor", n)
        for label, get, fmt in figures:
            cv, av, fv = [get(t) for t in c], [get(t) for t in a], [get(t) for t in f]
            floor = (
                span(fv, fmt)
                if label.startswith(("per-rollout", "total", "rollouts", "ReplicaSet", "Deployment"))
                else DASH
            )
            lines.append(f"| {n} | {label} | {span(cv, fmt)} | {span(av, fmt)} | {ratios(cv, av)} | {floor} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1,20,100", help="comma-separated numbers of rollouts at once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--controllers", default="convoy,argo,floor")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one trial may take")
    parser.add_argument("--argo-bin", required=True)
    parser.add_argument("--argo-src", required=True, help="the argo-rollouts module's directory (manifests/)")
    parser.add_argument("--workdir", default=os.environ.get("BENCH_WORKDIR", "/tmp/convoy-bench"))
    parser.add_argument("--out", help="also write the table and the raw results here (.md and .json)")
    args = parser.parse_args()
    ns = [int(x) for x in args.n.split(",") if x]
    controllers = [c for c in args.controllers.split(",") if c]
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kube = Kube(os.environ["KUBECONFIG"])
    bench = Bench(kube, workdir, args.argo_bin, args.argo_src, args.replicas, args.timeout)
    bench.setup(controllers, max(ns))
    trials: list[Trial] = []
    started = time.monotonic()
    for repeat in range(args.repeats):
        for n in ns:
            for controller in controllers:
                trials.append(bench.trial(controller, n, repeat))
    load = os.getloadavg()
    text = table(trials, ns)
    print(text)
    print(f"\n{args.repeats} repeat(s), {args.replicas} replicas, {time.monotonic() - started:.0f}s in all; "
          f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    medians = {
        f"{t.controller}/{t.n}": statistics.median(
            [x.total for x in trials if (x.controller, x.n) == (t.controller, t.n)]
        )
        for t in trials
    }
    if args.out:
        Path(args.out).with_suffix(".md").write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(
            json.dumps({"trials": [asdict(t) for t in trials], "median_total": medians}, indent=1)
        )
    return 1 if any(t.failed for t in trials) else 0


if __name__ == "__main__":
    raise SystemExit(main())
