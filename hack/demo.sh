#!/usr/bin/env bash
# `make demo`: a cluster (the local one unless KUBECONFIG names one), the CRDs, the operator, and an example
# run whose progress is shown until it finishes. The cluster stays up afterwards; the operator stops with this
# script (Ctrl-C stops it too).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ -z "${KUBECONFIG:-}" ]; then
  say "starting the local control plane (the first run builds it from source: ~10 minutes)"
  hack/devcluster up >/dev/null
  eval "$(hack/devcluster env)"
else
  say "using the cluster of KUBECONFIG=$KUBECONFIG"
  command -v kubectl >/dev/null || { echo "kubectl is not on PATH" >&2; exit 1; }
fi
ns=${DEMO_NAMESPACE:-convoy-demo}

say "installing the CRDs"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null

say "starting the operator (log: ${TMPDIR:-/tmp}/convoy-demo-operator.log)"
log=${TMPDIR:-/tmp}/convoy-demo-operator.log
.venv/bin/convoy --webhook-port "${DEMO_WEBHOOK_PORT:-9443}" --metrics-port "${DEMO_METRICS_PORT:-8080}" \
  --liveness "http://127.0.0.1:${DEMO_LIVENESS_PORT:-8081}/healthz" >"$log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null || true; wait $operator 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:${DEMO_LIVENESS_PORT:-8081}/healthz" >/dev/null 2>&1 && grep -q "validating webhook" "$log" && break
  kill -0 $operator 2>/dev/null || { tail -20 "$log"; echo "the operator exited" >&2; exit 1; }
  sleep 0.5
done

columns='PHASE:.status.phase,CURRENT:.status.currentPhase,STEP:.status.currentStep,WEIGHT:.status.weight'
columns+=',STABLE:.status.canary.stable,CANARY:.status.canary.canary,PROGRESS:.status.progress'

# show WORKFLOW_FILE RUN_FILE RUN DEPLOYMENT: apply an example and its run, print each change of the run's
# progress until it ends, then its tree; succeed only if the run succeeded.
show() {
  local workflow=$1 runfile=$2 run=$3 deployment=$4 line last="" result=""
  say "applying $workflow and $runfile in namespace $ns"
  kubectl -n "$ns" delete workflowrun "$run" --ignore-not-found >/dev/null
  kubectl -n "$ns" apply -f "$workflow" >/dev/null
  kubectl -n "$ns" rollout status "deployment/$deployment" --timeout=60s >/dev/null
  kubectl -n "$ns" apply -f "$runfile" >/dev/null
  say "progress of workflowrun/$run (pods: stable/canary)"
  kubectl -n "$ns" get workflowrun "$run" -o custom-columns="$columns" | head -1
  for _ in $(seq 1 600); do
    line=$(kubectl -n "$ns" get workflowrun "$run" -o custom-columns="$columns" --no-headers 2>/dev/null || true)
    if [ -n "$line" ] && [ "$line" != "$last" ]; then
      echo "$line"
      last=$line
    fi
    result=$(kubectl -n "$ns" get workflowrun "$run" -o jsonpath='{.status.result}' 2>/dev/null || true)
    [ -n "$result" ] && break
    sleep 0.3
  done
  echo
  .venv/bin/kubectl-convoy -n "$ns" get workflowrun "$run" || true
  echo
  kubectl -n "$ns" get deployment "$deployment" -o wide
  say "workflowrun/$run finished: ${result:-not yet}"
  [ "$result" = "Succeeded" ]
}

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# Convoy makes every change as a ServiceAccount of the namespace (docs/security.md): the chart's convoy-runner
# role, bound to the namespace's convoy-runner ServiceAccount, as a tenant's owners would do.
say "letting Convoy act in namespace $ns as its convoy-runner ServiceAccount"
helm=$(command -v helm || echo "$(hack/build-tools.sh)/helm")
"$helm" template convoy charts/convoy --show-only templates/rbac-runner.yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" create serviceaccount convoy-runner --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" create rolebinding convoy-runner --clusterrole=convoy-runner --serviceaccount="$ns:convoy-runner" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
show examples/workflow-rolling.yaml examples/run-rolling.yaml web-rolling-1-1 web-rolling
show examples/demo-canary.yaml examples/run-demo-canary.yaml demo-2-0 demo
echo "Reach the cluster with: export KUBECONFIG=$KUBECONFIG"
echo "Convoy's admission webhooks stay registered and fail closed: Convoy objects cannot be changed until an"
echo "operator runs again (make demo), or until you delete the webhook configurations named convoy.dev."
