#pragma once

/// Every tunable of the domain, in one place, filled from the configuration
/// by bootstrap/ and shared read-only by all actors.

#include "domain/experiments.hpp"
#include "domain/ranking.hpp"
#include "domain/similarity.hpp"
#include "domain/trending.hpp"
#include "domain/user_state.hpp"

#include <cstdint>

namespace marquee {

/// Tunables of the request path.
struct rec_params {
  /// Items when a request gives no `k` (default 20).
  uint32_t default_k = 20;
  /// Largest `k` accepted (default 200).
  uint32_t max_k = 200;
  /// Trending window (index into trending windows) behind the `trending` row
  /// and the fallback (default: the one closest to 1d).
  uint32_t trending_window = 0;
  /// Time budget of one request in milliseconds (default 100); past it the
  /// answer is a fallback or an error, never silence.
  int64_t budget_ms = 100;
  /// Seeds and their weights (domain/ranking.hpp): the `rec.` keys, which
  /// every variant starts from.
  ranking_params ranking;
};

struct service_params {
  user_params user;
  trending_params trending;
  similarity_params similarity;
  rec_params rec;
  /// The experiment variants, each with its own ranking.
  experiment_params experiments;
};

} // namespace marquee
