#pragma once

/// `marquee bench`: marquee's speed beside the raw transport's, measured in
/// the same run on the same machine, over NATS as clients see it.
///
/// The bench starts one nats-server of its own and, for each scenario,
/// marquee in this process (bootstrap/service.hpp) on a fresh data
/// directory, connected to that server. Each scenario measures marquee and
/// then the baseline with the same payloads and the same clients
/// (wire/load.hpp), and prints both with their ratio and the target of
/// docs/benchmarks.md. Targets are reported, never asserted: the exit
/// status says only whether the bench could run.
///
/// Scenarios:
///   ingest     plays and impressions, core and durable mode, against core
///              publish → subscribe and JetStream publish → pull consumer
///   query      `rec.user` from a preloaded state: one client (p50, p99)
///              and `clients` clients (throughput, p99), alone and while
///              ingesting at half the preload rate, against request → a
///              trivial responder with replies of the same size
///   freshness  publish → an answer that reflects it (`after`), while
///              ingesting at half the preload rate
///   memory     resident memory per title (catalog entry), per live user
///              (20 plays, 50 impressed titles), and its growth while
///              `passing_users` distinct users pass through
///   recovery   start to serving with `recovery_users` users checkpointed;
///              replay of `ingest_events` stored events at a start, against
///              a pull consumer reading the same events
///
/// "query" and "freshness" share one preloaded service.

#include "bootstrap/config.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace marquee {

struct bench_options {
  /// Scenarios to run; empty: all, in the order above.
  std::vector<std::string> scenarios;
  /// The preloaded state of "query" and "freshness".
  uint32_t users = 100'000;
  uint32_t titles = 10'000;
  uint64_t preload = 5'000'000;
  /// Each ingest run: events over `ingest_users` users and `ingest_titles`
  /// titles (Zipf).
  uint64_t ingest_events = 300'000;
  uint32_t ingest_users = 10'000;
  uint32_t ingest_titles = 2'000;
  /// The memory and recovery profiles.
  uint32_t memory_titles = 20'000;
  uint32_t memory_users = 20'000;
  uint64_t passing_users = 5'000'000;
  uint32_t recovery_users = 1'000'000;
  /// Concurrent clients of the throughput figures.
  uint32_t clients = 16;
  /// Length of each timed query and freshness run.
  double seconds = 10;
  uint64_t seed = 7;
  /// Where the samples go (one CSV per series, for plots); "" none.
  std::string out_dir;
  /// marquee's configuration; the bench sets the server URL, data
  /// directory and ingest mode of each run.
  config service;
};

/// The names `scenarios` accepts.
const std::vector<std::string>& bench_scenarios();

/// Runs the bench: progress to `log`, the table to `out`. Returns false
/// with a one-line reason in `error` when a scenario cannot run (the table
/// so far is printed).
bool run_bench(const bench_options& opts, std::ostream& out, std::ostream& log,
               std::string& error);

} // namespace marquee
