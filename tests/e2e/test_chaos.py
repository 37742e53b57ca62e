"""Chaos at scale: 100 runs at once while the operator is SIGKILLed 20 times at random moments and the API server is
restarted once. Every run still ends as it was designed to, and no side effect happens twice:

- one Job per job step: a watch of Jobs sees every Job ever created, so one deleted and made again counts twice;
  the run's status agrees (one attempt, that Job's name);
- each Deployment goes through exactly the specs its workflow asks for, one generation each: a watch of Deployments
  records the spec at every generation, so a change applied twice, undone or redone is seen;
- notifications as the README promises ("delivered at least once", every delivery of one with the same
  Idempotency-Key): each expected one arrives, none unexpected, and no key comes with two different bodies.
  Repeats of one key are allowed by that promise: they are counted and printed.

The kills and the restart land at moments drawn from a seeded random generator; the seed is printed, and
CONVOY_CHAOS_SEED replays it. The API server can be restarted only on the local dev cluster (`hack/devcluster
restart kube-apiserver`): on a cluster of one's own (KUBECONFIG naming another cluster) the test prints that it
did not restart it and kills only the operator.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from harness import E2E_LABEL, GROUP, ROOT, VERSION, Operator, apply, new_api_client, onboard_tenant
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines
from test_workflowruns import Receiver, failing_job, on_error, passing_job, step_record
from waiting import wait_for

pytestmark = pytest.mark.e2e

NAMESPACES = 4
PER_NAMESPACE = {"canary": 10, "canary-fails": 2, "build": 8, "build-fails": 5}  # 25 per namespace: 100 runs
KILLS = 20
WEIGHTS = (25, 50, 100)
OLD, NEW = "registry.example/chaos:1.0", "registry.example/chaos:2.0"
TERMINAL = ("Succeeded", "Failed", "RolledBack", "Aborted")
CHAOS_LABEL = "convoy.dev/chaos"
APPLIED = "convoy.dev/applied"
RUNS_TIMEOUT = 300  # after the last kill; measured on 2 cores: every run ended within 50 s of it

State = tuple[int, str, bool]
"""What the test looks at in a Deployment's spec: (replicas, image, paused)."""


# --- the workflows -----------------------------------------------------------------------------------------------

HOOK = {"urlFrom": {"name": "hook", "key": "url"}}


ENDINGS = {"Succeeded": "succeeded", "RolledBack": "rolled back", "Failed": "failed", "Aborted": "aborted"}


def notifications() -> list[dict[str, Any]]:
    """One message per event, so each delivery says which notification it is."""
    return [
        {"events": [event], "notify": {"message": message, "webhook": HOOK}}
        for event, message in {"Started": "started", **ENDINGS}.items()
    ]


def tell(message: str) -> dict[str, Any]:
    return {"name": "tell", "notify": {"message": message, "webhook": HOOK}}


def canary_workflow(fails: bool) -> dict[str, Any]:
    """25% and 50% with a short pause each, then promotion and a notification; when `fails`, a Job fails at 50% and
    the run rolls back."""
    phases = []
    for weight in WEIGHTS:
        steps: list[dict[str, Any]] = [{"name": "set-weight", "deploy": {}}]
        if weight < 100:
            steps.append({"name": "hold", "pause": {"duration": "3s"}})
        if fails and weight == 50:
            steps.append(failing_job("check", failureStrategies=on_error("Rollback")))
        if weight == 100:
            steps.append(tell("promoted"))
        phases.append({"name": f"canary-{weight}", "weight": weight, "steps": steps})
    return {
        "type": "Canary",
        "target": {"deployment": "${workflow.variables.service}", "service": "${workflow.variables.service}"},
        "artifact": {"image": "registry.example/chaos:${workflow.variables.version}"},
        "variables": [{"name": "service", "required": True}, {"name": "version", "required": True}],
        "phases": phases,
        "notifications": notifications(),
    }


def build_workflow(fails: bool) -> dict[str, Any]:
    job = failing_job("compile", failureStrategies=on_error("Rollback")) if fails else passing_job("compile")
    return {
        "type": "Build",
        "phases": [{"name": "build", "steps": [job, tell("built")]}],
        "notifications": notifications(),
    }


WORKFLOWS = {
    "canary": canary_workflow(fails=False),
    "canary-fails": canary_workflow(fails=True),
    "build": build_workflow(fails=False),
    "build-fails": build_workflow(fails=True),
}


# --- what each run must do ---------------------------------------------------------------------------------------


def replica_split(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) pods at `weight`, as README.md and planner/canary.py document it for maxSurge 0."""
    canary = max(1, math.ceil(total * weight / 100))
    return total - canary, canary


def distinct(states: list[State]) -> list[State]:
    """The states without consecutive repeats: a patch that changes nothing is no new generation."""
    return [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]


@dataclass(frozen=True)
class Planned:
    """One run of the test and what it must do: its outcome, Jobs, Deployment specs and notifications."""

    namespace: str
    name: str
    workflow: str
    replicas: int  # of its target Deployment (canaries), named after the run

    @property
    def fails(self) -> bool:
        return self.workflow.endswith("-fails")

    @property
    def outcome(self) -> str:
        return "RolledBack" if self.fails else "Succeeded"

    @property
    def canary(self) -> bool:
        return self.workflow.startswith("canary")

    def job_steps(self) -> tuple[str, ...]:
        if self.canary:
            return ("check",) if self.fails else ()
        return ("compile",)

    def deployments(self) -> dict[str, list[State]]:
        """Deployment → the specs it goes through, one generation each (none for a Build). Every deploy step marks
        what it changes with its own `convoy.dev/applied` key (docs/gitops.md), and a Deployment's annotations are
        part of its generation: each step gives the canary a generation, even one that leaves its size as it was;
        the stable one changes only when its size, image or pause does (scaling marks nothing)."""
        if not self.canary:
            return {}
        total = self.replicas
        steps = [replica_split(total, w) for w in WEIGHTS if w < 100]
        stable: list[State] = [(total, OLD, False)] + [(s, OLD, False) for s, _ in steps]
        canary: list[State] = [(c, NEW, False) for _, c in steps]
        if self.fails:  # each phase undone in reverse order gives the previous weight's split back
            stable += [(s, OLD, False) for s, _ in reversed(steps[:-1])] + [(total, OLD, False)]
            canary += [(c, NEW, False) for _, c in reversed(steps[:-1])]
        else:  # promotion, resized Together: the stable takes the canary's ReplicaSet (adapters/handover.py), its
            # own going with their pods; the canary's last generation is its deletion (orphaning marks it deleting)
            last_stable, last_canary = steps[-1]
            canary += [(last_canary, NEW, False)]
            stable += [(last_stable, NEW, True), (total, NEW, True), (total, NEW, False)]
        return {self.name: distinct(stable), f"{self.name}-canary": canary}

    def notifications(self) -> set[str]:
        """The messages the run must send: when it starts, when it ends, and its notify step's if it gets there."""
        messages = {"started", ENDINGS[self.outcome]}
        if not self.fails:
            messages.add("promoted" if self.canary else "built")
        return messages


def plan_runs(namespaces: list[str], rng: random.Random) -> list[Planned]:
    return [
        Planned(namespace, f"{kind}-{i:02d}", kind, rng.randint(2, 4) if kind.startswith("canary") else 0)
        for namespace in namespaces
        for kind, count in PER_NAMESPACE.items()
        for i in range(count)
    ]


# --- watching every version of the objects ------------------------------------------------------------------------


@dataclass
class Seen:
    kind: str  # ADDED, MODIFIED, DELETED, or LISTED after the watch had to start over
    obj: dict[str, Any]


@dataclass
class Recorder:
    """Every version of the objects a cluster-wide list function returns for a label selector, as the API server sends
    them, across reconnects (the API server restarts in between). A watch the API server can no longer resume (410)
    starts over with a list: what changed in between is then missing, which the checks see as a generation gap."""

    list_all: Callable[..., Any]
    selector: str
    namespaces: set[str]
    seen: list[Seen] = field(default_factory=list)
    relists: int = 0
    interruptions: Counter[str] = field(default_factory=Counter)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._record, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=15)

    def _keep(self, kind: str, obj: dict[str, Any]) -> None:
        if obj["metadata"]["namespace"] in self.namespaces:
            self.seen.append(Seen(kind, obj))

    def _record(self) -> None:
        version: str | None = None
        while not self.stopped.is_set():
            try:
                if version is None:
                    listed = self.list_all(label_selector=self.selector, _preload_content=False)
                    body = json.loads(listed.data)
                    for item in body["items"]:
                        self._keep("LISTED", item)
                    version = body["metadata"]["resourceVersion"]
                    self.relists += 1
                response = self.list_all(
                    label_selector=self.selector,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=5,
                    watch=True,
                    _preload_content=False,
                )
                for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        self.interruptions[f"{obj.get('code')} {obj.get('reason')}"] += 1
                        if obj.get("code") == 410:  # the API server cannot resume from there: start over
                            version = None
                        break
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._keep(event["type"], obj)
            except Exception as error:  # the API server restarting, in whatever form the client reports it
                self.interruptions[type(error).__name__] += 1
                time.sleep(0.5)


# --- the cluster --------------------------------------------------------------------------------------------------


def dev_cluster_dir(kubeconfig: str) -> Path | None:
    """The local dev cluster's state directory when `kubeconfig` is its (conftest.py's default), else None."""
    state = Path(os.environ.get("CONVOY_CLUSTER_DIR") or Path.home() / ".cache" / "convoy" / "cluster")
    return state if Path(kubeconfig).resolve() == (state / "kubeconfig").resolve() else None


def restart_api_server(state: Path) -> None:
    env = {**os.environ, "CONVOY_CLUSTER_DIR": str(state)}
    result = subprocess.run(
        [str(ROOT / "hack" / "devcluster"), "restart", "kube-apiserver"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"hack/devcluster restart kube-apiserver failed:\n{result.stderr}"


@pytest.fixture
def tenants(api_client: client.ApiClient) -> Iterator[list[str]]:
    """NAMESPACES fresh onboarded namespaces, deleted after the test."""
    core = client.CoreV1Api(api_client)
    names = [f"e2e-chaos-{i}-{uuid.uuid4().hex[:6]}" for i in range(NAMESPACES)]
    try:
        for name in names:
            labels = {E2E_LABEL: "true"}
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
            onboard_tenant(api_client, name)
        yield names
    finally:
        for name in names:
            try:
                core.delete_namespace(name, propagation_policy="Background")
            except client.ApiException as error:
                if error.status != 404:
                    raise


def target(name: str, replicas: int) -> list[dict[str, Any]]:
    """A canary's target: its Deployment (labelled for the watch; the canary copy keeps the label) and Service."""
    labels = {"app": name}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {CHAOS_LABEL: "true"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": OLD}]}},
        },
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": labels, "ports": [{"port": 80}]}}  # fmt: skip
    return [deployment, service]


def prepare(kubeconfig: str, api_client: client.ApiClient, planned: list[Planned], receiver: Receiver) -> None:
    """In each namespace the Secret holding the receiver's URL, the Workflows, and each canary's target, available."""
    for namespace in dict.fromkeys(run.namespace for run in planned):
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"url": receiver.url}}
        ]
        docs += [
            {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Workflow", "metadata": {"name": name}, "spec": spec}
            for name, spec in WORKFLOWS.items()
        ]
        docs += [
            doc
            for run in planned
            if run.namespace == namespace and run.canary
            for doc in target(run.name, run.replicas)
        ]
        apply(kubeconfig, namespace, yaml.safe_dump_all(docs))
    apps = client.AppsV1Api(api_client)

    def available() -> bool:
        listed = apps.list_deployment_for_all_namespaces(label_selector=CHAOS_LABEL).items
        return len(listed) == sum(run.canary for run in planned) and all(
            d.status is not None and d.status.available_replicas == d.spec.replicas for d in listed if d.spec
        )

    wait_for(available, 180, 1, "the canaries' targets did not become available")


def start_runs(api_client: client.ApiClient, planned: list[Planned]) -> dict[tuple[str, str], str]:
    """Create every run at once (through the operator's admission webhooks); their uids."""
    custom = client.CustomObjectsApi(api_client)

    def create(run: Planned) -> str:
        variables = {"service": run.name, "version": "2.0"} if run.canary else {}
        spec = {"workflowRef": {"name": run.workflow}, "variables": variables, "decisions": []}
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkflowRun", "metadata": {"name": run.name}, "spec": spec}
        created = cast(
            dict[str, Any], custom.create_namespaced_custom_object(GROUP, VERSION, run.namespace, "workflowruns", body)
        )
        return str(created["metadata"]["uid"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        uids = list(pool.map(create, planned))
    return {(run.namespace, run.name): uid for run, uid in zip(planned, uids, strict=True)}


# --- the chaos ----------------------------------------------------------------------------------------------------


def chaos(
    convoy: Operator, rng: random.Random, restart_api: Callable[[], None] | None, unfinished: Callable[[], int]
) -> list[str]:
    """SIGKILL the operator KILLS times, each after it ran for a random while, and start it again after a random
    pause; restart the API server once, a random while after a random kill. The timeline, with the number of runs
    not yet ended at each kill, for the report."""
    timeline, began = [], time.monotonic()
    api_after = rng.randrange(KILLS // 4, 3 * KILLS // 4)
    for kill in range(1, KILLS + 1):
        time.sleep(rng.uniform(0.2, 3.0))
        assert convoy.process is not None and convoy.process.poll() is None, (
            f"the operator exited by itself before kill #{kill}:\n{convoy.tail()}"
        )
        convoy.kill()
        timeline.append(f"{time.monotonic() - began:6.1f}s SIGKILL #{kill}, {unfinished()} runs not ended")
        time.sleep(rng.uniform(0.0, 1.0))
        convoy.start()
        if kill == api_after and restart_api is not None:
            time.sleep(rng.uniform(0.0, 3.0))
            timeline.append(f"{time.monotonic() - began:6.1f}s API server restart")
            restart_api()
    return timeline


def phases_of(custom: client.CustomObjectsApi, namespaces: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for namespace in namespaces:
        listed = cast(dict[str, Any], custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "workflowruns"))
        for item in listed["items"]:
            found[(namespace, item["metadata"]["name"])] = item.get("status") or {}
    return found


# --- the checks ---------------------------------------------------------------------------------------------------


def run_of(seen: Seen) -> tuple[str, str]:
    """The run a Job or a Deployment belongs to: by its label, else by its name (a target is named after its run)."""
    meta = seen.obj["metadata"]
    run = (meta.get("labels") or {}).get("convoy.dev/run") or meta["name"].removesuffix("-canary")
    return meta["namespace"], run


def state_of(spec: dict[str, Any]) -> State:
    return spec["replicas"], spec["template"]["spec"]["containers"][0]["image"], bool(spec.get("paused"))


def changed(before: Any, after: Any, path: str = "spec") -> list[str]:
    """The paths of the fields that differ between two specs. Pure."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            f for k in sorted(set(before) | set(after)) for f in changed(before.get(k), after.get(k), f"{path}.{k}")
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [f for i, (b, a) in enumerate(zip(before, after, strict=True)) for f in changed(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


def deployment_problems(planned: list[Planned], seen: list[Seen]) -> list[str]:
    """Each Deployment created once, its generations all seen, and its spec at each the one the workflow asks for."""
    by_name: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for s in seen:
        by_name[(s.obj["metadata"]["namespace"], s.obj["metadata"]["name"])].append(s)
    problems = []
    expected = {(run.namespace, name): states for run in planned for name, states in run.deployments().items()}
    for key in sorted(set(by_name) - set(expected)):
        problems.append(f"Deployment {'/'.join(key)} was not expected")
    for (namespace, name), states in sorted(expected.items()):
        versions = by_name.get((namespace, name), [])
        uids = list(dict.fromkeys(s.obj["metadata"]["uid"] for s in versions))
        if len(uids) != 1:
            problems.append(f"Deployment {namespace}/{name} was created {len(uids)} times (uids {uids})")
            continue
        specs: dict[int, list[dict[str, Any]]] = defaultdict(list)  # generation → the specs seen under it
        marked: dict[int, str | None] = {}  # generation → the step that made it (its convoy.dev/applied)
        for s in versions:
            generation = s.obj["metadata"]["generation"]
            if s.obj["spec"] not in specs[generation]:
                specs[generation].append(s.obj["spec"])
            marked[generation] = (s.obj["metadata"].get("annotations") or {}).get(APPLIED)
        generations = sorted(specs)
        # a generation the watch did not see is a problem, unless the watch had to start over with a list then
        # (what changed in between is gone); the count of generations and each one seen are still checked
        unseen = [
            b.obj["metadata"]["generation"]
            for a, b in itertools.pairwise(versions)
            if b.obj["metadata"]["generation"] > a.obj["metadata"]["generation"] + 1 and b.kind != "LISTED"
        ]
        if unseen or generations[0] != 1:
            problems.append(f"Deployment {namespace}/{name}: generations {generations} seen, some were missed")
        if any(len(seen_under) > 1 for seen_under in specs.values()):
            problems.append(f"Deployment {namespace}/{name}: two specs under one generation")
        # a step's mark coming back after another step's: its change applied again
        marks = [m for m, _ in itertools.groupby(marked[g] for g in generations) if m is not None]
        if len(set(marks)) != len(marks):
            problems.append(f"Deployment {namespace}/{name}: one step's change applied twice (marks {marks})")
        history = {g: state_of(specs[g][0]) for g in generations}
        wanted = dict(enumerate(states, start=1))
        if generations[-1] != len(states) or any(history[g] != wanted.get(g) for g in generations):
            changes = {
                g: [*changed(specs[g - 1][0], specs[g][0]), f"applied {marked[g - 1]} -> {marked[g]}"]
                for g in generations
                if g - 1 in specs
            }
            problems.append(
                f"Deployment {namespace}/{name}: specs (replicas, image) by generation {history}, expected {wanted}; "
                f"the fields each generation changed: {changes}"
            )
        last = versions[-1]
        if (last.kind == "DELETED") != name.endswith("-canary"):
            problems.append(
                f"Deployment {namespace}/{name}: last seen {last.kind} at generation {last.obj['metadata']['generation']}"
                f" (resourceVersion {last.obj['metadata']['resourceVersion']})"
            )
    return problems


def job_problems(
    planned: list[Planned], seen: list[Seen], statuses: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    """One Job per job step ever created, and the run's status names it with one attempt."""
    jobs: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)  # (namespace, run, step) → uid → name
    for s in seen:
        meta = s.obj["metadata"]
        labels = meta.get("labels") or {}
        jobs[(meta["namespace"], labels.get("convoy.dev/run", ""), labels.get("convoy.dev/step", ""))][meta["uid"]] = (
            meta["name"]
        )
    problems = []
    expected = {(run.namespace, run.name, step) for run in planned for step in run.job_steps()}
    for key in sorted(set(jobs) - expected):
        problems.append(f"Jobs {sorted(jobs[key].values())} of run {key[0]}/{key[1]} step {key[2]} were not expected")
    for namespace, name, step in sorted(expected):
        made = jobs.get((namespace, name, step), {})
        if len(made) != 1:
            problems.append(f"run {namespace}/{name} step {step}: {len(made)} Jobs created ({made})")
            continue
        record = step_record(statuses[(namespace, name)], step)
        job = next(iter(made.values()))
        if record.get("attempts") != 1 or job not in (record.get("message") or ""):
            problems.append(f"run {namespace}/{name} step {step}: Job {job}, but the status says {record}")
    return problems


def header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def notification_problems(
    planned: list[Planned], uids: dict[tuple[str, str], str], received: list[tuple[dict[str, str], dict[str, Any]]]
) -> tuple[list[str], Counter[str]]:
    """As README.md promises: each expected notification delivered, none unexpected, and every delivery of one with
    the same Idempotency-Key (header and body), one of that run (it begins with the run's uid) and of no other
    notification, and the same body; and how often each key was delivered again."""
    keys: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (namespace, run, message) → keys
    bodies: dict[str, set[str]] = defaultdict(set)  # key → bodies
    deliveries: Counter[str] = Counter()
    problems = []
    for headers, body in received:
        key = header(headers, "Idempotency-Key") or ""
        run = (str(body.get("namespace")), str(body.get("run")))
        if body.get("idempotencyKey") != key or not key.startswith(f"{uids.get(run)}/"):
            problems.append(f"delivery with header key {key!r}, body {body}: not a key of run {'/'.join(run)}")
        keys[(*run, str(body.get("message")))].add(key)
        bodies[key].add(json.dumps(body, sort_keys=True))
        deliveries[key] += 1
    expected = {(run.namespace, run.name, message) for run in planned for message in run.notifications()}
    problems += [f"notification {n} never delivered" for n in sorted(expected - set(keys))]
    problems += [f"notification {n} was not expected" for n in sorted(set(keys) - expected)]
    problems += [f"notification {n} delivered under several keys: {k}" for n, k in keys.items() if len(k) > 1]
    problems += [f"key {key} delivered with different bodies: {b}" for key, b in bodies.items() if len(b) > 1]
    return problems, Counter({key: n - 1 for key, n in deliveries.items() if n > 1})


def evidence(convoy: Operator, run: Planned, status: dict[str, Any]) -> str:
    """What a lead needs to tell why a run went wrong: its status, and the operator's log lines that name it."""
    brief = {k: status.get(k) for k in ("phase", "currentPhase", "currentStep", "message", "failure", "canary")}
    records = [r for p in status.get("phases", []) + status.get("rollback", []) for r in p.get("steps", [])]
    brief["running"] = [r for r in records if r.get("state") == "Running"]
    text = convoy.log_path.read_text(errors="replace") if convoy.log_path.exists() else ""
    lines = [line for line in text.splitlines() if f"{run.namespace}/{run.name}" in line][-15:]
    return f"{run.namespace}/{run.name}: {json.dumps(brief)}\n    " + "\n    ".join(lines)


# --- the test -----------------------------------------------------------------------------------------------------


def test_runs_survive_operator_kills_and_an_api_server_restart_without_repeating_a_side_effect(
    convoy: Operator, api_client: client.ApiClient, kubeconfig: str, tenants: list[str]
) -> None:
    seed = int(os.environ.get("CONVOY_CHAOS_SEED") or random.randrange(2**32))
    print(f"chaos seed {seed} (CONVOY_CHAOS_SEED={seed} replays it)")
    rng = random.Random(seed)
    state = dev_cluster_dir(kubeconfig)
    if state is None:
        print(f"KUBECONFIG={kubeconfig} is not the local dev cluster's: the API server is not restarted")
    receiver = Receiver()
    watching = new_api_client(kubeconfig)
    apps, batch = client.AppsV1Api(watching), client.BatchV1Api(watching)
    deployments = Recorder(apps.list_deployment_for_all_namespaces, CHAOS_LABEL, set(tenants))
    jobs = Recorder(batch.list_job_for_all_namespaces, "convoy.dev/step", set(tenants))
    began = time.monotonic()
    try:
        # given 100 runs of canaries (each of its own 2-4 replica Deployment) and builds, some designed to fail
        planned = plan_runs(tenants, rng)
        prepare(kubeconfig, api_client, planned, receiver)
        ready = time.monotonic()
        uids = start_runs(api_client, planned)
        created = time.monotonic()
        custom = client.CustomObjectsApi(api_client)

        def unfinished() -> int:
            return sum(s.get("phase") not in TERMINAL for s in phases_of(custom, tenants).values())

        def all_ended() -> dict[tuple[str, str], dict[str, Any]] | None:
            found = phases_of(custom, tenants)
            return found if all(s.get("phase") in TERMINAL for s in found.values()) else None

        # when, while they run, the operator is SIGKILLed 20 times and the API server restarted once
        timeline = chaos(convoy, rng, None if state is None else lambda: restart_api_server(state), unfinished)
        chaos_done = time.monotonic()
        print("\n".join(timeline))
        try:
            statuses = wait_for(all_ended, RUNS_TIMEOUT, 2, "not every run ended")
        except AssertionError:
            found = phases_of(custom, tenants)
            stuck = [run for run in planned if found.get((run.namespace, run.name), {}).get("phase") not in TERMINAL]
            details = "\n".join(evidence(convoy, run, found.get((run.namespace, run.name), {})) for run in stuck[:5])
            pytest.fail(f"seed {seed}: {len(stuck)} runs did not end; the first ones:\n{details}", pytrace=False)
        ended = time.monotonic()
        time.sleep(3)  # a late repeat of a side effect shows up in the watches
    finally:
        deployments.stop()
        jobs.stop()
        receiver.close()
        watching.close()  # type: ignore[no-untyped-call]
        if convoy.process is None or convoy.process.poll() is not None:
            convoy.start()  # the next tests need it
    print(
        f"setup {ready - began:.0f}s, creating the runs {created - ready:.0f}s, chaos {chaos_done - created:.0f}s, "
        f"runs ended {ended - chaos_done:.0f}s after it; the watches of Deployments and Jobs were interrupted by "
        f"{dict(deployments.interruptions)} and {dict(jobs.interruptions)}, and started over with a list "
        f"{deployments.relists - 1} and {jobs.relists - 1} times"
    )
    # then every run ended as designed
    wrong = [run for run in planned if statuses[(run.namespace, run.name)]["phase"] != run.outcome]
    problems = [evidence(convoy, run, statuses[(run.namespace, run.name)]) for run in wrong[:5]]
    if wrong:
        problems.insert(0, f"{len(wrong)} runs ended otherwise than designed; the first ones:")
    # and no side effect was repeated (by the runs that ended as designed: the others did something else)
    skipped = {(run.namespace, run.name) for run in wrong}
    right = [run for run in planned if (run.namespace, run.name) not in skipped]
    delivered = [(h, body) for h, body in receiver.received if (body.get("namespace"), body.get("run")) not in skipped]
    notified, repeats = notification_problems(right, uids, delivered)
    print(f"{len(delivered)} deliveries, {sum(repeats.values())} of them repeats of one key: {dict(repeats)}")
    problems += deployment_problems(right, [s for s in deployments.seen if run_of(s) not in skipped])
    problems += job_problems(right, [s for s in jobs.seen if run_of(s) not in skipped], statuses)
    problems += notified
    assert not problems, f"seed {seed}: {len(problems)} problems:\n" + "\n".join(problems[:40])
