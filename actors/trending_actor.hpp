#pragma once

/// The trending actor: a shell over `trending_board`
/// (domain/trending.hpp), plus the catalog entries that filters need.

#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace marquee {

trending_actor spawn_trending_actor(caf::actor_system& sys,
                                    std::shared_ptr<const service_params> p);

} // namespace marquee
