#pragma once

/// The recommender: assembles the rows of `P.v1.rec.user.<user>` from the
/// user's actor, the similarity shards and the trending actor, within the
/// request's time budget. Stateless; the service spawns one per scheduler
/// thread.
///
/// `home` and `because_you_watched` rank the neighbours of the user's
/// recent plays (domain/ranking.hpp), filter them in the trending actor,
/// and fill up with trending titles; a row with no similar title left is
/// trending, marked `fallback`.

#include "actors/directory.hpp"
#include "actors/similarity_actor.hpp"
#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace marquee {

recommender_actor
spawn_recommender_actor(caf::actor_system& sys,
                        std::shared_ptr<const service_params> p,
                        std::shared_ptr<directory> dir, trending_actor trending,
                        similarity_shards similarity = {});

} // namespace marquee
