#pragma once

/// The actor of one user: a shell over `user_state` (domain/user_state.hpp).

#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace marquee {

/// Spawns the actor of `user` with empty state.
user_actor spawn_user_actor(caf::actor_system& sys, user_key user,
                            std::shared_ptr<const service_params> p);

} // namespace marquee
