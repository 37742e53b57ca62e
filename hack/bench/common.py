"""Shared by the benchmarks (hack/bench/compare.py, hack/bench/scale.py): the admin client, one identity and one
FlowSchema per controller (so the API server counts each controller's own requests), raw watches that stamp every
event with the time the bench received it, /proc readings of a controller process, and the Convoy operator run as a
process under the Helm chart's RBAC (as the e2e harness does).

Not part of the package: run through `make bench-compare` / `make bench-scale`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
Obj = dict[str, Any]
# Where service accounts land by default (FlowSchema `service-accounts`): the bench's FlowSchemas keep that level,
# so they count requests without changing how the API server queues them.
PRIORITY_LEVEL = "workload-low"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Kube:
    """The bench's own (admin) access to the cluster named by KUBECONFIG."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.flow_subjects: dict[str, list[dict[str, Any]]] = {}  # FlowSchema name -> the accounts it matches
        cfg = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)  # type: ignore[no-untyped-call]
        cfg.connection_pool_maxsize = 32
        self.api = client.ApiClient(cfg)

    def send(self, method: str, path: str, body: Any = None, query: Sequence[tuple[str, str]] = (),
             content_type: str = "application/json", timeout: Any = 60, accept: str = "application/json") -> Any:  # fmt: skip
        """One call; the response unread (its `.response` is urllib3's, for streaming)."""
        method, url, headers, data, post = self.api.param_serialize(
            method, path, query_params=list(query), body=body, auth_settings=["BearerToken"],
            header_params={"Content-Type": content_type, "Accept": accept},
        )  # fmt: skip
        response: Any = self.api.call_api(method, url, header_params=headers, body=data, post_params=post,
                                     _request_timeout=timeout)  # fmt: skip
        if response.status >= 400:
            body = response.read()
            raise client.ApiException(status=response.status, reason=response.reason, body=body)
        return response

    def request(self, method: str, path: str, body: Any = None, query: Sequence[tuple[str, str]] = (),
                content_type: str = "application/json", timeout: float = 60) -> Any:  # fmt: skip
        """One call, raw JSON in and out (the typed models are slow and not needed here)."""
        data = self.send(method, path, body, query, content_type, timeout).read()
        return json.loads(data) if data else None

    def text(self, path: str) -> str:
        data: bytes = self.send("GET", path, timeout=30, accept="text/plain").read()
        return data.decode()

    def try_request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> bool:
        try:
            self.request(method, path, body, content_type=content_type)
        except client.ApiException as error:
            if error.status in (404, 409):
                return False
            raise
        return True

    def kubectl(self, *args: str, stdin: str | None = None, kubeconfig: str | None = None) -> str:
        binary = shutil.which("kubectl")
        if binary is None:
            raise SystemExit('kubectl is not on PATH (run through make, or eval "$(hack/devcluster env)")')
        result = subprocess.run(
            [binary, "--kubeconfig", kubeconfig or self.kubeconfig, *args],
            input=stdin, text=True, capture_output=True, timeout=600,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def apply(self, docs: Iterable[Obj], kubeconfig: str | None = None) -> None:
        self.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=convoy-bench", "-f", "-",
            stdin=yaml.safe_dump_all(list(docs)), kubeconfig=kubeconfig,
        )  # fmt: skip

    def create_all(self, items: Sequence[tuple[str, Obj]], workers: int = 8) -> None:
        """POST each (collection path, body), several at once; an existing object is left as it is."""
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda item: self.try_request("POST", item[0], item[1]), items))

    def namespace(self, name: str) -> None:
        self.try_request("POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": {"convoy-bench": "1"}}})

    def delete_namespace(self, name: str, wait: float = 300) -> None:
        """Deletes the namespace's workloads first, in the foreground, and waits for their pods to go: a namespace
        deleted with its ReplicaSets still live makes the ReplicaSet controller re-create the pods the namespace
        controller removes, and queue a FailedCreate event for each, which it then posts for minutes under its own
        rate limit, slowing the next trial's rollouts."""
        deadline = time.monotonic() + wait
        foreground = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground"}
        for collection in (f"/apis/apps/v1/namespaces/{name}/deployments",
                           f"/apis/argoproj.io/v1alpha1/namespaces/{name}/rollouts",
                           f"/apis/apps/v1/namespaces/{name}/replicasets"):  # fmt: skip
            self.try_request("DELETE", collection, foreground)
        while time.monotonic() < deadline and self.request("GET", f"/api/v1/namespaces/{name}/pods")["items"]:
            time.sleep(1)
        self.try_request("DELETE", f"/api/v1/namespaces/{name}")
        while time.monotonic() < deadline:
            try:
                self.request("GET", f"/api/v1/namespaces/{name}")
            except client.ApiException as error:
                if error.status == 404:
                    return
                raise
            time.sleep(1)
        log(f"warning: namespace {name} still terminating after {wait:.0f}s")

    # --- identities and FlowSchemas ---------------------------------------------------------------------------

    def identity(self, namespace: str, account: str, path: Path) -> str:
        """A kubeconfig at `path` that authenticates as the ServiceAccount (a bound token, 24 h)."""
        self.namespace(namespace)
        self.try_request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": account}})
        token = self.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 86400}},
        )["status"]["token"]  # fmt: skip
        admin = yaml.safe_load(self.kubectl("config", "view", "--raw", "--minify", "--flatten"))
        cluster = admin["clusters"][0]
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [{"name": account, "context": {"cluster": cluster["name"], "user": account,
                                                       "namespace": namespace}}],
            "current-context": account,
        }  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        return str(path)

    def flow_schema(self, name: str, namespace: str, account: str, level: str = PRIORITY_LEVEL) -> None:
        """Every request of that ServiceAccount, and of those given before for the same schema, is classified by
        this FlowSchema (precedence 500 wins over the default `service-accounts` at 9000), in the priority level it
        would have had anyway; the API server counts dispatched and rejected (429) requests per FlowSchema in its
        /metrics. API Priority and Fairness classifies a request after impersonation, so Convoy's schema must also
        name the tenants' runner accounts it acts as."""
        subjects = self.flow_subjects.setdefault(name, [])
        subject = {"kind": "ServiceAccount", "serviceAccount": {"name": account, "namespace": namespace}}
        if subject not in subjects:
            subjects.append(subject)
        body = {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "matchingPrecedence": 500,
                "priorityLevelConfiguration": {"name": level},
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{
                    "subjects": subjects,
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                       "clusterScope": True, "namespaces": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }],
            },
        }  # fmt: skip
        self.apply([body])

    def samples(self, names: Sequence[str]) -> Iterator[tuple[str, dict[str, str], float]]:
        """(metric, labels, value) of every sample of these metrics in the API server's /metrics."""
        pattern = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")
        for line in self.text("/metrics").splitlines():
            match = pattern.match(line)
            if match and match.group(1) in names:
                yield match.group(1), dict(re.findall(r'(\w+)="([^"]*)"', match.group(2))), float(match.group(3))

    def request_counts(self, resources: Sequence[str]) -> dict[str, float]:
        """`apiserver_request_total` of these resources, by verb, resource, subresource and code, whoever asked: the
        breakdown of the cluster's work (e.g. a controller's status writes answered 409) that the FlowSchemas lack."""
        counts: dict[str, float] = {}
        for _, labels, value in self.samples(["apiserver_request_total"]):
            if labels.get("resource") not in resources or labels.get("verb") == "WATCH":
                continue
            resource = "/".join(x for x in (labels["resource"], labels.get("subresource")) if x)
            key = f"{labels['verb'].lower()} {resource} {labels.get('code', '')}"
            counts[key] = counts.get(key, 0.0) + value
        return counts

    def flow_counts(self) -> dict[str, tuple[float, float]]:
        """Per FlowSchema: (requests dispatched, requests rejected with 429), from the API server's /metrics."""
        dispatched: dict[str, float] = {}
        rejected: dict[str, float] = {}
        names = ["apiserver_flowcontrol_dispatched_requests_total", "apiserver_flowcontrol_rejected_requests_total"]
        for name, labels, value in self.samples(names):
            flow = labels.get("flow_schema", "")
            target = dispatched if "dispatched" in name else rejected
            target[flow] = target.get(flow, 0.0) + value
        return {flow: (dispatched.get(flow, 0.0), rejected.get(flow, 0.0)) for flow in {*dispatched, *rejected}}


# --- watches --------------------------------------------------------------------------------------------------


class Watch(threading.Thread):
    """LIST then WATCH one collection (raw JSON), calling `on_event(type, object, received)` for every object of the
    initial list ("LISTED") and every event, `received` being time.monotonic() when the bench read it."""

    def __init__(self, kube: Kube, path: str, on_event: Callable[[str, Obj, float], None],
                 label_selector: str = "") -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.kube, self.path, self.on_event, self.selector = kube, path, on_event, label_selector
        self.stopped = threading.Event()
        self.synced = threading.Event()

    def _query(self, **extra: str) -> list[tuple[str, str]]:
        query = [(k, v) for k, v in extra.items()]
        if self.selector:
            query.append(("labelSelector", self.selector))
        return query

    def run(self) -> None:
        version = ""
        while not self.stopped.is_set():
            try:
                if not version:
                    listed = self.kube.request("GET", self.path, query=self._query())
                    now = time.monotonic()
                    for item in listed.get("items") or []:
                        self.on_event("LISTED", item, now)
                    version = listed["metadata"]["resourceVersion"]
                    self.synced.set()
                version = self._stream(version)
            except Exception as error:  # a dropped connection or 410 Gone: list again
                if not self.stopped.is_set():
                    log(f"watch {self.path}: {type(error).__name__}: {str(error)[:200]}; relisting")
                    version = ""
                    time.sleep(0.5)

    def _stream(self, version: str) -> str:
        query = self._query(watch="true", resourceVersion=version, allowWatchBookmarks="true", timeoutSeconds="240")
        response = self.kube.send("GET", self.path, query=query, timeout=(10, 300)).response
        buffer = b""
        try:
            for chunk in response.stream(65536, decode_content=True):
                if self.stopped.is_set():
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    now = time.monotonic()
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise RuntimeError(f"watch error: {obj.get('message')}")
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event["type"] != "BOOKMARK":
                        self.on_event(event["type"], obj, now)
        finally:
            response.release_conn()
        return version

    def stop(self) -> None:
        self.stopped.set()


# --- a controller process -------------------------------------------------------------------------------------


@dataclass
class Usage:
    cpu_seconds: float
    peak_rss_mib: float
    rss_mib: float


def proc_usage(pid: int) -> Usage:
    """CPU seconds (user + system, from /proc/PID/stat) and peak / current RSS (VmHWM / VmRSS) of one process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    kib = {k: int(v.split()[0]) for k, v in status.items() if k in ("VmHWM", "VmRSS")}
    return Usage(cpu, kib.get("VmHWM", 0) / 1024, kib.get("VmRSS", 0) / 1024)


class Process:
    """A controller run as a child process, its output to a log file."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.command, self.env, self.log_path = name, list(command), env, log_path
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def usage(self) -> Usage:
        return proc_usage(self.pid)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- Convoy ---------------------------------------------------------------------------------------------------

CONVOY_NAMESPACE, CONVOY_RELEASE = "convoy-bench-system", "convoy-bench"
RUNNER = "convoy-runner"


def chart_rbac() -> list[Obj]:
    helm = shutil.which("helm")
    if helm is None:
        raise SystemExit('helm is not on PATH (run through make, or eval "$(hack/devcluster env)")')
    rendered = subprocess.run(
        [helm, "template", CONVOY_RELEASE, str(ROOT / "charts" / "convoy"), "--namespace", CONVOY_NAMESPACE],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    kinds = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    return [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in kinds]


def chart_limits() -> dict[str, str]:
    values = yaml.safe_load((ROOT / "charts" / "convoy" / "values.yaml").read_text())
    limits: dict[str, str] = values["resources"]["limits"]
    return limits


def setup_convoy(kube: Kube, workdir: Path) -> str:
    """CRDs, the chart's RBAC, the operator's identity and FlowSchema; returns the operator's kubeconfig."""
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(ROOT / "crds"))
    kube.namespace(CONVOY_NAMESPACE)
    rbac = chart_rbac()
    kube.apply(rbac)
    account = next(d["metadata"]["name"] for d in rbac if d["kind"] == "ServiceAccount")
    kube.flow_schema("bench-convoy", CONVOY_NAMESPACE, account)
    return kube.identity(CONVOY_NAMESPACE, account, workdir / "convoy.kubeconfig")


def onboard(kube: Kube, namespace: str) -> None:
    """What a platform team does per tenant namespace: the runner ServiceAccount bound to the chart's ClusterRole."""
    kube.namespace(namespace)
    kube.try_request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": RUNNER}})
    binding = {
        "metadata": {"name": RUNNER},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": RUNNER},
        "subjects": [{"kind": "ServiceAccount", "name": RUNNER, "namespace": namespace}],
    }
    kube.try_request("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings", binding)
    kube.flow_schema("bench-convoy", namespace, RUNNER)  # the operator's requests made as this tenant count too


def convoy_process(kubeconfig: str, workdir: Path, name: str = "convoy") -> Process:
    liveness, metrics = free_port(), free_port()
    command = [
        sys.executable, "-m", "convoy.main",
        "--webhook-port", str(free_port()),
        "--webhook-certs", str(workdir / "convoy-certs"),
        "--seal-key-file", str(workdir / "seal.key"),
        "--metrics-port", str(metrics),
        "--liveness", f"http://127.0.0.1:{liveness}/healthz",
    ]  # fmt: skip
    env = {**os.environ, "KUBECONFIG": kubeconfig, "PYTHONUNBUFFERED": "1"}
    process = Process(name, command, env, workdir / f"{name}.log")
    process.liveness = liveness  # type: ignore[attr-defined]
    process.metrics = metrics  # type: ignore[attr-defined]
    return process


def convoy_calls(process: Process) -> dict[str, float]:
    """The operator's own count of its API calls (`convoy_api_calls_total`), by verb and resource: the breakdown
    the API server's FlowSchema count cannot give. kopf's watches are not in it."""
    url = f"http://127.0.0.1:{process.metrics}/metrics"  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("convoy_api_calls_total{"):
            labels, value = line[len("convoy_api_calls_total{") :].rsplit("} ", 1)
            fields = {name: value.strip('"') for name, value in (part.split("=", 1) for part in labels.split(","))}
            key = f"{fields['verb']} {fields['resource']}"
            calls[key] = calls.get(key, 0.0) + float(value)
    return calls


def convoy_ready(process: Process, offset: int) -> bool:
    """Liveness answers and both webhooks are registered (as the e2e harness checks)."""
    if not process.alive():
        raise RuntimeError(f"the operator exited:\n{process.tail()}")
    try:
        url = f"http://127.0.0.1:{process.liveness}/healthz"  # type: ignore[attr-defined]
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status != 200:
                return False
    except OSError:
        return False
    with process.log_path.open("rb") as log_file:
        log_file.seek(offset)
        text = log_file.read().decode(errors="replace")
    return all(f"Reconfiguring the {kind} webhook" in text for kind in ("validating", "mutating"))


def start_convoy(process: Process, timeout: float = 90) -> None:
    offset = process.log_path.stat().st_size if process.log_path.exists() else 0
    process.start()
    wait(lambda: convoy_ready(process, offset), timeout, "the Convoy operator to become ready", 0.3)


def deployment(name: str, image: str, replicas: int, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def service(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def deployment_done(obj: Obj, image: str) -> bool:
    """Rolled out: the controller saw the latest spec, every replica is updated and available, none left over."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = spec.get("template", {}).get("spec", {}).get("containers") or [{}]
    want = int(spec.get("replicas", 1))
    return (
        containers[0].get("image") == image
        and int(status.get("observedGeneration") or 0) >= int(obj["metadata"].get("generation") or 0)
        and int(status.get("updatedReplicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
    )


def ensure_nodes(kube: Kube, count: int, pods: int = 1000) -> None:
    """Extra kwok Nodes with room for many pods (the dev cluster's three hold 110 each)."""
    nodes = []
    for i in range(count):
        nodes.append({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"bench-node-{i}", "annotations": {"kwok.x-k8s.io/node": "fake",
                                                                     "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"type": "kwok", "kubernetes.io/hostname": f"bench-node-{i}"}},
            "status": {"allocatable": {"cpu": "1000", "memory": "4Ti", "pods": str(pods)},
                       "capacity": {"cpu": "1000", "memory": "4Ti", "pods": str(pods)}},
        })  # fmt: skip
    kube.create_all([("/api/v1/nodes", n) for n in nodes])
