#pragma once

/// `marquee replay`: a MovieLens ratings file through marquee over NATS,
/// under the prequential protocol (tools/prequential.hpp), scored against
/// the script's baselines computed in the same run on the same queries.
///
/// Each rating becomes a completed play at its time, published to the
/// service's event subject; before a sampled event the user's top-k is
/// asked with `at` = the event's time and `after` = the stream sequence of
/// the event before it, so the answer reflects exactly the events before
/// it, as the protocol wants. Titles come first as catalog entries (names,
/// genres, years from `u.item` or `movies.csv` when found beside the
/// ratings, else bare entries), since titles without one are never
/// recommended.

#include "bootstrap/config.hpp"

#include <cstdint>
#include <ostream>
#include <string>

namespace marquee {

struct replay_options {
  std::string ratings;
  /// Titles: "" finds `u.item` or `movies.csv` beside the ratings.
  std::string movies;
  uint32_t k = 10;
  double warmup = 0.2;
  uint32_t queries = 5000;
  uint64_t seed = 7;
  /// Plays used by the item-kNN baseline.
  uint32_t recent = 5;
  /// Only the first `limit` ratings in time order (0: all), for quick runs.
  size_t limit = 0;
  /// Experiment variant to ask for ("" assigned).
  std::string variant;
  /// The data directory of the replay's own service; "" for a temporary
  /// one, removed afterwards. Must not hold an earlier replay.
  std::string data_dir;
  /// The service's configuration. Without a NATS URL the replay starts its
  /// own service (embedded nats-server, durable ingest) in a fresh data
  /// directory and removes it afterwards; with one, it talks to a running
  /// service, which should be empty and must use durable ingest.
  config service;
};

/// Runs the replay, printing progress to `log` and the result lines to
/// `out`. Returns false with a one-line reason in `error` on failure.
bool run_replay(const replay_options& opts, std::ostream& out,
                std::ostream& log, std::string& error);

} // namespace marquee
