#!/usr/bin/env bash
# For users WITH Docker: a kind cluster named "convoy" with the Gateway API CRDs (standard channel, the version
# pinned in hack/versions.env, taken from the Go module like hack/devcluster does). Needs kind, kubectl, go.
# Without Docker use hack/devcluster instead. Prints the `export KUBECONFIG=...` line on stdout.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=${CONVOY_KIND_CLUSTER:-convoy}
kubeconfig=${CONVOY_KIND_KUBECONFIG:-${XDG_CACHE_HOME:-$HOME/.cache}/convoy/kind-$name.kubeconfig}
log() { echo "[kind-up] $*" >&2; }

for tool in kind kubectl go python3; do
  command -v "$tool" >/dev/null || { log "ERROR: $tool is required"; exit 1; }
done
mkdir -p "$(dirname "$kubeconfig")"

if kind get clusters 2>/dev/null | grep -qx "$name"; then
  log "kind cluster $name already exists"
  kind get kubeconfig --name "$name" >"$kubeconfig"
else
  log "creating kind cluster $name"
  kind create cluster --name "$name" --kubeconfig "$kubeconfig" --wait 120s >&2
fi
chmod 600 "$kubeconfig"

crds=$("$here/devcluster" gateway-crds)
log "installing Gateway API CRDs from $crds"
names=$(kubectl --kubeconfig "$kubeconfig" apply --server-side --force-conflicts \
  --field-manager=convoy-kind-up -o name -f "$crds" | grep '^customresourcedefinition')
# shellcheck disable=SC2086
kubectl --kubeconfig "$kubeconfig" wait --for=condition=Established --timeout=60s $names >&2

log "ready"
echo "export KUBECONFIG=$kubeconfig"
