#pragma once

/// Snapshots of user and title state: flat plain structs that persistence/
/// serializes at checkpoints, and the functions that take a state apart into
/// one and put it back together (DESIGN.md, "Durability: checkpoints plus
/// replay").
///
/// A snapshot holds only integers, doubles, bools, strings and vectors of
/// those (DESIGN.md, cereal traps: keep snapshot shapes flat); lists of
/// records are parallel vectors, optionals a bool plus a value. A round trip
/// is exact: `restore_*(snapshot_of(s), p)` answers every query as `s` does,
/// bit for bit, and evolves identically under the same further events, as
/// long as `p` is the params `s` was built with.
///
/// Restoring checks the snapshot against the invariants of the state and
/// against `p`, and returns nullopt instead of a state that could misbehave:
/// parallel vectors of different lengths, unsorted or duplicate keys where
/// the state keeps them sorted and unique, a window count that differs from
/// `p` (the EMAs cannot be recomputed), lists longer than `p` allows,
/// negative event times (CONTRACT.md: times are at least 0; the domain's
/// arithmetic on times relies on it), non-finite or impossible values. Only the
/// count of windows is recorded: changing a window's length but not their
/// number goes unnoticed here.
///
/// Keys (title, region, genre) are the process's interned keys, which
/// differ from run to run. A snapshot that outlives the process must have
/// its keys translated, through `remap_keys`, to something stable when
/// written and back to the new process's keys when read.
///
/// Pure and thread-compatible: plain values, no shared state.

#include "domain/ids.hpp"
#include "domain/title_state.hpp"
#include "domain/user_state.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace marquee {

/// Everything in a `user_state`, flat.
struct user_snapshot_data {
  /// Stream sequence of the last event applied. Not part of `user_state`:
  /// the actor layer fills it and reads it back.
  uint64_t last_sequence = 0;
  /// `user_state::events_applied()`.
  uint64_t events_applied = 0;
  /// EMAs per repeated impression title (shown twice or more), one per
  /// configured impression window; 0 while no title was shown twice.
  uint16_t windows = 0;

  /// Recent plays, newest first (three parallel vectors).
  std::vector<title_key> recent_titles;
  std::vector<int64_t> recent_ts;
  std::vector<double> recent_progress;

  /// Watched titles, ascending, unique.
  std::vector<title_key> watched;

  /// Titles in progress, newest first (parallel): unique titles, none of
  /// them watched, progress below `watched_progress`.
  std::vector<title_key> progress_titles;
  std::vector<int64_t> progress_ts;
  std::vector<double> progress_values;

  /// Feedback, ascending and unique by title (parallel); values +1 or -1.
  std::vector<title_key> feedback_titles;
  std::vector<int64_t> feedback_ts;
  std::vector<int8_t> feedback_values;

  /// The profile; a value counts only when its `has_` flag is set.
  bool has_max_age = false;
  int32_t max_age = 0;
  bool has_region = false;
  region_key region = 0;

  /// The region of the newest play that had one, and that play's time.
  bool has_play_region = false;
  region_key play_region = 0;
  int64_t play_region_ts = 0;

  /// Impression history per title, ascending and unique by title
  /// (parallel): count (at least 1) and newest impression.
  std::vector<title_key> impression_titles;
  std::vector<uint32_t> impression_counts;
  std::vector<int64_t> impression_last_ts;
  /// The EMAs of the repeated titles, ascending by title, each at its
  /// title's `impression_last_ts`: the r-th title with a count above 1,
  /// window w, at `[r * windows + w]`. A title shown once has none: its EMA
  /// at its one impression is 1 in every window.
  std::vector<double> impression_emas;

  /// Retained raw impressions, oldest first (parallel).
  std::vector<int64_t> raw_ts;
  std::vector<title_key> raw_titles;
  /// `impression_history::newest_ts()`: INT64_MIN while there are none.
  int64_t newest_ts = std::numeric_limits<int64_t>::min();
  /// `impression_history::raw_covered_from()`: INT64_MIN while no raw
  /// impression was ever dropped.
  int64_t covered_from = std::numeric_limits<int64_t>::min();
};

/// Everything in a `title_state`, flat.
struct title_snapshot_data {
  /// Stream sequence of the last event applied; see `user_snapshot_data`.
  uint64_t last_sequence = 0;
  /// Decayed sums per trending row, one per configured trending window; 0
  /// while the title was never played.
  uint16_t windows = 0;

  /// The catalog entry; the other fields count only when `has_meta`.
  bool has_meta = false;
  std::string name;
  std::vector<genre_key> genres; // ascending, unique
  int32_t min_age = 0;
  int32_t year = 0;
  std::vector<region_key> regions; // ascending, unique
  bool available = true;

  /// Counters.
  uint64_t impressions = 0;
  uint64_t thumbs_up = 0;
  uint64_t thumbs_down = 0;
  int64_t last_play_ts = 0;
  int64_t last_impression_ts = 0;

  /// Plays over all regions.
  uint64_t plays = 0;
  /// Regions with plays, ascending, unique, never `all_regions`, with their
  /// plays (parallel, each at least 1, summing to at most `plays`).
  std::vector<region_key> trending_regions;
  std::vector<uint64_t> trending_plays;
  /// Trending rows: the global one, then one per trending region in order;
  /// none while `plays` is 0. Row r, window w at `[r * windows + w]`: the
  /// `decayed_sum`'s raw value and reference time (parallel).
  std::vector<double> decayed_values;
  std::vector<int64_t> decayed_refs;
};

/// Takes `s` apart; `last_sequence` is left 0 for the caller to fill.
user_snapshot_data snapshot_of(const user_state& s);

/// Puts a user back together, or nullopt when `s` is inconsistent in itself
/// or with `p` (see the top of this file).
std::optional<user_state> restore_user(const user_snapshot_data& s,
                                       const user_params& p);

/// Takes `s` apart; `last_sequence` is left 0 for the caller to fill.
title_snapshot_data snapshot_of(const title_state& s);

/// Puts a title back together, or nullopt when `s` is inconsistent in itself
/// or with `p` (see the top of this file).
std::optional<title_state> restore_title(const title_snapshot_data& s,
                                         const trending_params& p);

/// Field-by-field equality, doubles compared bit for bit.
bool operator==(const user_snapshot_data& x, const user_snapshot_data& y);
bool operator!=(const user_snapshot_data& x, const user_snapshot_data& y);
bool operator==(const title_snapshot_data& x, const title_snapshot_data& y);
bool operator!=(const title_snapshot_data& x, const title_snapshot_data& y);

/// Maps a key to another; nullopt when it has none.
using key_map = std::function<std::optional<uint32_t>(uint32_t)>;

/// Returns `s` with every title and region key replaced by its image,
/// re-sorted where the snapshot keeps keys sorted (EMAs move with their
/// title), so that it restores exactly as before under the new keys. Nullopt
/// when a key has no image or two keys of a sorted or unique list share one.
std::optional<user_snapshot_data> remap_keys(const user_snapshot_data& s,
                                             const key_map& titles,
                                             const key_map& regions);

/// The same for a title: its region and genre keys.
std::optional<title_snapshot_data> remap_keys(const title_snapshot_data& s,
                                              const key_map& regions,
                                              const key_map& genres);

/// Called with each key a snapshot holds.
using key_visitor = std::function<void(uint32_t)>;

/// Calls `titles` and `regions` with every key `remap_keys` would map (a
/// key as often as it occurs), without copying the snapshot.
void visit_keys(const user_snapshot_data& s, const key_visitor& titles,
                const key_visitor& regions);

/// The same for a title: its region and genre keys.
void visit_keys(const title_snapshot_data& s, const key_visitor& regions,
                const key_visitor& genres);

} // namespace marquee
