#pragma once

/// Item-to-item similarity from co-plays, maintained incrementally.
///
/// When a user plays a title for the first time, it is paired with the
/// user's previous distinct plays, most recent first: the j-th previous
/// play (j = 1, 2, ...) adds `position_decay^(j-1)` to the co-play weight
/// of the pair, in both directions, for the last `window` plays. Titles
/// played close together count most; a title played long ago counts
/// little. The similarity of a to b is
///
///     co(a, b) / (plays(a)^e * plays(b)^f) * co(a, b) / (co(a, b) + c)
///
/// with e = popularity_exponent, f = neighbour_exponent, c = shrink, so
/// that popular titles do not dominate every list (e = f = 0.5 is the
/// cosine of the play vectors for unit weights) and a pair seen together
/// once counts less than its ratio says (c > 0). Besides its weight, a pair
/// counts its support n(a, b), the number of co-plays that formed it (the
/// users who played both within the window); a pair with a support below
/// `min_support` is no neighbour at all: one user's two plays are no
/// evidence that the titles are alike, and in a sparse catalog such pairs
/// (titles played by one or two users) would otherwise score close to 1.
/// Each title keeps the co-play weights of at most `kept` partners (the
/// strongest; weaker ones are dropped when the list grows past twice that)
/// and serves its best `neighbours` of them.
///
/// Pure: no clocks, no I/O. Not thread-safe: one owner (a similarity
/// shard) per table.

#include "domain/ids.hpp"

#include <cstdint>
#include <deque>
#include <vector>

namespace marquee {

struct similarity_params {
  /// Previous plays a new play pairs with (default 64, at most 64).
  uint32_t window = 64;
  /// Weight factor per position further back (default 0.95).
  double position_decay = 0.95;
  /// Neighbours served per title (default 200).
  uint32_t neighbours = 200;
  /// Co-play partners kept per title (default 400, at least `neighbours`).
  uint32_t kept = 400;
  /// e in co(a,b) / (plays(a)^e plays(b)^f) (default 0.5).
  double popularity_exponent = 0.5;
  /// f in co(a,b) / (plays(a)^e plays(b)^f), the neighbour's side: lower
  /// than e favours neighbours with more plays (default 0.5).
  double neighbour_exponent = 0.5;
  /// c in the confidence factor co / (co + c): pairs seen together only
  /// once or twice count less than their ratio says (default 0: off).
  double shrink = 0;
  /// Co-plays a pair needs to be a neighbour (default 2; 0 or 1: any).
  uint32_t min_support = 2;
};

/// The weight a new play adds to its pair with the j-th previous play
/// (j >= 1), for j up to `window`; 0 beyond.
double pair_weight(const similarity_params& p, uint32_t j);

struct neighbour {
  title_key title = 0;
  double score = 0;
};

/// One co-play partner, the weight accumulated with it and its support
/// (the co-plays that added to the weight).
struct co_play {
  title_key title = 0;
  float weight = 0;
  uint32_t support = 0;
};

/// What is stored of one title's similarity: its play count and partners.
struct similarity_record {
  uint32_t plays = 0;
  std::vector<co_play> partners;
};

/// The co-play partners of one title, 12 bytes each: a vector sorted by
/// title, whose last few entries (at most `tail_max`, newest partners) are
/// not sorted yet. A lookup is a binary search and a short scan; a new
/// partner is appended, and the tail is sorted and merged in when full. No
/// allocation per co-play beyond the vector's amortised growth, and about a
/// third of the memory of a node-based map.
class partner_list {
public:
  static constexpr uint32_t tail_max = 32;

  /// Adds `w` to the weight of partner `b` and one to its support (a new
  /// partner starts at 0, 0).
  void add(title_key b, float w);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  /// Every partner, in no particular order.
  const std::vector<co_play>& items() const { return items_; }

  /// Replaces the partners with `partners` (any order; a title named twice
  /// has its weights and supports summed).
  void assign(std::vector<co_play> partners);

  /// Keeps the `keep` strongest partners (by weight; ties: lower title).
  void keep_strongest(size_t keep);

private:
  /// Sorts the tail and merges it into the sorted part.
  void merge_tail();

  std::vector<co_play> items_;
  /// items_[0, sorted_) is sorted by title.
  uint32_t sorted_ = 0;
};

/// Co-play weights and play counts of the titles one shard owns.
class co_play_table {
public:
  explicit co_play_table(const similarity_params* p) : p_(p) {
    // nop
  }

  /// Adds `w` to co(a, b) and one to its support, a owned here.
  void add(title_key a, title_key b, float w);

  /// Counts one play of `t` (any title: plays of partners normalise too).
  void count_play(title_key t);

  uint32_t plays(title_key t) const {
    return t < plays_.size() ? plays_[t] : 0;
  }

  /// The best `neighbours` partners of `a` by similarity, best first (ties:
  /// lower key first); empty if `a` has none. Recomputed only when a's
  /// co-plays changed since the last call, or every call if `fresh`.
  const std::vector<neighbour>& neighbours_of(title_key a);

  /// The co-play partners of `a` as stored (for snapshots), any order.
  std::vector<co_play> partners_of(title_key a) const;

  /// Replaces the partners of `a` (restore).
  void set_partners(title_key a, std::vector<co_play> partners);

  /// Sets the play count of `t` (restore).
  void set_plays(title_key t, uint32_t plays);

  /// Titles with partners.
  size_t titles() const { return entries_.size(); }

  /// Titles whose plays or partners changed since the last call.
  std::vector<title_key> take_changed();

  /// What is stored of `t`.
  similarity_record record_of(title_key t) const {
    return {plays(t), partners_of(t)};
  }

  /// Co-play partners held, over all titles (memory).
  size_t partners() const;

private:
  struct entry {
    partner_list co;
    std::vector<neighbour> top;
    bool dirty = false;
  };

  /// The entry of `t`, or null.
  entry* find(title_key t) {
    return t < slot_.size() && slot_[t] != 0 ? &entries_[slot_[t] - 1]
                                             : nullptr;
  }
  const entry* find(title_key t) const {
    return t < slot_.size() && slot_[t] != 0 ? &entries_[slot_[t] - 1]
                                             : nullptr;
  }
  /// The entry of `t`, made empty if it has none.
  entry& at(title_key t);

  const similarity_params* p_;
  /// Entries in the order their titles got one (a deque: an entry never
  /// moves, so `neighbours_of`'s reference stays valid), found through
  /// `slot_`: title key -> 1 + its place, 0 for none. A load instead of a
  /// hash lookup per co-play (4% of the scheduler threads' time), for 4
  /// bytes per title key.
  std::deque<entry> entries_;
  std::vector<uint32_t> slot_;
  std::vector<uint32_t> plays_;
  /// max(plays, 1)^e and ^f per title, kept with `plays_`.
  std::vector<double> norms_;
  std::vector<double> neighbour_norms_;
  key_set changed_;

  double norm(title_key t) const { return t < norms_.size() ? norms_[t] : 1.0; }
  double neighbour_norm(title_key t) const {
    return t < neighbour_norms_.size() ? neighbour_norms_[t] : 1.0;
  }

  void grow(title_key t);

  void mark(title_key t) { changed_.insert(t); }
  static inline const std::vector<neighbour> none_{};
};

} // namespace marquee
