#pragma once

/// Checkpoints: the state of the actors an ingest thread changed, stored
/// with the stream sequence it reached. The ingest thread calls it between
/// batches (and the service once at drain): every event up to `sequence` is
/// then ahead of the snapshot request in each actor's mailbox, so the
/// states collected form a consistent cut at `sequence`.
///
/// Blocking: a scoped actor waits for every reply, so ingest pauses while
/// a checkpoint is taken. Moving the encoding and the write off the ingest
/// thread (a snapshot actor of its own) is the next step of issue 3.

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

/// Stores the given users and titles (those changed since the last
/// checkpoint) and `sequence` in one transaction. Call it from the thread
/// that sent their events, after the last of them, so that every event up
/// to `sequence` is ahead of the snapshot request in each mailbox.
checkpoint_result checkpoint_some(caf::actor_system& sys, directory& dir,
                                  const id_tables& ids, lmdb_store& store,
                                  uint64_t sequence,
                                  const std::vector<user_key>& users,
                                  const std::vector<title_key>& titles,
                                  std::chrono::milliseconds timeout);

/// Activates every title that has stored state, so that trending is whole
/// from the start (users are activated when they are needed). Returns how
/// many, or sets `error`.
size_t activate_stored_titles(directory& dir, id_tables& ids,
                              const lmdb_store& store, std::string& error);

} // namespace marquee
