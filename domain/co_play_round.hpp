#pragma once

/// The plays of one ingest round as item similarity needs them: every play
/// (its title counts), and for a user's first play of a title, the pairs it
/// forms with the user's previous plays (domain/similarity.hpp). Built in
/// stream order by the pairer on the ingest thread, read by every
/// similarity shard, each applying the pairs of the titles it owns.

#include "domain/ids.hpp"
#include "domain/similarity.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace marquee {

struct co_play_round {
  struct play {
    title_key title = 0;
    /// Stream sequence (0 in core mode): shards skip what they applied.
    uint64_t sequence = 0;
    /// Its pairs: `pairs[first_pair, first_pair + pair_count)`.
    uint32_t first_pair = 0;
    uint32_t pair_count = 0;
  };
  struct pair {
    title_key other = 0;
    float weight = 0;
  };
  std::vector<play> plays;
  std::vector<pair> pairs;
};

/// Applies the plays of `round` after `applied_through` (which advances;
/// plays without a sequence always apply) to `table`: every play counts,
/// and each pair adds to the co-plays of whichever of its titles `owns`
/// says are the table's.
template <class Owns>
void apply_round(const co_play_round& round, co_play_table& table,
                 uint64_t& applied_through, Owns owns) {
  for (const auto& pl : round.plays) {
    if (pl.sequence != 0) {
      if (pl.sequence <= applied_through)
        continue;
      applied_through = pl.sequence;
    }
    table.count_play(pl.title);
    bool mine = owns(pl.title);
    for (uint32_t i = 0; i < pl.pair_count; ++i) {
      const auto& pr = round.pairs[pl.first_pair + i];
      if (mine)
        table.add(pl.title, pr.other, pr.weight);
      if (owns(pr.other))
        table.add(pr.other, pl.title, pr.weight);
    }
  }
}

/// The previous distinct plays of users, most recent first, at most
/// `window` each: what a new play pairs with. Dense by user key.
class play_rings {
public:
  explicit play_rings(uint32_t window) : window_(window) {
    // nop
  }

  /// Whether `user`'s ring is in memory (else it may need loading).
  bool has(user_key user) const {
    return user < rings_.size() && rings_[user].loaded;
  }

  /// The ring of `user`, most recent first.
  std::vector<title_key> get(user_key user) const;

  /// Replaces the ring of `user` (restore; cut to the window).
  void set(user_key user, const std::vector<title_key>& titles);

  /// Applies a play of `title`: false if it is in the ring already (it moves
  /// to the front); else the ring's titles before it are appended to `out`
  /// (most recent first) and it goes to the front.
  bool play(user_key user, title_key title, std::vector<title_key>& out);

  uint32_t window() const { return window_; }

private:
  /// One user's ring: 16 bytes, and its titles on the heap, grown by about
  /// a quarter up to the window (most users play far fewer titles than it
  /// holds, and most users seen only pass by).
  struct ring {
    std::unique_ptr<title_key[]> titles; // `capacity` of them
    uint8_t size = 0;
    uint8_t capacity = 0;
    bool loaded = false;
  };

  ring& at(user_key user);
  /// Makes room for `n` titles (at most the window) in `r`.
  void reserve(ring& r, size_t n) const;

  uint32_t window_; // at most 255: sizes are bytes
  std::vector<ring> rings_;
};

/// Builds the rounds on the ingest thread, in stream order.
class co_play_pairer {
public:
  explicit co_play_pairer(const similarity_params* p)
    : p_(p), rings_(p->window) {
    // nop
  }

  /// Whether `user`'s ring is not in memory: after a restart it may be
  /// stored, so the caller loads it (`load`) before the user's next play.
  bool needs_ring(user_key user) const { return !rings_.has(user); }

  void load(user_key user, const std::vector<title_key>& ring) {
    rings_.set(user, ring);
  }

  /// A play of `title` by `user` at stream `sequence`.
  void add(user_key user, title_key title, uint64_t sequence);

  bool empty() const { return round_.plays.empty(); }

  /// The round so far; the next one starts empty.
  co_play_round take();

  /// Users whose ring changed since the last call, with their rings.
  std::vector<std::pair<user_key, std::vector<title_key>>> take_changed();

  const play_rings& rings() const { return rings_; }

private:
  const similarity_params* p_;
  play_rings rings_;
  co_play_round round_;
  std::vector<title_key> earlier_;
  key_set changed_;
};

} // namespace marquee
