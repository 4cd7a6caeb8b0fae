#pragma once

/// A user's impression history: per title, the count, the newest time and
/// the EMA of every configured window; plus the user's recent raw
/// impressions, from which windows that are not configured are computed on
/// the fly (CONTRACT.md, "Impression history"). Pure: time is an argument.

#include "domain/decay.hpp"
#include "domain/ids.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

namespace marquee {

/// A title key that names no title: a requested title never interned.
constexpr title_key no_title = std::numeric_limits<title_key>::max();

/// Tunables of impression history, shared by all users.
struct impression_params {
  /// Decay base of the EMA (default 0.5: a window is a half-life).
  double alpha = 0.5;
  /// Precomputed windows, ascending (default 1d, 7d, 30d, 180d, 365d).
  std::vector<int64_t> windows_ms;
  /// Decay rates of `windows_ms`, same order.
  std::vector<decay_rate> rates;
  /// Raw impressions older than this (behind the user's newest) are dropped
  /// (default 1d).
  int64_t raw_retention_ms = 0;
  /// At most this many raw impressions per user (default 128).
  uint32_t raw_max = 0;

  /// Builds params with rates derived from `alpha` and `windows_ms`; windows
  /// are sorted and deduplicated.
  static impression_params make(double alpha, std::vector<int64_t> windows_ms,
                                int64_t raw_retention_ms, uint32_t raw_max);

  /// Index of `window_ms` among the configured windows, or -1.
  int configured_index(int64_t window_ms) const;
};

/// One row of an impression-history answer.
struct impression_row {
  title_key title = no_title;
  uint32_t count = 0;
  /// Newest impression, or 0 when `count` is 0.
  int64_t last_ts = 0;
  /// One value per requested window, in the order requested.
  std::vector<double> ema;
};

/// Why an impression-history question cannot be answered.
struct impression_refusal {
  std::string message;
};

class impression_history {
public:
  /// Records an impression of `title` at `ts`.
  void add(title_key title, int64_t ts, const impression_params& p);

  /// Newest impression time of this user, or INT64_MIN if none.
  int64_t newest_ts() const { return newest_; }

  /// Number of distinct titles with impressions.
  size_t title_count() const { return entries_.size(); }

  /// Number of raw impressions retained.
  size_t raw_count() const { return raw_ts_.size(); }

  /// Raw impressions at or after this time are all retained; INT64_MIN while
  /// none was ever dropped.
  int64_t raw_covered_from() const { return covered_from_; }

  /// Answers a question: rows for `titles` (all titles with impressions, by
  /// newest impression first, when empty) with the EMA of each of
  /// `windows_ms` at time `at`. Refuses when `at` is before the newest
  /// impression, or when a window is neither configured nor covered by the
  /// retained raw impressions over its look-back of ten windows.
  std::variant<std::vector<impression_row>, impression_refusal>
  query(const std::vector<title_key>& titles,
        const std::vector<int64_t>& windows_ms, int64_t at,
        const impression_params& p) const;

  /// Rows for every title, each with the EMAs of the configured windows at
  /// `at`, highest EMA of the first window first; at most `limit` rows.
  std::vector<impression_row> top(size_t limit, int64_t at,
                                  const impression_params& p) const;

private:
  friend struct snapshot_access; // domain/snapshot.cpp

  struct entry {
    title_key title;
    uint32_t count;
    int64_t last_ts;
  };

  impression_row row_of(size_t index, const std::vector<int64_t>& windows_ms,
                        int64_t at, const impression_params& p) const;
  /// Index of `title` among `repeated_`, or `repeated_.size()`.
  size_t repeated_index(title_key title) const;
  double raw_ema(title_key title, int64_t window_ms, int64_t at,
                 double alpha) const;
  void retain_raw(title_key title, int64_t ts, const impression_params& p);

  // Most titles are shown to a user once, and the EMA of a single
  // impression at its own time is 1 in every window: only titles shown
  // twice or more keep their EMAs (`repeated_`, `emas_`).

  /// Sorted by title.
  std::vector<entry> entries_;
  /// Titles of `entries_` with a count of at least 2, ascending.
  std::vector<title_key> repeated_;
  /// repeated_.size() * windows: the EMAs of each at its entry's last_ts.
  std::vector<double> emas_;
  /// Retained raw impressions, oldest first: times and titles, parallel.
  std::vector<int64_t> raw_ts_;
  std::vector<title_key> raw_titles_;
  int64_t newest_ = std::numeric_limits<int64_t>::min();
  int64_t covered_from_ = std::numeric_limits<int64_t>::min();
};

} // namespace marquee
