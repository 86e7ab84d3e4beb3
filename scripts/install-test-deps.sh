#!/usr/bin/env bash
# Installs the real programs the tests run against (Debian packages), when missing.
# Each file scripts/test-deps/*.list has lines "<path-or-command> <debian-package>";
# the package is installed when the path/command is missing. Needs root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")"
need=()
while read -r probe pkg; do
  [ -z "${probe:-}" ] && continue
  case "$probe" in \#*) continue ;; esac
  if [[ "$probe" == /* ]]; then [ -e "$probe" ] && continue; else command -v "$probe" >/dev/null && continue; fi
  need+=("$pkg")
done < <(cat test-deps/*.list)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]} (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}"
fi
