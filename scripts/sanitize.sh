#!/usr/bin/env bash
# The whole test suite under sanitizers (docs/testing.md):
#   scripts/sanitize.sh asan [ctest args]   # AddressSanitizer + UBSan, build-asan/
#   scripts/sanitize.sh tsan [ctest args]   # ThreadSanitizer, build-tsan/
# Installs what is missing, configures and builds every target with the
# sanitizer, and runs ctest there. A report from any process, the tests
# or the `marquee` children they start, fails the run: reports are
# written to <build>/sanitizer-reports/ and printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
case "$kind" in
asan) sanitize="address,undefined" ;;
tsan) sanitize="thread" ;;
*)
  echo "usage: scripts/sanitize.sh asan|tsan [ctest args]" >&2
  exit 2
  ;;
esac
shift
build="build-$kind"
root="$(pwd)"

# With the runtimes of GCC 12's sanitizers (build-essential brings them
# today; named so that a slimmer image still works).
scripts/install-deps.sh libasan8 libubsan1 libtsan2
[ -d tests/js/node_modules/nats ] \
  || (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

# ThreadSanitizer needs CAF instrumented as well (lock-free mailboxes): the
# source of Debian's CAF, built with the rest (MARQUEE_CAF_SOURCE in
# CMakeLists.txt). Fetched once with apt-get source through a private list
# of deb-src entries, so the system's apt configuration stays as it is. Only
# the upstream tarball is used: Debian's changes are packaging only (its
# installed headers are the tarball's).
caf_source=""
if [ "$kind" = tsan ]; then
  caf_dir="$root/$build/caf-source"
  caf_source="$caf_dir/actor-framework-0.17.6"
  if [ ! -f "$caf_source/libcaf_core/src/scheduled_actor.cpp" ]; then
    mirror="${MARQUEE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    mkdir -p "$caf_dir/apt/lists/partial" "$caf_dir/apt/cache/archives/partial"
    echo "deb-src $mirror bookworm main" >"$caf_dir/apt/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$caf_dir/apt/sources.list"
              -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$caf_dir/apt/lists"
              -o "Dir::Cache=$caf_dir/apt/cache")
    apt-get "${apt_opts[@]}" -qq update
    # apt checks each file it gets against the signed index; a missing
    # Debian packaging tarball does not matter here.
    fetched="$( (cd "$caf_dir" && apt-get "${apt_opts[@]}" -qq source \
      --download-only actor-framework=0.17.6-2.1) 2>&1)" || true
    tarball="$caf_dir/actor-framework_0.17.6.orig.tar.gz"
    # The checksum of Debian's bookworm .dsc of actor-framework 0.17.6-2.1.
    echo "e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c  $tarball" \
      | sha256sum -c --quiet 2>/dev/null \
      || { echo "$fetched" >&2; echo "cannot fetch the source of CAF 0.17.6" >&2; exit 1; }
    tar -xzf "$tarball" -C "$caf_dir"
  fi
fi

# -O1 -g1: half the compile time of -O2 -g on this 2-core box, and reports
# still name every function, file and line.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DMARQUEE_SANITIZE="$sanitize" -DMARQUEE_CAF_SOURCE="$caf_source" >/dev/null
cmake --build "$build" -j"$(nproc)"

reports="$root/$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
# Inherited by every process ctest starts, `marquee serve` children too.
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
# Instrumented code runs several times slower (ASan about 2x, TSan up to
# 10x): the time budget of a request (rec.budget_ms, 100 ms by default) is
# longer in these suites, for the `marquee serve` children of the tests
# and, through the integration harness, for in-process services too; and
# every bounded wait of the tests may take this many times longer
# (tests/support/eventually.hpp), while a wait that succeeds ends as early.
# See docs/testing.md.
case "$kind" in
asan)
  export MARQUEE_REC_BUDGET_MS=2000
  export MARQUEE_TEST_TIME_SCALE=2
  ;;
tsan)
  export MARQUEE_REC_BUDGET_MS=4000
  export MARQUEE_TEST_TIME_SCALE=4
  ;;
esac
# Source checks that run no code of ours (formatting, includes of domain/)
# run in the normal suite only.
status=0
(cd "$build" && ctest --output-on-failure --timeout 900 -j"$(nproc)" \
  -E '^(format|domain_is_pure)$' "$@") || status=$?
if compgen -G "$reports/*" >/dev/null; then
  for f in "$reports"/*; do
    echo "==== $f"
    cat "$f"
  done
  echo "sanitize.sh $kind: sanitizer reports above (kept in $reports)" >&2
  exit 1
fi
exit $status
