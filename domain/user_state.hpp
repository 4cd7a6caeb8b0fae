#pragma once

/// The live state of one user, as a plain projection of their events:
/// `apply(event)` changes it, queries read it. Pure: time is an argument.

#include "domain/catalog.hpp"
#include "domain/ids.hpp"
#include "domain/impressions.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace marquee {

/// Progress at or above which a play counts as watched (CONTRACT.md).
constexpr double watched_progress = 0.9;

/// Tunables of user state, shared by all users.
struct user_params {
  /// Recent plays kept per user (default 50).
  uint32_t recent_max = 50;
  /// Titles in progress kept per user (default 50), newest first.
  uint32_t in_progress_max = 50;
  impression_params impressions;
};

struct play_record {
  title_key title = 0;
  int64_t ts = 0;
  double progress = 1.0;
};

struct feedback_record {
  title_key title = 0;
  int64_t ts = 0;
  int8_t value = 0; // +1 or -1
};

class user_state {
public:
  /// A play of `title`; `region` is the region it was played in, if known.
  void apply_play(title_key title, int64_t ts, double progress,
                  std::optional<region_key> region, const user_params& p);
  void apply_impression(title_key title, int64_t ts, const user_params& p);
  /// Thumbs up (+1) or down (-1); the newest by time wins per title.
  void apply_feedback(title_key title, int64_t ts, int8_t value);
  void apply_profile(const user_profile& profile);

  /// Recent plays, newest first.
  const std::vector<play_record>& recent_plays() const { return recent_; }
  /// Watched titles, sorted by key.
  const std::vector<title_key>& watched() const { return watched_; }
  /// Titles in progress, newest first.
  const std::vector<play_record>& in_progress() const { return in_progress_; }
  /// Feedback, sorted by title.
  const std::vector<feedback_record>& feedback() const { return feedback_; }
  const user_profile& profile() const { return profile_; }
  const impression_history& impressions() const { return impressions_; }
  uint64_t events_applied() const { return events_; }

  /// The filter view of this user: profile, watched and thumbed-down titles.
  /// The region is the profile's, else that of the newest play with one.
  user_view view() const;

  /// Impression fatigue: for the (at most `limit`) titles shown to the user
  /// most, by the first configured window, that the user never played
  /// (among recent, watched and in-progress titles), the impression EMA of
  /// configured window `window` at `at`. Sorted by title.
  std::vector<std::pair<title_key, double>>
  fatigue(int64_t at, size_t window, size_t limit, const user_params& p) const;

private:
  friend struct snapshot_access; // domain/snapshot.cpp

  std::vector<play_record> recent_;
  std::vector<title_key> watched_;
  std::vector<play_record> in_progress_;
  std::vector<feedback_record> feedback_;
  user_profile profile_;
  std::optional<region_key> play_region_;
  int64_t play_region_ts_ = 0;
  impression_history impressions_;
  uint64_t events_ = 0;
};

} // namespace marquee
