#!/usr/bin/env bash
# Quick start 2: install what is missing, build, run every test with ctest,
# then the fuzz targets for a bounded time (MARQUEE_FUZZ_SECONDS, 20 each),
# then the whole suite again under ASan+UBSan and under TSan
# (scripts/sanitize.sh, docs/testing.md; MARQUEE_SANITIZERS lists the
# suites, default "asan tsan", empty for none).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# The JavaScript client tests' packages, exactly as locked.
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
(cd build && ctest --output-on-failure --timeout 300 -j"$(nproc)" "$@")
# A bounded libFuzzer run of every decoder (clang-14, ASan+UBSan), after
# replaying the committed corpus and regressions (tests/fuzz/README.md).
scripts/fuzz.sh "${MARQUEE_FUZZ_SECONDS:-20}"
for kind in ${MARQUEE_SANITIZERS-asan tsan}; do
  scripts/sanitize.sh "$kind" "$@"
done
