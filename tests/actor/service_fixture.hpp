#pragma once

/// The actors of one marquee process in a deterministic system: the
/// trending cell, a directory spawning real user and title actors, what
/// the recommender reads, and an event router.

#include "actors/directory.hpp"
#include "actors/recommender.hpp"
#include "actors/router.hpp"
#include "actors/trending_actor.hpp"
#include "tests/actor/fixture.hpp"

#include <memory>

namespace marquee::test {

struct service_fixture : fixture {
  service_fixture()
    : trending_state(std::make_shared<trending_cell>(params)),
      dir(std::make_shared<directory>(sys, params, trending_state)),
      sources{params, dir, trending_state, nullptr}, router(dir) {
    // nop
  }

  ~service_fixture() {
    // As the service does on shutdown: let the actors terminate.
    dir->clear();
  }

  std::shared_ptr<trending_cell> trending_state;
  std::shared_ptr<directory> dir;
  /// What `recommend` reads (no similarity unless a test sets it).
  rec_sources sources;
  event_router router;
};

} // namespace marquee::test
