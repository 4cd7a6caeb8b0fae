#!/usr/bin/env bash
# Fuzzes the decoders of untrusted and stored bytes (tests/fuzz/README.md):
# installs clang-14 and libFuzzer if missing, builds the targets in
# build-fuzz (ASan + UBSan), replays each target's committed corpus and
# regressions, then fuzzes each for SECONDS (default 30; 0: replay only).
# Exits non-zero on any crash, sanitizer report or broken invariant, naming
# the input that caused it.
#
#   scripts/fuzz.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [seconds-per-target]" >&2; exit 2; }
start=$SECONDS

scripts/install-deps.sh clang-14 libclang-rt-14-dev

build=build-fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DMARQUEE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_all -j2
echo "build: $((SECONDS - start)) s"

# Sanitizer reports with stacks; libFuzzer stops at the first finding.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# -malloc_limit_mb: no decoder of one value or message needs 256 MiB at once.
limits=(-rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10)
out=$build/fuzz
failed=()

# Prints the report of a failed run and the input that caused it.
report() {
  local target=$1 log=$2
  echo "FAILED: $target (log: $log)" >&2
  grep -E "ERROR|runtime error|invariant violated|SUMMARY" "$log" | head -5 >&2 || true
  grep -E "^    #[0-9]+ " "$log" | head -12 >&2 || true
  grep -E "Test unit written to|^artifact_prefix" "$log" | sed 's/^/  /' >&2 || true
  failed+=("$target")
}

for target in event_decoder request_codec stored_value stored_payload config; do
  bin=$build/tests/fuzz/fuzz_$target
  seeds=()
  for d in tests/fuzz/corpus/$target tests/fuzz/regressions/$target; do
    [ -d "$d" ] && seeds+=("$d")
  done
  mkdir -p "$out/$target/corpus" "$out/$target/artifacts"
  dict=()
  case $target in
    event_decoder | request_codec) dict=(-dict=tests/fuzz/json.dict) ;;
    config) dict=(-dict=tests/fuzz/config.dict) ;;
  esac
  args=("${limits[@]}" "${dict[@]}" -artifact_prefix="$out/$target/artifacts/")
  # The committed inputs once each, even with 0 seconds.
  log=$out/$target/replay.log
  if ! "$bin" "${args[@]}" -runs=0 "${seeds[@]}" >"$log" 2>&1; then
    report "$target" "$log"
    continue
  fi
  echo "$target replay: $(grep -E '(INITED|DONE) ' "$log" | tail -1)"
  [ "$seconds" -gt 0 ] || continue
  # New inputs go to the first directory, never into the committed ones.
  log=$out/$target/fuzz.log
  if ! "$bin" "${args[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      "$out/$target/corpus" "${seeds[@]}" >"$log" 2>&1; then
    report "$target" "$log"
    continue
  fi
  echo "$target fuzz: $(grep -E 'DONE ' "$log" | tail -1)"
done

echo "total: $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "no findings"
