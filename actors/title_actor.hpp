#pragma once

/// The actor of one title: a shell over `title_state`
/// (domain/title_state.hpp); tells the trending actor after each play.

#include "domain/params.hpp"
#include "domain/title_state.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace marquee {

/// Spawns the actor of `title` with empty state.
title_actor spawn_title_actor(caf::actor_system& sys, title_key title,
                              std::shared_ptr<const service_params> p,
                              trending_actor trending);

} // namespace marquee
