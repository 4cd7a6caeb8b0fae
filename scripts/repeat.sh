#!/usr/bin/env bash
# Runs the test suite again and again with the CPU oversubscribed, to show
# that no test passes or fails by timing (docs/testing.md):
#
#   scripts/repeat.sh [runs] [ctest args]   # default 20 runs
#
# Builds build/ first (scripts/build.sh), starts MARQUEE_BUSY_LOOPS busy
# loops (default: one per core) beside `ctest -j<cores>`, and stops at the
# first failed run, keeping its log. Every run's log and time are in
# build/repeat/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [runs] [ctest args]" >&2; exit 2; }
shift || true
scripts/build.sh >/dev/null
out="build/repeat"
rm -rf "$out"
mkdir -p "$out"
busy=()
stop_busy() { [ ${#busy[@]} -eq 0 ] || kill "${busy[@]}" 2>/dev/null || true; }
trap stop_busy EXIT
for _ in $(seq "${MARQUEE_BUSY_LOOPS:-$(nproc)}"); do
  (while :; do :; done) &
  busy+=($!)
done
for i in $(seq "$runs"); do
  start=$SECONDS
  if (cd build && ctest -j"$(nproc)" --output-on-failure "$@") >"$out/run-$i.log" 2>&1; then
    echo "run $i of $runs: passed in $((SECONDS - start)) s"
  else
    echo "run $i of $runs: FAILED after $((SECONDS - start)) s; log: $out/run-$i.log" >&2
    grep -E "^[0-9]+/[0-9]+ Test|FAILED|failed" "$out/run-$i.log" >&2 || true
    exit 1
  fi
done
echo "$runs of $runs runs passed with ${#busy[@]} busy loops beside ctest -j$(nproc)"
