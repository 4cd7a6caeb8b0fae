#!/usr/bin/env bash
# Quick start 2: install what is missing, build, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# The JavaScript client tests' packages, exactly as locked.
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
cd build
ctest --output-on-failure --timeout 300 -j"$(nproc)" "$@"
