#pragma once

/// The ingest layer (ADR 26): accepted events into the actors, on one
/// thread.
///
/// Members' events (plays, impressions, thumbs) are grouped per actor by
/// the `event_batcher` and leave as one message per actor at each flush;
/// plays also go to the co-play pairer, whose round leaves for every
/// similarity shard at the same flush. Catalog and profile events, which
/// replace state, flush what is pending first and are routed one by one,
/// so that every actor sees publish order. In durable mode the events of a
/// fetch form one round of read-your-writes (`open_round`, `close_round`).
///
/// Decoding, validation and dead letters happen before (wire/); reading
/// the stream and the checkpoint schedule around it are `stream_ingest`'s.
///
/// Thread rules: not thread-safe; one pipeline per ingest thread (the
/// stream reader's in durable mode, the member events subscription's in
/// core mode).

#include "actors/checkpointer.hpp"
#include "actors/directory.hpp"
#include "actors/router.hpp"
#include "domain/co_play_round.hpp"
#include "messages/actors.hpp"
#include "messages/applied.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace marquee {

struct ingest_deps {
  std::shared_ptr<const service_params> params;
  std::shared_ptr<directory> dir;
  /// Item similarity shards (empty: none).
  std::vector<similarity_actor> similarity;
  /// Durable mode: how far the actors have applied the stream (null in
  /// core mode: no rounds).
  std::shared_ptr<applied_tracker> applied;
  /// The stored play ring of a user whose ring is not in memory (after a
  /// restart), or empty; null without a store.
  std::function<std::vector<title_key>(user_key)> load_ring;
};

class ingest_pipeline {
public:
  /// A batch leaves when the caller flushes or at `max_batch` events.
  ingest_pipeline(ingest_deps deps, size_t max_batch);

  ingest_pipeline(const ingest_pipeline&) = delete;
  ingest_pipeline& operator=(const ingest_pipeline&) = delete;

  /// Durable mode: the events added until `close_round` form one round
  /// (no-op without an applied tracker).
  void open_round();
  /// Flushes, and closes the round at the stream sequence of its last
  /// event.
  void close_round(uint64_t last_sequence);

  /// Adds an event with its stream sequence (0 in core mode).
  void add(const play_event& ev, uint64_t sequence);
  void add(const impression_event& ev, uint64_t sequence);
  void add(const feedback_event& ev, uint64_t sequence);
  void add(const catalog_event& ev, uint64_t sequence);
  void add(const profile_event& ev, uint64_t sequence);

  /// Members' events added since the last flush.
  size_t pending() const { return batcher_.size(); }

  /// Durable mode with a store: every user and title an added event
  /// changes is reported to `c` (null: none), for the next checkpoint.
  void report_changes_to(checkpointer* c) { changes_ = c; }

  /// Sends what the batcher and the pairer hold, with the current round.
  void flush();

  /// At a checkpoint's sequence, on this thread: the play rings that
  /// changed, and a freeze to every similarity shard behind the rounds
  /// sent so far (ADR 15).
  checkpoint_extra begin_checkpoint(uint64_t sequence);

private:
  template <class Event>
  void add_member(const Event& ev, uint64_t sequence);
  template <class Event>
  void route_one(const Event& ev, uint64_t sequence);

  ingest_deps deps_;
  event_router router_;
  event_batcher batcher_;
  co_play_pairer pairer_;
  /// Durable mode: the round of events being handed out.
  mark_ptr round_;
  checkpointer* changes_ = nullptr;
};

} // namespace marquee
