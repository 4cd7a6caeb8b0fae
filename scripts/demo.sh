#!/usr/bin/env bash
# Quick start 1: install what is missing, build, run `marquee demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/marquee demo "$@"
