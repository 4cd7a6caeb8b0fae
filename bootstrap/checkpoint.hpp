#pragma once

/// Checkpoints taken while no events flow: at a graceful stop (and, later,
/// at start-up's end of replay). With ingest stopped, every event up to
/// `sequence` is already in the actors' mailboxes ahead of the snapshot
/// request, so the states collected form a consistent cut at `sequence`.
/// The barrier-driven checkpoints taken while events flow are the next
/// step of issue 3.
///
/// Blocking (a scoped actor waits for every reply): for the thread that
/// starts and stops the service only.

#include "actors/directory.hpp"
#include "domain/ids.hpp"
#include "persistence/lmdb_store.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace marquee {

struct checkpoint_result {
  size_t users = 0;
  size_t titles = 0;
  /// Empty on success; otherwise why nothing was written.
  std::string error;
};

/// Stores every live user and title and `sequence` in one transaction.
checkpoint_result checkpoint_all(caf::actor_system& sys, directory& dir,
                                 const id_tables& ids, lmdb_store& store,
                                 uint64_t sequence,
                                 std::chrono::milliseconds timeout);

/// Activates every title that has stored state, so that trending is whole
/// from the start (users are activated when they are needed). Returns how
/// many, or sets `error`.
size_t activate_stored_titles(directory& dir, id_tables& ids,
                              const lmdb_store& store, std::string& error);

} // namespace marquee
