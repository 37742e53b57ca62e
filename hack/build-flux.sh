#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller from their Go modules at the versions pinned in
# versions.env, for the GitOps e2e tests (tests/e2e/gitops, `hack/devcluster flux up`). Each controller gets its own
# wrapper module that requires it and carries its go.mod `replace` lines (a dependency's replace lines are ignored by
# Go; the relative ones, `=> ./api`, point at a published module of the same version and are dropped), so each is
# built with the dependency versions upstream tested. Cached beside the control plane's binaries
# (hack/build-tools.sh): only the first run pays. Flux's CRDs are copied from the modules' config/crd/bases into the
# cache's crds/ directory, beside bin/. Prints the bin dir on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${CONVOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convoy}
root="$cache/flux-source-${FLUX_SOURCE_VERSION}_kustomize-${FLUX_KUSTOMIZE_VERSION}"
bin="$root/bin"
crds="$root/crds"
log() { echo "[build-flux] $*" >&2; }
# Upstream needs a newer Go than the local one: this build alone may fetch that toolchain from the module proxy.
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=$FLUX_GOTOOLCHAIN

# build <binary> <module> <version>: the controller's main package is the module's root package.
build() {
  local name=$1 module=$2 version=$3 mod="$root/src/$1" upstream dir
  if [ ! -x "$bin/$name" ]; then
    rm -rf "$mod" && mkdir -p "$mod" "$bin"
    log "resolving $module@$version (toolchain $GOTOOLCHAIN)"
    upstream=$(cd "$mod" && GOFLAGS='' go mod download -json "$module@$version" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    {
      echo "module convoy.dev/hack/$name"
      echo
      grep -E '^go [0-9.]+$' "$upstream"
      echo
      echo "require $module $version"
      echo
      # the replace lines, verbatim, single-line or in a block, except those to a local directory
      awk '/^replace \($/ {on=1} on {print} on && /^\)$/ {on=0} /^replace [^(]/ {print}' "$upstream" |
        grep -vE '=>[[:space:]]+\.\.?/'
    } >"$mod/go.mod"
    cat >"$mod/main.go" <<GO
// Package main only pins the upstream controller's package so that \`go mod tidy\` keeps its dependencies.
package main

import _ "$module"

func main() {}
GO
    log "go mod tidy for $name (the first run downloads a few hundred modules)"
    # -e: the controllers' own tests import test servers whose module versions the proxy may not serve; the
    # build below still fails on any module the binary needs.
    (cd "$mod" && go mod tidy -e >&2)
    rm "$mod/main.go"
    log "building $name $version (several minutes on 2 cores)"
    (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$bin/$name.tmp" "$module") && mv "$bin/$name.tmp" "$bin/$name"
  fi
  if ! compgen -G "$crds/$name/*.yaml" >/dev/null; then
    dir=$(cd "$mod" && go list -m -f '{{.Dir}}' "$module")
    mkdir -p "$crds/$name"
    cp "$dir"/config/crd/bases/*.yaml "$crds/$name/"
    chmod u+w "$crds/$name"/*.yaml
  fi
}

build source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE_VERSION"
build kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_VERSION"
echo "$bin"
