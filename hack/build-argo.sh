#!/usr/bin/env bash
# Builds Argo Rollouts' controller (cmd/rollouts-controller) from its Go module at $ARGO_ROLLOUTS_VERSION, for
# `make bench-compare`. A wrapper module requires it and carries its go.mod `replace` lines (a dependency's replace
# lines are ignored by Go). Cached beside the control plane's binaries (hack/build-tools.sh), so only the first run
# pays. Prints two lines on stdout: the controller binary, then the directory of the module's CRDs (manifests/crds)
# and RBAC (manifests/role) live under: the module's root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${CONVOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convoy}
root="$cache/argo-rollouts-$ARGO_ROLLOUTS_VERSION"
bin="$root/bin/rollouts-controller"
mod="$root/src"
log() { echo "[build-argo] $*" >&2; }
# Upstream needs a newer Go than the local one: this build alone may fetch that toolchain from the module proxy.
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=$ARGO_GOTOOLCHAIN
module=github.com/argoproj/argo-rollouts

if [ ! -x "$bin" ]; then
  rm -rf "$mod" && mkdir -p "$mod" "$root/bin"
  log "resolving $module@$ARGO_ROLLOUTS_VERSION (toolchain $GOTOOLCHAIN)"
  upstream=$(cd "$mod" && GOFLAGS='' go mod download -json "$module@$ARGO_ROLLOUTS_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module convoy.dev/hack/argo"
    echo
    grep -E '^go [0-9.]+$' "$upstream"
    echo
    echo "require $module $ARGO_ROLLOUTS_VERSION"
    echo
    # the replace block, verbatim (single-line `replace x => y` too)
    awk '/^replace \($/ {on=1} on {print} on && /^\)$/ {on=0} /^replace [^(]/ {print}' "$upstream"
  } >"$mod/go.mod"
  cat >"$mod/main.go" <<'GO'
// Package main only pins the upstream controller's package so that `go mod tidy` keeps its dependencies.
package main

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"

func main() {}
GO
  log "go mod tidy (first run downloads a few hundred modules)"
  (cd "$mod" && go mod tidy >&2)
  rm "$mod/main.go"
  log "building rollouts-controller $ARGO_ROLLOUTS_VERSION (several minutes on 2 cores)"
  ld="-s -w -X github.com/argoproj/argo-rollouts/utils/version.version=${ARGO_ROLLOUTS_VERSION#v}"
  (cd "$mod" && go build -trimpath -ldflags "$ld" -o "$bin.tmp" "$module/cmd/rollouts-controller") && mv "$bin.tmp" "$bin"
fi
src=$(cd "$mod" && go list -m -f '{{.Dir}}' "$module")
echo "$bin"
echo "$src"
