#!/usr/bin/env bash
# Installs the pinned Debian packages of scripts/system-packages.txt (real Prometheus,
# Pushgateway, Alertmanager and MIT Kerberos for the tests). Idempotent: packages already at
# the pinned version are not touched. Their services are not started: the tests start their
# own servers on loopback.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$here/system-packages.txt")
missing=()
for spec in "${wanted[@]}"; do
  name=${spec%%=*} version=${spec#*=}
  have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
  [ "$have" = "$version" ] || missing+=("$spec")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[system-packages] all ${#wanted[@]} pinned packages present"
  exit 0
fi
command -v apt-get >/dev/null || { echo "install-system-packages: needs Debian's apt-get; install: ${missing[*]}" >&2; exit 1; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting system services (a KDC, a Prometheus on :9090, …).
policy=/usr/sbin/policy-rc.d
restore_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  restore_policy=true
fi
trap '$restore_policy && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[system-packages] installed ${missing[*]} in $((SECONDS - start)) s"
