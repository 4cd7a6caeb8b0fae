#pragma once

/// Trending: decayed play counts per title, window and region, and the
/// bounded top lists built from them. Pure: time is an argument.
///
/// A title's score in window W at time `now` is the decayed count of its
/// plays, sum over plays p of alpha ^ ((now - ts_p) / W) (CONTRACT.md). Scores
/// are ordered by `decayed_sum::log_key`, which only grows with new plays, so
/// a top list that keeps the `capacity` highest keys is exact for any k up to
/// its capacity.

#include "domain/decay.hpp"
#include "domain/ids.hpp"

#include <cstdint>
#include <limits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace marquee {

/// The region key of the list over all regions.
constexpr region_key all_regions = std::numeric_limits<region_key>::max();

/// Tunables of trending, shared by all titles.
struct trending_params {
  double alpha = 0.5;
  /// Windows, ascending (default 1h, 1d, 7d).
  std::vector<int64_t> windows_ms;
  std::vector<decay_rate> rates;
  /// Titles kept per (window, region) list (default 1000).
  uint32_t capacity = 1000;

  static trending_params make(double alpha, std::vector<int64_t> windows_ms,
                              uint32_t capacity);
  int window_index(int64_t window_ms) const;
};

/// The decayed play counts of one title in one region (or all), one per
/// window, with the plain play count.
struct play_counts {
  uint64_t plays = 0;
  std::vector<decayed_sum> decayed;

  /// Records a play at `ts`.
  void add(int64_t ts, const trending_params& p);
};

/// A title's trending state: over all regions and per region.
class title_trending {
public:
  /// Records a play at `ts`; `region` may be `all_regions` when unknown.
  void add_play(int64_t ts, region_key region, const trending_params& p);

  const play_counts& global() const { return global_; }
  const std::vector<std::pair<region_key, play_counts>>& regions() const {
    return regions_;
  }
  /// The counts of `region` (`all_regions`: global), or null.
  const play_counts* find(region_key region) const;

private:
  friend struct snapshot_access; // domain/snapshot.cpp

  play_counts global_;
  std::vector<std::pair<region_key, play_counts>> regions_; // sorted by region
};

/// One entry of a trending answer.
struct trending_entry {
  title_key title = 0;
  double score = 0;
  uint64_t plays = 0;
};

/// The highest-scoring titles of one window in one region.
class trending_list {
public:
  /// Sets the state of `title`; an update never lowers a key.
  void update(title_key title, const decayed_sum& score, uint64_t plays,
              decay_rate rate, uint32_t capacity);

  /// The best `k` titles for which `keep(title)` holds, scored at `at`.
  template <class Predicate>
  std::vector<trending_entry> top(size_t k, int64_t at, decay_rate rate,
                                  Predicate&& keep) const {
    std::vector<trending_entry> out;
    for (auto i = order_.begin(); i != order_.end() && out.size() < k; ++i) {
      if (!keep(i->title))
        continue;
      const auto& s = by_title_.at(i->title);
      out.push_back(
        trending_entry{i->title, s.score.value_at(at, rate), s.plays});
    }
    return out;
  }

  size_t size() const { return by_title_.size(); }

  /// The score of `title` at `at`; 0 if it is not listed.
  double score_of(title_key title, int64_t at, decay_rate rate) const {
    auto i = by_title_.find(title);
    return i == by_title_.end() ? 0.0 : i->second.score.value_at(at, rate);
  }

  /// The highest score at `at` (the first title's); 0 when empty.
  double best_at(int64_t at, decay_rate rate) const {
    return order_.empty() ? 0.0 : score_of(order_.front().title, at, rate);
  }

private:
  struct slot {
    decayed_sum score;
    uint64_t plays;
    double key;
  };
  struct ranked {
    double key;
    title_key title;
  };
  /// Best first: descending by key, and among equal keys ascending by title
  /// (first seen first).
  static bool before(const ranked& x, const ranked& y) {
    return x.key != y.key ? x.key > y.key : x.title < y.title;
  }
  /// `before` as a function object: passed by pointer to std::lower_bound,
  /// it was a call per step (a tenth of the scheduler threads' time).
  struct by_rank {
    bool operator()(const ranked& x, const ranked& y) const {
      return before(x, y);
    }
  };
  std::unordered_map<title_key, slot> by_title_;
  /// The listed titles in the order of `before`: a flat array, in which an
  /// update moves a title past the few titles it overtakes (a tree cost a
  /// node walk and a rebalance per update, 12% of a durable ingest profile).
  std::vector<ranked> order_;
};

/// All top lists: one per (window, region), plus one per window over all
/// regions.
class trending_board {
public:
  explicit trending_board(const trending_params* p) : params_(p) {}

  /// Takes the latest counts of `title` in `region` (or `all_regions`).
  void update(title_key title, region_key region, const play_counts& counts);

  /// The list of window `w` (index into the params) and `region`, or null.
  const trending_list* list(size_t w, region_key region) const;

  size_t list_count() const { return lists_.size(); }

private:
  const trending_params* params_;
  std::unordered_map<uint64_t, trending_list> lists_;
};

} // namespace marquee
