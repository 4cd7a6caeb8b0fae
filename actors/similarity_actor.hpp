#pragma once

/// A similarity shard: a shell over `co_play_table` (domain/similarity.hpp)
/// for the titles whose key modulo `shards` is `index`. Every shard gets
/// every round (each play counts towards popularity everywhere) and adds
/// the co-plays of its own titles.
///
/// A shard's table lives in a `similarity_cell` that the actor shares with
/// the request path (ADR 23): the actor applies rounds to it, requests read
/// neighbours from it on their own thread; both hold the cell's lock.

#include "domain/similarity.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace marquee {

/// What a restart gives every shard: all stored titles (each shard keeps
/// the plays of all and the partners of its own), as of the checkpoint at
/// `sequence`.
struct stored_similarity {
  uint64_t sequence = 0;
  std::vector<std::pair<title_key, similarity_record>> titles;
};

/// The state of one shard: the titles whose key modulo `shards` is
/// `index`. Every member but `neighbours` is for the actor, which holds
/// `mu` around each use.
struct similarity_cell {
  similarity_cell(std::shared_ptr<const similarity_params> p, uint32_t shard,
                  uint32_t count,
                  std::shared_ptr<const stored_similarity> stored = {});

  similarity_cell(const similarity_cell&) = delete;
  similarity_cell& operator=(const similarity_cell&) = delete;

  /// The best `n` neighbours of `title` (which this shard owns); takes the
  /// lock.
  std::vector<neighbour> neighbours(title_key title, uint32_t n);

  bool owns(title_key t) const { return t % shards == index; }

  /// The table caches neighbour lists, so even a reader changes it.
  std::mutex mu;
  std::shared_ptr<const similarity_params> params;
  co_play_table table;
  uint32_t index = 0;
  uint32_t shards = 1;
  /// Stream sequence of the last play applied (0: none, or core mode).
  uint64_t applied_through = 0;
  /// Set aside by freezes, by sequence, until the writer takes them.
  std::map<uint64_t, similarity_snapshot> frozen;
};

/// Spawns the actor of the shard in `cell`.
similarity_actor spawn_similarity_actor(caf::actor_system& sys,
                                        std::shared_ptr<similarity_cell> cell);

/// The shards, their cells, and which one owns a title.
struct similarity_shards {
  std::vector<similarity_actor> actors;
  std::vector<std::shared_ptr<similarity_cell>> cells;

  const similarity_actor& owner(title_key t) const {
    return actors[t % actors.size()];
  }
};

/// The best `n` neighbours of a title.
using neighbour_fn =
  std::function<std::vector<neighbour>(title_key title, uint32_t n)>;

/// Reads neighbours from the cell of the shard that owns the title, under
/// its lock, on the calling thread (null when there are no cells).
neighbour_fn
neighbours_from(std::vector<std::shared_ptr<similarity_cell>> cells);

/// Spawns `count` shards, each from `stored` (if any).
similarity_shards spawn_similarity_shards(
  caf::actor_system& sys, std::shared_ptr<const similarity_params> p,
  uint32_t count, std::shared_ptr<const stored_similarity> stored = {});

} // namespace marquee
