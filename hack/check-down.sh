#!/usr/bin/env bash
# `hack/devcluster down`, checked: every process the cluster recorded must be gone afterwards (pgrep-style, by
# the recorded pids; a zombie waiting for init to reap it no longer runs and does not count). Exits 1 if any
# process is left, so `make test` fails when `down` leaves something behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${CONVOY_CLUSTER_DIR:-$HOME/.cache/convoy/cluster}
pids=$(cat "$state"/pids/*.pid 2>/dev/null || true)
"$here/devcluster" down
left=()
for pid in $pids; do
  status=$(ps -o stat= -p "$pid" 2>/dev/null || true)
  [ -n "$status" ] && [[ $status != Z* ]] && left+=("$pid")
done
if [ ${#left[@]} -gt 0 ]; then
  echo "devcluster down left processes running: ${left[*]}" >&2
  exit 1
fi
echo "devcluster down: the $(echo "$pids" | wc -w) recorded processes are gone"
