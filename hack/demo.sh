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

say "applying examples/workflow-rolling.yaml and a run of it, in namespace $ns"
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" delete workflowrun web-rolling-1-1 --ignore-not-found >/dev/null
kubectl -n "$ns" apply -f examples/workflow-rolling.yaml >/dev/null
kubectl -n "$ns" rollout status deployment/web-rolling --timeout=60s >/dev/null
kubectl -n "$ns" apply -f examples/run-rolling.yaml >/dev/null

say "progress of workflowrun/web-rolling-1-1"
last=""
for _ in $(seq 1 300); do
  line=$(kubectl -n "$ns" get workflowrun web-rolling-1-1 --no-headers 2>/dev/null || true)
  if [ -n "$line" ] && [ "$line" != "$last" ]; then
    [ -z "$last" ] && kubectl -n "$ns" get workflowrun web-rolling-1-1 | head -1
    echo "$line"
    last=$line
  fi
  phase=$(kubectl -n "$ns" get workflowrun web-rolling-1-1 -o jsonpath='{.status.result}' 2>/dev/null || true)
  [ -n "$phase" ] && break
  sleep 0.5
done
echo
kubectl -n "$ns" get events --field-selector involvedObject.name=web-rolling-1-1 --sort-by=.metadata.creationTimestamp \
  -o custom-columns=TIME:.metadata.creationTimestamp,REASON:.reason,MESSAGE:.message
echo
kubectl -n "$ns" get deployment web-rolling -o wide
say "run finished: ${phase:-not yet}"
echo "Reach the cluster with: export KUBECONFIG=$KUBECONFIG"
[ "$phase" = "Succeeded" ]
