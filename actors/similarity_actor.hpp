#pragma once

/// A similarity shard: a shell over `co_play_table` (domain/similarity.hpp)
/// for the titles whose key modulo `shards` is `index`. Every shard gets
/// every round (each play counts towards popularity everywhere) and adds
/// the co-plays of its own titles.

#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <vector>

namespace marquee {

/// What a restart gives every shard: all stored titles (each shard keeps
/// the plays of all and the partners of its own), as of the checkpoint at
/// `sequence`.
struct stored_similarity {
  uint64_t sequence = 0;
  std::vector<std::pair<title_key, similarity_record>> titles;
};

similarity_actor
spawn_similarity_actor(caf::actor_system& sys,
                       std::shared_ptr<const similarity_params> p,
                       uint32_t index, uint32_t shards,
                       std::shared_ptr<const stored_similarity> stored = {});

/// The shards, and which one owns a title.
struct similarity_shards {
  std::vector<similarity_actor> actors;

  const similarity_actor& owner(title_key t) const {
    return actors[t % actors.size()];
  }
};

} // namespace marquee
