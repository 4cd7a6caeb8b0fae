#pragma once

/// The actor of one title: a shell over `title_state`
/// (domain/title_state.hpp); writes its counts into the trending cell
/// after its plays (ADR 31).

#include "actors/trending_actor.hpp"
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

/// Writes into `trending` what a title with state `state` writes there
/// when activated: its catalog entry and its play counts
/// (global and per region), as a live title actor does. For a restart,
/// which restores the trending cell from stored titles, before any request
/// reads it, without activating them.
void announce_title(trending_cell& trending, title_key title,
                    const title_state& state);

/// Spawns the actor of `title`, with its stored state if any, else empty.
title_actor
spawn_title_actor(caf::actor_system& sys, title_key title,
                  std::shared_ptr<const service_params> p,
                  std::shared_ptr<trending_cell> trending,
                  std::optional<stored_title> stored = std::nullopt);

} // namespace marquee
