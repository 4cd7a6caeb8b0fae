#pragma once

/// The trending cell: `trending_board` (domain/trending.hpp), plus the
/// catalog entries that filters need.
///
/// Title actors write their counts into it and the directory its catalog
/// entries, each under an exclusive lock, on the thread that applies them
/// (ADR 31: no actor in between, which every title's batch passed
/// through); requests read it under a shared lock, on the thread that
/// received them, without a message (ADR 23).

#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/expected.hpp>

#include <limits>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

namespace marquee {

class trending_cell {
public:
  explicit trending_cell(std::shared_ptr<const service_params> p);

  trending_cell(const trending_cell&) = delete;
  trending_cell& operator=(const trending_cell&) = delete;

  // -- readers (a shared lock each)
  // --------------------------------------------

  /// Answers `P.v1.rec.trending`; 400 when a given `at` is before the newest
  /// applied play (scores cannot be taken back in time).
  caf::expected<trending_result> trending(const trending_query& q) const;
  /// The best trending titles that one user may be shown.
  caf::expected<trending_result> candidates(const candidates_query& q) const;
  /// Keeps the similar titles the user may be shown, ranked with their
  /// genre affinity, trending and fatigue, diversified.
  rank_result rank(rank_query q) const;
  /// Keeps those of the given titles that the user may be shown, in order.
  std::vector<title_key> filter(const filter_query& q) const;
  /// The catalog entry of `title` (a copy), if any.
  std::optional<title_meta> meta_of(title_key title) const;
  /// Updates taken so far: a title actor writes one per list its plays
  /// changed, per message, not one per play (tests check it).
  uint64_t update_count() const;

  // -- the writer (an exclusive lock each) -----------------------------------

  /// Takes the latest counts of one title in one region.
  void update(const trending_update& up);
  /// Takes a title's metadata.
  void catalog(const catalog_event& ev);

private:
  std::optional<int64_t> eval_time(int64_t at, bool given) const;
  caf::error too_early(int64_t at) const;
  const title_meta* meta(title_key title) const;

  mutable std::shared_mutex mu_;
  std::shared_ptr<const service_params> params_;
  trending_board board_;
  std::unordered_map<title_key, title_meta> catalog_;
  /// The newest play any update carried.
  int64_t newest_play_ = std::numeric_limits<int64_t>::min();
  uint64_t updates_ = 0;
};

} // namespace marquee
