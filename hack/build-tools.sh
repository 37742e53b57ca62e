#!/usr/bin/env bash
# Builds the local cluster's binaries from pinned upstream Go modules (no release downloads: only the Go module
# proxy is reachable) into a cache outside the repo, so only the first run pays. Prints the bin dir on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
key="k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}"
cache=${CONVOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convoy}
bin="$cache/$key/bin"
work="$cache/$key/src"
mkdir -p "$bin" "$work"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
log() { echo "[build-tools] $*" >&2; }

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
staging_version="v0.${KUBE_VERSION#v1.}"

build_kube() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=()
  for b in "${want[@]}"; do [ -x "$bin/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return
  local mod="$work/kube"
  rm -rf "$mod" && mkdir -p "$mod" && cp -r "$here/tools/." "$mod/"
  log "resolving k8s.io/kubernetes@$KUBE_VERSION"
  local upstream
  upstream=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module convoy.dev/hack/tools"
    echo
    grep -E '^go [0-9.]+$' "$upstream"
    echo
    grep -E '^godebug ' "$upstream" || true
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    # Staging modules are v0.0.0 in upstream's go.mod; as a dependency they need their published tag.
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$upstream" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$mod/go.mod"
  log "go mod tidy (first run downloads a few hundred modules)"
  (cd "$mod" && go mod tidy >&2)
  local pkg=k8s.io/component-base/version cgo=k8s.io/client-go/pkg/version
  local ld="-s -w"
  for p in "$pkg" "$cgo"; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for b in "${missing[@]}"; do
    log "building $b $KUBE_VERSION (the first build takes several minutes on 2 cores)"
    (cd "$mod" && go build -trimpath -ldflags "$ld" -o "$bin/$b" "./$b")
  done
}

build_etcd() {
  [ -x "$bin/etcd" ] && return
  local mod="$work/etcd"
  rm -rf "$mod" && mkdir -p "$mod" && cp "$here/etcd/main.go" "$mod/"
  log "building etcd $ETCD_VERSION"
  (cd "$mod" && go mod init convoy.dev/hack/etcd >&2 2>&1 && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 2>&1 \
    && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
}

go_install() {  # name module@version
  [ -x "$bin/$1" ] && return
  log "building $1 from $2"
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "$2" >&2
}

build_etcd
go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
go_install kwokctl "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
build_kube
echo "$bin"
