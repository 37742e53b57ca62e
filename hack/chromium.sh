#!/usr/bin/env bash
# Makes sure a Chromium browser is installed, for the dashboard's browser tests (tests/e2e/dashboard/), which drive
# it headless with Playwright. Prints its path on stdout.
#
# Uses a `chromium` on PATH when there is one; otherwise installs Debian's package (root only; about a minute with
# the package lists to update), with a font that has the plugin's state symbols (⏸). Playwright's own browser
# downloads are never used.
set -euo pipefail
log() { echo "[chromium] $*" >&2; }

packages=()
found=$(command -v chromium || command -v chromium-browser || true)
[ -n "$found" ] || packages+=(chromium)
if command -v dpkg-query >/dev/null && ! dpkg-query -W -f='${Status}' fonts-symbola 2>/dev/null | grep -q "ok installed"; then
  packages+=(fonts-symbola)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    if [ -n "$found" ]; then echo "$found"; exit 0; fi  # the symbols' font is nice to have, not needed
    log "chromium is not installed, and installing it needs root on Debian or Ubuntu."
    log "install it yourself (e.g. 'sudo apt-get install chromium') or put a chromium binary on PATH."
    exit 1
  fi
  log "installing Debian's ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
  found=$(command -v chromium)
fi
echo "$found"
