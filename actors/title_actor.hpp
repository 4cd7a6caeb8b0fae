#pragma once

/// The actor of one title: a shell over `title_state`
/// (domain/title_state.hpp); tells the trending actor after each play.

#include "domain/params.hpp"
#include "domain/title_state.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <optional>

namespace marquee {

/// A title's state as stored, with the last stream sequence it covers.
struct stored_title {
  title_state state;
  uint64_t applied_through = 0;
};

/// Spawns the actor of `title`, with its stored state if any, else empty.
title_actor
spawn_title_actor(caf::actor_system& sys, title_key title,
                  std::shared_ptr<const service_params> p,
                  trending_actor trending,
                  std::optional<stored_title> stored = std::nullopt);

} // namespace marquee
