#!/usr/bin/env bash
# Plots the samples of `marquee bench --out DIR` (gnuplot, PNG):
#
#   scripts/bench-plots.sh DIR [OUT]   # OUT defaults to DIR
#
# latency.png     rec.user against raw request/reply: share of requests
#                 answered within x µs (1 client, 16 clients, 16 while
#                 ingesting), log scale
# freshness.png   publish → an answer that reflects it, against the raw
#                 publish + round trip
# ingest.png      events applied over time, marquee against the raw
#                 transport, for each ingest run
# A plot whose samples are missing (scenario not run) is skipped.
set -euo pipefail
dir="${1:?usage: scripts/bench-plots.sh DIR [OUT]}"
out="${2:-$dir}"
command -v gnuplot >/dev/null || {
  echo "gnuplot is missing: run scripts/install-deps.sh" >&2
  exit 1
}
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# An empirical CDF: sorted values with their rank / count.
cdf() {
  sort -n "$1" | awk -v n="$(wc -l <"$1")" '{ print $1, NR / n }' >"$2"
}

have() { for f in "$@"; do [ -s "$dir/$f.csv" ] || return 1; done; }

if have rec_user_1 raw_rr_1 rec_user_n raw_rr_n; then
  for s in rec_user_1 raw_rr_1 rec_user_n raw_rr_n rec_user_n_ingesting \
    raw_rr_n_ingesting; do
    [ -s "$dir/$s.csv" ] && cdf "$dir/$s.csv" "$tmp/$s"
  done
  gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,10"
set output "$out/latency.png"
set title "rec.user against raw request/reply (same run)"
set xlabel "latency (µs, log scale)"
set ylabel "share of requests answered"
set logscale x
set key bottom right
set grid
plot "$tmp/raw_rr_1" with lines lw 2 title "raw, 1 client", \
     "$tmp/rec_user_1" with lines lw 2 title "marquee, 1 client", \
     "$tmp/raw_rr_n" with lines lw 2 dt 2 title "raw, 16 clients", \
     "$tmp/rec_user_n" with lines lw 2 dt 2 title "marquee, 16 clients", \
     "$tmp/raw_rr_n_ingesting" with lines lw 2 dt 3 title "raw, 16 clients, stream traffic", \
     "$tmp/rec_user_n_ingesting" with lines lw 2 dt 3 title "marquee, 16 clients, ingesting"
EOF
  echo "$out/latency.png"
fi

if have freshness raw_freshness; then
  cdf "$dir/freshness.csv" "$tmp/freshness"
  cdf "$dir/raw_freshness.csv" "$tmp/raw_freshness"
  gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,10"
set output "$out/freshness.png"
set title "Event to effect while ingesting (same run)"
set xlabel "publish to the answer that reflects it (µs, log scale)"
set ylabel "share of probes"
set logscale x
set key bottom right
set grid
plot "$tmp/raw_freshness" with lines lw 2 title "raw: stream publish + request/reply", \
     "$tmp/freshness" with lines lw 2 title "marquee: publish, then rec.user with after"
EOF
  echo "$out/freshness.png"
fi

runs=()
for kind in plays impressions; do
  for mode in durable core; do
    have "${kind}_${mode}_over_time" "raw_${kind}_${mode}_over_time" &&
      runs+=("${kind}_${mode}")
  done
done
if [ ${#runs[@]} -gt 0 ]; then
  plot=""
  for r in "${runs[@]}"; do
    label="${r/_/, }"
    plot+="\"$dir/raw_${r}_over_time.csv\" using 1:2 with lines lw 2 dt 2 title \"raw, $label\", "
    plot+="\"$dir/${r}_over_time.csv\" using 1:2 with lines lw 2 title \"marquee, $label\", "
  done
  gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,10"
set output "$out/ingest.png"
set title "Events applied over time, each run from its first publish (same run)"
set xlabel "seconds"
set ylabel "events"
set datafile separator ","
set key bottom right
set grid
plot ${plot%, }
EOF
  echo "$out/ingest.png"
fi
