#pragma once

/// The recommender: assembles the rows of `P.v1.rec.user.<user>` from the
/// user's actor and the trending actor, within the request's time budget.
/// Stateless; the service spawns one per scheduler thread.
///
/// For now every personalised row is trending filtered for the user and is
/// marked `fallback`; the ranking of issue 4 replaces the candidates and the
/// scores, while the request path, filters and errors stay.

#include "actors/directory.hpp"
#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace marquee {

/// The experiment variant every user is in until experiments exist.
constexpr const char* default_variant = "control";

recommender_actor spawn_recommender_actor(
  caf::actor_system& sys, std::shared_ptr<const service_params> p,
  std::shared_ptr<directory> dir, trending_actor trending);

} // namespace marquee
