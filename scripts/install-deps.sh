#!/usr/bin/env bash
# Installs the Debian 12 packages marquee builds, runs and tests with.
# Idempotent: installs only what is missing; apt-get update only when needed.
#   scripts/install-deps.sh [more packages]   # e.g. the sanitizers' runtimes
set -euo pipefail
pkgs=("$@" build-essential cmake pkg-config git clang-format
      libcaf-dev libnats-dev nats-server liblmdb-dev lmdb-utils
      libcereal-dev libspdlog-dev catch2 libsimdjson-dev rapidjson-dev
      libtomlplusplus-dev libcli11-dev libedit-dev zlib1g-dev
      openssl gdb gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# The JavaScript client tests need node and npm (any recent version).
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" \
  || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
