#!/usr/bin/env bash
# Makes sure a Prometheus server binary is installed, for the e2e tests that verify canaries against a real
# Prometheus (tests/e2e/test_prometheus.py). Prints its path on stdout.
#
# Uses the `prometheus` on PATH when there is one; otherwise installs Debian's package (root only; about 30 s with
# the package lists to update). The package's service is never used: each test starts its own server.
set -euo pipefail
log() { echo "[prometheus] $*" >&2; }

if found=$(command -v prometheus); then
  echo "$found"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "prometheus is not installed, and installing it needs root on Debian or Ubuntu."
  log "install it yourself (e.g. 'sudo apt-get install prometheus') or put a prometheus binary on PATH."
  exit 1
fi
log "installing Debian's prometheus package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends prometheus >&2
command -v prometheus
