"""The Helm chart, rendered by the real `helm`: lint-clean, restricted pod security, and RBAC that is exactly the
reviewed table — the operator's rules (the same table as charts/convoy/README.md), which write nothing but
Convoy's own kinds, the convoy-runner role tenants bind to act as, and the user roles that keep rolling back apart
from deploying."""

from __future__ import annotations

import base64
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "convoy"
NAMESPACE = "convoy-system"
RELEASE = "convoy"  # the full name is then "convoy"
Doc = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    """One row of the permissions table: verbs on one resource, in the configurations named by `when`."""

    group: str
    resource: str
    verbs: frozenset[str]
    names: frozenset[str]
    when: str
    needed_by: str


def _rule(group: str, resource: str, verbs: str, names: str, when: str, needed_by: str) -> Rule:
    return Rule(group, resource, frozenset(verbs.split(", ")), frozenset(names.split(", ")) - {""}, when, needed_by)


ALWAYS, NAMESPACED, HA, HA_NAMESPACED = (
    "always",
    "watchNamespaces",
    "replicaCount > 1",
    "replicaCount > 1, watchNamespaces",
)
ADMISSION = "kopf _core/engines/admission.py configuration_manager"
PEERING = "kopf _core/engines/peering.py"
# fmt: off
# The operator's permissions, row for row as in charts/convoy/README.md ("Operator permissions"). A rule the chart
# grants must be here and there, with the code that needs it.
RULES = (
    _rule("convoy.dev", "workflowruns", "get, list, watch, create, patch, delete", "", ALWAYS, "handlers/operator.py run_event (kopf watch); adapters/resources.py read, list_all (startup), annotate (barrier marks), delete (finished runs: ttlSecondsAfterFinished, runHistoryLimit); adapters/triggered.py create_run (GitOps triggers); adapters/stage_runs.py list_labelled, abort_stage_run (pipeline stages); adapters/rollbacks.py ensure_rollback_requested (a Rollback's decision); handlers/history.py runs_in (list)"),
    _rule("convoy.dev", "workflows", "get, list, watch", "", ALWAYS, "handlers/operator.py workflow_event (kopf watch); handlers/workflowruns.py resolve_workflow; handlers/definitions.py reconcile"),
    _rule("convoy.dev", "pipelines", "get, list, watch", "", ALWAYS, "handlers/operator.py pipeline_event (kopf watch); handlers/definitions.py reconcile"),
    _rule("convoy.dev", "pipelineruns", "get, list, watch", "", ALWAYS, "handlers/operator.py pipeline_run_event (kopf watch); handlers/pipelineruns.py reconcile; handlers/barriers.py observe_barriers"),
    _rule("convoy.dev", "rollbacks", "get, list, watch", "", ALWAYS, "handlers/operator.py rollback_event (kopf watch); handlers/rollbacks.py reconcile (adapters/resources.py read)"),
    _rule("convoy.dev", "grants", "get, list, watch", "", ALWAYS, "adapters/grants.py refusal (the Grants of a referenced namespace)"),
    _rule("convoy.dev", "workflowruns/status", "patch", "", ALWAYS, "adapters/resources.py replace_status, from handlers/workflowruns.py reconcile"),
    _rule("convoy.dev", "pipelineruns/status", "patch", "", ALWAYS, "adapters/resources.py replace_status, from handlers/pipelineruns.py reconcile"),
    _rule("convoy.dev", "workflows/status", "patch", "", ALWAYS, "adapters/resources.py replace_status, from handlers/definitions.py reconcile"),
    _rule("convoy.dev", "pipelines/status", "patch", "", ALWAYS, "adapters/resources.py replace_status, from handlers/definitions.py reconcile"),
    _rule("convoy.dev", "rollbacks/status", "patch", "", ALWAYS, "adapters/resources.py replace_status, from handlers/rollbacks.py reconcile"),
    _rule("", "events", "get, create", "", ALWAYS, "adapters/events.py record_event; adapters/notify.py claimed (was a notification delivered: its claim Event)"),
    _rule("apps", "deployments", "get, list, watch", "", ALWAYS, "handlers/operator.py deployment_event, handlers/triggers.py (kopf watch); adapters/workloads.py read_deployment, observe"),
    _rule("batch", "jobs", "get, list, watch", "", ALWAYS, "handlers/operator.py job_event (kopf watch); adapters/jobs.py observe"),
    _rule("", "pods", "get, list", "", ALWAYS, "adapters/jobs.py observe (the termination message of a completed Job's pod: its outputs)"),
    _rule("", "services", "get, list, watch", "", ALWAYS, "adapters/services.py selector (the canary Service's selector)"),
    _rule("", "configmaps", "get, list, watch", "", ALWAYS, "adapters/workloads.py restore_snapshot, adapters/manifests.py (a snapshot, trusted only when the run owns it)"),
    _rule("gateway.networking.k8s.io", "httproutes", "get, list, watch", "", ALWAYS, "adapters/routes.py GatewayRouter observe"),
    _rule("autoscaling", "horizontalpodautoscalers", "get, list, watch", "", ALWAYS, "adapters/autoscalers.py observe (the HPA a canary carries through its phases)"),
    _rule("", "serviceaccounts", "impersonate", "(serviceAccounts)", ALWAYS, "adapters/kube.py acting_as (impersonation): every change to a tenant's objects"),
    _rule("apiextensions.k8s.io", "customresourcedefinitions", "list, watch", "", ALWAYS, "kopf _core/reactor/observation.py resource_observer"),
    _rule("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create", "", ALWAYS, f"{ADMISSION} (creates it when absent)"),
    _rule("admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch", "convoy.dev", ALWAYS, f"{ADMISSION} (handlers/operator.py startup: admission.managed)"),
    _rule("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "create", "", ALWAYS, f"{ADMISSION} (creates it when absent)"),
    _rule("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch", "convoy.dev", ALWAYS, f"{ADMISSION} (handlers/operator.py startup: admission.managed)"),
    _rule("authorization.k8s.io", "subjectaccessreviews", "create", "", ALWAYS, "handlers/admission.py (may the user create Rollbacks: a Rollback decision; Workflows: an inline workflow)"),
    _rule("", "namespaces", "list, watch", "", NAMESPACED, "kopf _core/reactor/observation.py namespace_observer"),
    _rule("kopf.dev", "clusterkopfpeerings", "list, watch", "", HA, f"{PEERING} process_peering_event (watch)"),
    _rule("kopf.dev", "clusterkopfpeerings", "patch", "(fullname)", HA, f"{PEERING} touch, clean (keep-alives)"),
    _rule("kopf.dev", "kopfpeerings", "list, watch", "", HA_NAMESPACED, f"{PEERING} process_peering_event (watch)"),
    _rule("kopf.dev", "kopfpeerings", "patch", "(fullname)", HA_NAMESPACED, f"{PEERING} touch, clean (keep-alives)"),
)
# fmt: on
CLUSTER_SCOPED = {
    "customresourcedefinitions",
    "subjectaccessreviews",
    "namespaces",
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "clusterkopfpeerings",
}
Grant = tuple[str, str, frozenset[str], frozenset[str]]  # group, resource, verbs, resource names


def helm_binary() -> str:
    """`helm` from PATH, else the one hack/build-tools.sh built into the cache."""
    found = shutil.which("helm")
    if found:
        return found
    cache = Path(
        os.environ.get("CONVOY_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convoy"
    )
    built = sorted(cache.glob("*/bin/helm"))
    if not built:
        pytest.fail(
            f"helm is not on PATH nor in {cache}/*/bin: run `hack/build-tools.sh` (it builds helm from source)",
            pytrace=False,
        )
    return str(built[-1])


def helm(*args: str) -> str:
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}{result.stdout}"
    return result.stdout + result.stderr


@functools.cache
def render(*sets: str) -> tuple[Doc, ...]:
    """The chart's documents for `--set` values (cached: the tests only read them)."""
    flags = [flag for value in sets for flag in ("--set", value)]
    out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *flags)
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def find(docs: tuple[Doc, ...], kind: str, name: str, namespace: str | None = None) -> Doc:
    found = [
        d
        for d in docs
        if d["kind"] == kind and d["metadata"]["name"] == name and d["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, f"{len(found)} {kind} named {name} in namespace {namespace}"
    return found[0]


def grants(role: Doc) -> list[Grant]:
    """A role's rules, one entry per resource."""
    return [
        (group, resource, frozenset(rule["verbs"]), frozenset(rule.get("resourceNames") or ()))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    ]


def expected(
    rules: tuple[Rule, ...], *, fullname: str = RELEASE, service_accounts: tuple[str, ...] = ("convoy-runner",)
) -> list[Grant]:
    names = {"(fullname)": (fullname,), "(serviceAccounts)": service_accounts}
    return [(r.group, r.resource, r.verbs, frozenset(m for n in r.names for m in names.get(n, (n,)))) for r in rules]


def rows(*whens: str, cluster_scoped: bool | None = None) -> tuple[Rule, ...]:
    return tuple(
        r
        for r in RULES
        if r.when in whens and (cluster_scoped is None or (r.resource in CLUSTER_SCOPED) == cluster_scoped)
    )


def assert_grants_exactly(role: Doc, rules: tuple[Rule, ...]) -> None:
    """The role grants these rules: nothing missing, nothing more, nothing twice."""
    granted, wanted = grants(role), expected(rules)
    assert len(granted) == len(set(granted)), f"a rule is granted twice: {granted}"
    extra = set(granted) - set(wanted)
    assert extra == set(), "granted but not in the table: review it, then add it here and to charts/convoy/README.md"
    assert set(wanted) - set(granted) == set(), "in the table but not granted"


def allows(role: Doc, group: str, resource: str, verb: str) -> bool:
    return any(
        g in (group, "*") and r in (resource, "*") and (verb in verbs or "*" in verbs) and not names
        for g, r, verbs, names in grants(role)
    )


def test_helm_lint_is_clean() -> None:
    for sets in ([], ["--set", "replicaCount=2"], ["--set", "watchNamespaces={a,b}"]):
        output = helm("lint", "--strict", str(CHART), *sets)
        problems = [line for line in output.splitlines() if line.startswith(("[WARNING]", "[ERROR]"))]
        assert problems == [], output


@pytest.mark.parametrize(
    "sets",
    [
        pytest.param((), id="defaults"),
        pytest.param(("replicaCount=2",), id="ha"),
        pytest.param(("watchNamespaces={a,b}",), id="namespaced"),
        pytest.param(("replicaCount=2", "watchNamespaces={a,b}"), id="ha-namespaced"),
        pytest.param(("metrics.serviceMonitor.enabled=true", "logFormat=json"), id="servicemonitor-json"),
    ],
)
def test_the_chart_renders(sets: tuple[str, ...]) -> None:
    kinds = {d["kind"] for d in render(*sets)}
    assert {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Secret"} <= kinds


def test_values_outside_the_schema_are_refused() -> None:
    result = subprocess.run(
        [helm_binary(), "template", RELEASE, str(CHART), "--set", "logFormat=xml"], capture_output=True, text=True
    )
    assert result.returncode != 0 and "logFormat" in result.stderr


def _operator_container(docs: tuple[Doc, ...]) -> Doc:
    pod = find(docs, "Deployment", RELEASE, NAMESPACE)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    return dict(container)


def test_the_pod_runs_under_restricted_pod_security() -> None:
    pod = find(render(), "Deployment", RELEASE, NAMESPACE)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = _operator_container(render())
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp must be a writable emptyDir"
    assert set(container["resources"]) == {"requests", "limits"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_the_liveness_probe_asks_the_operator_liveness_endpoint() -> None:
    container = _operator_container(render())
    assert "--liveness=http://0.0.0.0:8081/healthz" in container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz" and ports[probe["port"]] == 8081


@pytest.mark.parametrize(
    ("sets", "present", "absent"),
    [
        pytest.param(
            (),
            [
                f"--webhook-host=convoy-webhook.{NAMESPACE}.svc",
                "--webhook-addr=0.0.0.0",
                "--webhook-port=9443",
                "--metrics-port=8080",
                "--log-format=plain",
            ],
            ["--peering=convoy", "--namespace=a"],
            id="defaults",
        ),
        pytest.param(("replicaCount=2",), ["--peering=convoy", "--peering-lifetime=15"], [], id="ha-peers"),
        pytest.param(
            ("replicaCount=2", "peering.lifetime=30"),
            ["--peering-lifetime=30"],
            ["--peering-lifetime=15"],
            id="ha-lifetime",
        ),
        pytest.param(("watchNamespaces={a,b}",), ["--namespace=a", "--namespace=b"], ["--peering=convoy"], id="ns"),
        pytest.param(("logFormat=json",), ["--log-format=json"], ["--log-format=plain"], id="json-logs"),
    ],
)
def test_the_operator_arguments_follow_the_values(sets: tuple[str, ...], present: list[str], absent: list[str]) -> None:
    args = _operator_container(render(*sets))["args"]
    assert [a for a in present if a not in args] == []
    assert [a for a in absent if a in args] == []


def test_the_webhook_service_is_the_host_the_api_server_calls() -> None:
    docs = render()
    service = find(docs, "Service", "convoy-webhook", NAMESPACE)
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 9443, "targetPort": "webhook", "protocol": "TCP"}]
    secret = find(docs, "Secret", "convoy-webhook-tls", NAMESPACE)
    pod = find(docs, "Deployment", RELEASE, NAMESPACE)["spec"]["template"]["spec"]
    assert {"name": "webhook-tls", "secret": {"secretName": secret["metadata"]["name"]}} in pod["volumes"]


def test_high_availability_brings_a_disruption_budget_and_the_peering_object() -> None:
    assert not [d for d in render() if d["kind"] in ("PodDisruptionBudget", "ClusterKopfPeering")]
    docs = render("replicaCount=2")
    assert find(docs, "PodDisruptionBudget", RELEASE, NAMESPACE)["spec"]["minAvailable"] == 1
    peering = find(docs, "ClusterKopfPeering", RELEASE)
    assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert find(docs, "CustomResourceDefinition", "clusterkopfpeerings.kopf.dev")["spec"]["scope"] == "Cluster"
    namespaced = render("replicaCount=2", "watchNamespaces={a,b}")
    assert find(namespaced, "KopfPeering", RELEASE, "a") and find(namespaced, "KopfPeering", RELEASE, "b")


def test_the_cluster_role_is_exactly_the_documented_rules() -> None:
    assert_grants_exactly(find(render(), "ClusterRole", RELEASE), rows(ALWAYS))


def test_with_replicas_the_cluster_role_adds_only_peering() -> None:
    assert_grants_exactly(find(render("replicaCount=2"), "ClusterRole", RELEASE), rows(ALWAYS, HA))


@pytest.mark.parametrize("replicas", [pytest.param("1", id="single"), pytest.param("2", id="ha")])
def test_with_watch_namespaces_each_namespace_gets_a_role(replicas: str) -> None:
    docs = render(f"replicaCount={replicas}", "watchNamespaces={a,b}")
    assert_grants_exactly(find(docs, "ClusterRole", RELEASE), rows(ALWAYS, NAMESPACED, cluster_scoped=True))
    whens = (ALWAYS, HA_NAMESPACED) if replicas == "2" else (ALWAYS,)
    for namespace in ("a", "b"):
        assert_grants_exactly(find(docs, "Role", RELEASE, namespace), rows(*whens, cluster_scoped=False))
        binding = find(docs, "RoleBinding", RELEASE, namespace)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]


def _readme_rules() -> list[tuple[str, ...]]:
    """The rows of the README's "Operator permissions" table."""
    text = (CHART / "README.md").read_text()
    section = text.split("## Operator permissions", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    return [tuple(cell.strip().replace("`", "") for cell in line.strip("|").split("|")) for line in table]


def test_the_readme_documents_the_same_rules() -> None:
    documented = [_rule("" if g == '""' else g, r, v, n, w, why) for g, r, v, n, w, why in _readme_rules()]
    assert documented == list(RULES)


def test_the_readme_documents_every_value() -> None:
    def paths(node: Any, prefix: str = "") -> set[str]:
        if isinstance(node, dict) and node:
            return {p for key, value in node.items() for p in paths(value, f"{prefix}{key}.")}
        return {prefix.rstrip(".")}

    values = paths(yaml.safe_load((CHART / "values.yaml").read_text()))
    section = (CHART / "README.md").read_text().split("## Values", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    undocumented = {v for v in values if not any(v == d or v.startswith(d + ".") for d in documented)}
    assert undocumented == set()
    assert {d for d in documented if not any(v == d or v.startswith(d + ".") for v in values)} == set()


def _user_role(name: str) -> Doc:
    return find(render(), "ClusterRole", f"{RELEASE}-{name}")


@pytest.mark.parametrize(
    ("role", "resource", "verb", "allowed"),
    [
        pytest.param("deploy", "workflowruns", "create", True, id="deploy-creates-runs"),
        pytest.param("deploy", "pipelineruns", "delete", True, id="deploy-deletes-pipelineruns"),
        pytest.param("deploy", "workflows", "get", True, id="deploy-reads-workflows"),
        pytest.param("deploy", "rollbacks", "create", False, id="deploy-cannot-roll-back"),
        pytest.param("deploy", "workflowruns", "patch", False, id="deploy-cannot-decide"),
        pytest.param("deploy", "workflows", "create", False, id="deploy-cannot-define"),
        pytest.param("rollback", "rollbacks", "create", True, id="rollback-creates-rollbacks"),
        pytest.param("rollback", "workflowruns", "create", False, id="rollback-cannot-deploy"),
        pytest.param("approve", "workflowruns", "patch", True, id="approve-decides-runs"),
        pytest.param("approve", "pipelineruns", "patch", True, id="approve-decides-pipelineruns"),
        pytest.param("approve", "workflowruns", "create", False, id="approve-cannot-deploy"),
        pytest.param("approve", "rollbacks", "create", False, id="approve-cannot-roll-back"),
        pytest.param("view", "rollbacks", "watch", True, id="view-watches"),
        pytest.param("view", "workflowruns", "patch", False, id="view-only-reads"),
        pytest.param("view", "grants", "list", True, id="view-reads-grants"),
        pytest.param("grant", "grants", "create", True, id="grant-creates-grants"),
        pytest.param("grant", "workflowruns", "create", False, id="grant-cannot-deploy"),
        pytest.param("deploy", "grants", "create", False, id="deploy-cannot-grant"),
        pytest.param("approve", "grants", "patch", False, id="approve-cannot-grant"),
    ],
)
def test_user_roles_keep_rolling_back_apart_from_deploying(role: str, resource: str, verb: str, allowed: bool) -> None:
    assert allows(_user_role(role), "convoy.dev", resource, verb) is allowed


@pytest.mark.parametrize(
    ("role", "aggregate_to"),
    [
        pytest.param("view", "view", id="view"),
        pytest.param("deploy", "edit", id="deploy"),
        pytest.param("approve", "admin", id="approve"),
        pytest.param("rollback", "admin", id="rollback"),
        pytest.param("grant", "admin", id="grant"),
    ],
)
def test_user_roles_aggregate_into_the_default_roles(role: str, aggregate_to: str) -> None:
    labels = _user_role(role)["metadata"]["labels"]
    assert {k for k in labels if k.startswith("rbac.authorization.k8s.io/")} == {
        f"rbac.authorization.k8s.io/aggregate-to-{aggregate_to}"
    }
    plain = find(render("rbac.aggregateToDefaultRoles=false"), "ClusterRole", f"{RELEASE}-{role}")
    assert not [k for k in plain["metadata"]["labels"] if k.startswith("rbac.authorization.k8s.io/")]


def test_the_chart_ships_the_generated_crds_unchanged() -> None:
    generated = {p.name: p.read_bytes() for p in sorted((ROOT / "crds").glob("*.yaml"))}
    shipped = {p.name: p.read_bytes() for p in sorted((CHART / "crds").glob("*.yaml"))}
    assert sorted(shipped) == sorted(generated)
    assert [name for name in generated if shipped[name] != generated[name]] == [], "run `make crds`"


# What the operator's own identity may write outside Convoy's kinds, and nothing else: (group, resource, verb,
# whether the rule must name its objects). Every other change to a tenant's objects is made as the tenant.
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate"})
ALLOWED_WRITES = {
    ("", "events", "create"): False,
    ("kopf.dev", "clusterkopfpeerings", "patch"): True,
    ("kopf.dev", "kopfpeerings", "patch"): True,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create"): False,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "create"): False,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch"): True,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch"): True,
    ("authorization.k8s.io", "subjectaccessreviews", "create"): False,
    ("", "serviceaccounts", "impersonate"): True,
}
OWN_WEBHOOKS = frozenset({"convoy.dev"})


def operator_roles(docs: tuple[Doc, ...]) -> list[Doc]:
    """Every ClusterRole and Role bound to the operator's ServiceAccount, found through the bindings (so a role
    added under another name is checked too)."""
    account = {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    roles = []
    for binding in docs:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding") or account not in binding["subjects"]:
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        roles.append(find(docs, ref["kind"], ref["name"], namespace))
    return roles


def forbidden_writes(role: Doc) -> list[str]:
    """The role's grants the operator must not hold: a write verb on a kind that is not Convoy's (beyond the
    exceptions above), any access to Secrets, and any wildcard."""
    found = []
    for group, resource, verbs, names in grants(role):
        where = f"{role['kind']} {role['metadata']['name']}: {sorted(verbs)} on {group or 'core'}/{resource}"
        if "*" in (group, resource) or "*" in verbs:
            found.append(f"{where} (a wildcard)")
            continue
        if resource == "secrets" or resource.startswith("secrets/"):
            found.append(f"{where} (Secrets are read as the tenant)")
            continue
        if group == "convoy.dev":
            continue
        for verb in sorted(verbs & WRITE_VERBS):
            named = ALLOWED_WRITES.get((group, resource, verb))
            if named is None:
                found.append(f"{where}: {verb} is a write on a kind that is not Convoy's")
            elif named and not names:
                found.append(f"{where}: {verb} must be limited with resourceNames")
            elif resource.endswith("webhookconfigurations") and names and names != OWN_WEBHOOKS:
                found.append(f"{where}: only Convoy's own webhook configurations ({sorted(OWN_WEBHOOKS)})")
    return found


@pytest.mark.parametrize(
    "sets",
    [
        pytest.param((), id="defaults"),
        pytest.param(("watchNamespaces={a,b}",), id="namespaced"),
        pytest.param(("replicaCount=2",), id="ha"),
        pytest.param(("replicaCount=2", "watchNamespaces={a,b}"), id="ha-namespaced"),
        pytest.param(("tenancy.serviceAccounts={deployer,convoy-runner}",), id="more-service-accounts"),
    ],
)
def test_the_operator_writes_nothing_but_convoy_kinds(sets: tuple[str, ...]) -> None:
    # Given the chart rendered, when every role bound to the operator is read, then none lets it change a
    # tenant's objects: those changes are made as the tenant's ServiceAccount, and RBAC decides
    roles = operator_roles(render(*sets))
    assert {r["kind"] for r in roles} == (
        {"ClusterRole", "Role"} if "watchNamespaces={a,b}" in sets else {"ClusterRole"}
    )
    assert [problem for role in roles for problem in forbidden_writes(role)] == []


def _role(*rules: Doc) -> Doc:
    return {"kind": "ClusterRole", "metadata": {"name": "probe"}, "rules": list(rules)}


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}, id="patch-deployments"),
        pytest.param({"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}, id="create-jobs"),
        pytest.param({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["delete"]}, id="delete-configmaps"),
        pytest.param({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, id="read-secrets"),
        pytest.param({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}, id="wildcard"),
        pytest.param({"apiGroups": ["convoy.dev"], "resources": ["*"], "verbs": ["get"]}, id="convoy-wildcard"),
        pytest.param({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}, id="every-verb"),
        pytest.param(
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]},
            id="escalate",
        ),
        pytest.param({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}, id="any-sa"),
        pytest.param({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}, id="impersonate-users"),
        pytest.param(
            {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"], "verbs": ["patch"]}, id="any-peering"
        ),
        pytest.param(
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["validatingwebhookconfigurations"],
                "resourceNames": ["someone-else"],
                "verbs": ["patch"],
            },
            id="another-webhook",
        ),
        pytest.param(
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations"],
                "verbs": ["delete"],
            },
            id="delete-webhooks",
        ),
    ],
)
def test_the_write_check_catches_a_forbidden_grant(rule: Doc) -> None:
    assert forbidden_writes(_role(rule)) != []


def test_the_operator_may_impersonate_only_the_allowed_service_accounts() -> None:
    def impersonable(*sets: str) -> set[frozenset[str]]:
        [role] = operator_roles(render(*sets))
        return {names for _, resource, verbs, names in grants(role) if resource == "serviceaccounts"}

    assert impersonable() == {frozenset({"convoy-runner"})}
    # The default ServiceAccount is always allowed, whatever the list says
    assert impersonable("tenancy.defaultServiceAccount=deployer", "tenancy.serviceAccounts={ci}") == {
        frozenset({"deployer", "ci"})
    }


# The convoy-runner ClusterRole, row for row as in charts/convoy/README.md ("The convoy-runner role").
# fmt: off
RUNNER = (
    _rule("apps", "deployments", "get, list, watch, create, patch, delete", "", ALWAYS, "adapters/workloads.py set_image, set_paused, mark_template, restore_snapshot; adapters/copies.py ensure_copy, scale, delete (canary and blue/green copies)"),
    _rule("apps", "replicasets", "list, delete", "", ALWAYS, "adapters/handover.py hand_over (a replica-split canary's promotion: the stable's ReplicaSets that run no pod go, so it adopts the canary's; without these verbs it starts new pods)"),
    _rule("", "services", "get, patch", "", ALWAYS, "adapters/services.py point_service"),
    _rule("gateway.networking.k8s.io", "httproutes", "get, patch", "", ALWAYS, "adapters/routes.py GatewayRouter set_weights"),
    _rule("autoscaling", "horizontalpodautoscalers", "get, patch", "", ALWAYS, "adapters/autoscalers.py set_bounds (a canary's HPA follows the weight, and gets its bounds back)"),
    _rule("batch", "jobs", "get, list, watch, create, delete", "", ALWAYS, "adapters/jobs.py ensure_job, observe, delete_job"),
    _rule("", "configmaps", "get, create, patch, delete", "", ALWAYS, "adapters/workloads.py, adapters/manifests.py snapshots; a Basic workflow's ConfigMaps (server-side apply, delete on rollback)"),
    _rule("", "secrets", "get", "", ALWAYS, "adapters/notify.py (a notify step's webhook URL); adapters/measure.py (an http check's headersFrom)"),
    _rule("convoy.dev", "workflowruns", "get, create, patch", "", ALWAYS, "adapters/stage_runs.py ensure_stage_run, abort_stage_run (pipeline stages); adapters/triggered.py create_run (GitOps triggers)"),
)
# fmt: on


@pytest.mark.parametrize(
    "sets",
    [pytest.param((), id="defaults"), pytest.param(("watchNamespaces={a,b}", "replicaCount=2"), id="ha-namespaced")],
)
def test_the_runner_role_is_exactly_the_documented_rules(sets: tuple[str, ...]) -> None:
    docs = render(*sets)
    runner = find(docs, "ClusterRole", "convoy-runner")
    assert_grants_exactly(runner, RUNNER)
    assert runner["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    # The chart binds it to nobody: tenants do, in their namespaces
    assert [d for d in docs if d["kind"].endswith("Binding") and d["roleRef"]["name"] == "convoy-runner"] == []
    # and it never lets a workflow touch RBAC, pods or anything cluster-wide
    assert [g for g in grants(runner) if g[0] in ("rbac.authorization.k8s.io", "*") or g[1] in ("pods", "*")] == []


def _readme_table(heading: str) -> list[Rule]:
    text = (CHART / "README.md").read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    cells = [tuple(cell.strip().replace("`", "") for cell in line.strip("|").split("|")) for line in table]
    return [_rule("" if g == '""' else g, r, v, n, ALWAYS, why) for g, r, v, n, why in cells]


def test_the_readme_documents_the_runner_role() -> None:
    assert _readme_table("## The convoy-runner role") == list(RUNNER)


def test_the_seal_key_is_a_secret_mounted_into_the_operator() -> None:
    docs = render()
    secret = find(docs, "Secret", "convoy-seal-key", NAMESPACE)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(base64.b64decode(secret["data"]["seal.key"])) >= 32
    pod = find(docs, "Deployment", RELEASE, NAMESPACE)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    container = _operator_container(docs)
    [mount] = [
        m
        for m in container["volumeMounts"]
        if volumes[m["name"]].get("secret", {}).get("secretName") == "convoy-seal-key"
    ]
    assert mount["readOnly"] is True
    assert f"--seal-key-file={mount['mountPath']}/seal.key" in container["args"]


def test_an_existing_seal_key_secret_replaces_the_generated_one() -> None:
    docs = render("seal.keySecret=my-seal")
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "convoy-seal-key"]
    pod = find(docs, "Deployment", RELEASE, NAMESPACE)["spec"]["template"]["spec"]
    assert {"name": "seal-key", "secret": {"secretName": "my-seal", "defaultMode": 0o440}} in pod["volumes"]


@pytest.mark.parametrize(
    ("sets", "flag"),
    [
        pytest.param((), "--default-service-account=convoy-runner", id="default"),
        pytest.param(("tenancy.defaultServiceAccount=deployer",), "--default-service-account=deployer", id="set"),
    ],
)
def test_the_default_service_account_is_passed_to_the_operator(sets: tuple[str, ...], flag: str) -> None:
    assert flag in _operator_container(render(*sets))["args"]


def test_there_is_no_network_policy_unless_asked() -> None:
    assert not [d for d in render() if d["kind"] == "NetworkPolicy"]


def test_the_network_policy_allows_dns_the_api_server_and_the_listed_destinations() -> None:
    docs = render(
        "networkPolicy.enabled=true",
        "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
        "networkPolicy.apiServer.ports={6443}",
        "networkPolicy.extraEgress[0].cidr=10.96.0.0/12",
        "networkPolicy.extraEgress[0].ports={9090}",
        "networkPolicy.extraEgress[1].cidr=0.0.0.0/0",
        "networkPolicy.extraEgress[1].except={10.0.0.0/8}",
    )
    policy = find(docs, "NetworkPolicy", RELEASE, NAMESPACE)["spec"]
    assert policy["policyTypes"] == ["Egress"], "ingress stays open: the API server calls the webhooks"
    assert (
        policy["podSelector"]["matchLabels"]
        == find(docs, "Deployment", RELEASE, NAMESPACE)["spec"]["selector"]["matchLabels"]
    )
    dns, api_server, prometheus, webhooks = policy["egress"]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert api_server == {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "ports": [{"protocol": "TCP", "port": 6443}]}
    assert prometheus == {"to": [{"ipBlock": {"cidr": "10.96.0.0/12"}}], "ports": [{"protocol": "TCP", "port": 9090}]}
    assert webhooks == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}


def test_the_network_policy_needs_the_api_server_address() -> None:
    result = subprocess.run(
        [helm_binary(), "template", RELEASE, str(CHART), "--set", "networkPolicy.enabled=true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "networkPolicy.apiServer.cidrs" in result.stderr
