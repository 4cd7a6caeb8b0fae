#pragma once

/// The actor of one user: a shell over `user_state` (domain/user_state.hpp).

#include "domain/params.hpp"
#include "domain/user_state.hpp"
#include "messages/actors.hpp"
#include "messages/variant_stats.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <optional>

namespace marquee {

/// A user's state as stored, with the last stream sequence it covers.
struct stored_user {
  user_state state;
  uint64_t applied_through = 0;
};

/// Spawns the actor of `user`, with its stored state if any, else empty;
/// plays of titles recommended shortly before count in `stats` (if any).
user_actor spawn_user_actor(caf::actor_system& sys, user_key user,
                            std::shared_ptr<const service_params> p,
                            std::optional<stored_user> stored = std::nullopt,
                            std::shared_ptr<variant_stats> stats = nullptr);

} // namespace marquee
