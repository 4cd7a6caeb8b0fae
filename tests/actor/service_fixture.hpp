#pragma once

/// The actors of one marquee process in a deterministic system: the
/// trending actor, a directory spawning real user and title actors, a
/// recommender and an event router.

#include "actors/directory.hpp"
#include "actors/recommender_actor.hpp"
#include "actors/router.hpp"
#include "actors/trending_actor.hpp"
#include "tests/actor/fixture.hpp"

#include <memory>

namespace marquee::test {

struct service_fixture : fixture {
  service_fixture()
    : trending(spawn_trending_actor(sys, params)),
      dir(std::make_shared<directory>(sys, params, trending)),
      recommender(spawn_recommender_actor(sys, params, dir, trending)),
      router(dir, trending) {
    // nop
  }

  ~service_fixture() {
    // As the service does on shutdown: let the actors terminate.
    dir->clear();
  }

  trending_actor trending;
  std::shared_ptr<directory> dir;
  recommender_actor recommender;
  event_router router;
};

} // namespace marquee::test
