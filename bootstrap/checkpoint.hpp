#pragma once

/// Checkpoints: the state of the actors an ingest thread changed, stored
/// with the stream sequence it reached. The checkpoint writer's thread
/// (actors/checkpointer.hpp) calls it after the ingest thread sent every
/// event up to `sequence`. Users are read from their cells (ADR 23) once
/// the applied sequence has reached `sequence`; titles answer a snapshot
/// request, which queues behind those events. Either way every actor stored
/// has applied at least the events through `sequence` (and skips them when
/// the stream is replayed from `sequence` + 1).
///
/// Blocking, on the writer's thread: it waits for the applied sequence and
/// for the titles' replies.

#include "actors/checkpointer.hpp"
#include "actors/directory.hpp"
#include "actors/similarity_actor.hpp"
#include "domain/ids.hpp"
#include "messages/applied.hpp"
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
/// checkpoint) and `sequence` in one transaction. Call it after the last
/// event up to `sequence` was sent, so that each is ahead of the snapshot
/// request in its title's mailbox and `applied` reaches `sequence` once the
/// users have applied it.
///
/// Item similarity goes into the same transaction: the rings in `extra`,
/// and the titles each shard set aside at `sequence` (collected into
/// `extra`, which the caller keeps for the next checkpoint if this one
/// fails).
checkpoint_result
checkpoint_some(caf::actor_system& sys, directory& dir, const id_tables& ids,
                lmdb_store& store, const applied_tracker& applied,
                uint64_t sequence, const std::vector<user_key>& users,
                const std::vector<title_key>& titles, checkpoint_extra& extra,
                const similarity_shards& shards,
                std::chrono::milliseconds timeout);

/// The stored item similarity, for the shards of a restart; `sequence` is
/// the checkpoint's.
std::shared_ptr<const stored_similarity>
load_similarity(id_tables& ids, const lmdb_store& store, uint64_t sequence,
                std::string& error);

/// The stored play ring of `user` (empty if none or unreadable).
std::vector<title_key> load_ring(id_tables& ids, const lmdb_store& store,
                                 user_key user);

/// Restores the trending cell (its catalog entries and top lists) from
/// the titles in the title index (`i/` keys, persistence/state_codec.hpp):
/// each is read and announced as its actor would announce it, but no title
/// actor is activated (titles come back when an event or a request needs
/// them). A store with titles but without the index (written by an earlier
/// version) gets it here, from every stored title, written under the
/// checkpoint's `sequence`; every checkpoint marks the index whole. Returns how
/// many titles were announced, or sets `error`.
size_t restore_trending(trending_cell& trending, id_tables& ids,
                        lmdb_store& store, uint64_t sequence,
                        const trending_params& p, std::string& error);

} // namespace marquee
