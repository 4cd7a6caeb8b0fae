#pragma once

/// The live state of one title: catalog metadata, counters and trending
/// scores. Pure: time is an argument.

#include "domain/catalog.hpp"
#include "domain/trending.hpp"

#include <cstdint>
#include <optional>

namespace marquee {

class title_state {
public:
  void apply_catalog(title_meta meta) { meta_ = std::move(meta); }
  /// A play in `region` (`all_regions` when unknown).
  void apply_play(int64_t ts, region_key region, const trending_params& p);
  void apply_impression(int64_t ts);
  /// Counts a thumbs up (+1) or down (-1).
  void apply_feedback(int8_t value);

  /// The catalog entry, or null before one arrived.
  const title_meta* meta() const { return meta_ ? &*meta_ : nullptr; }
  uint64_t plays() const { return trending_.global().plays; }
  uint64_t impressions() const { return impressions_; }
  int64_t last_play_ts() const { return last_play_ts_; }
  int64_t last_impression_ts() const { return last_impression_ts_; }
  uint64_t thumbs_up() const { return thumbs_up_; }
  uint64_t thumbs_down() const { return thumbs_down_; }
  const title_trending& trending() const { return trending_; }

private:
  friend struct snapshot_access; // domain/snapshot.cpp

  std::optional<title_meta> meta_;
  title_trending trending_;
  uint64_t impressions_ = 0;
  uint64_t thumbs_up_ = 0;
  uint64_t thumbs_down_ = 0;
  int64_t last_play_ts_ = 0;
  int64_t last_impression_ts_ = 0;
};

} // namespace marquee
