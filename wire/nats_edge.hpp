#pragma once

/// The NATS edge of marquee: one connection, the subscriptions of
/// CONTRACT.md, the dead-letter subject, request replies, `$SRV` discovery
/// and the admin verbs.
///
/// Thread rules: NATS callbacks run on nats.c's shared delivery threads
/// (ADR 27); they only decode, validate and hand over (events to the
/// ingest pipeline, ADR 26, or the router; queries to a gateway actor, or
/// answered from the cells, ADR 23), and never block. In durable mode the
/// ingest thread (`ingest/stream_ingest.hpp`) reads the stream. Replies are
/// published from gateway actors; the connection sends them at once
/// (`SendAsap`). `start`, `drain` and the destructor belong to the thread
/// that runs the service.

#include "actors/checkpointer.hpp"
#include "actors/directory.hpp"
#include "actors/recommender.hpp"
#include "actors/router.hpp"
#include "domain/ids.hpp"
#include "domain/params.hpp"
#include "messages/actors.hpp"
#include "wire/event_decoder.hpp"
#include "wire/event_stream.hpp"
#include "wire/nats_auth.hpp"

#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace marquee {

struct edge_config {
  /// NATS server URL, e.g. nats://127.0.0.1:4222.
  std::string url;
  /// Credentials and TLS settings of the connection (docs/security.md).
  nats_auth auth;
  /// Subject prefix `P` (default "marquee").
  std::string prefix = "marquee";
  /// This instance's id, a valid subject token.
  std::string instance_id;
  std::string version;
  decode_limits limits;
  /// Pending-message limit of each subscription; past it the client drops
  /// messages, which the stats report (default 1,000,000).
  int pending_msgs = 1'000'000;
  /// Gateway actors publishing replies, and subscriptions answering
  /// recommendations (default: scheduler threads).
  size_t gateways = 2;
  /// Members' events grouped per actor before they are sent, at most this
  /// many; a batch also leaves as soon as nothing more is waiting (default
  /// 512).
  size_t max_batch = 512;
  /// Durable mode: events are read from the JetStream stream `stream`
  /// (created or checked at start) instead of core subscriptions, from
  /// `start_sequence` on; requests are answered 503 until the replay has
  /// caught up.
  bool durable = false;
  stream_config stream;
  /// The first stream sequence to apply (the last checkpoint's + 1).
  uint64_t start_sequence = 1;
  /// A checkpoint is taken once this many events were applied since the
  /// last one (default 50,000)...
  uint64_t checkpoint_events = 50'000;
  /// ...or this long after it, if anything changed (default 30 s).
  std::chrono::milliseconds checkpoint_interval{30'000};
  /// Durable mode with checkpoints: users idle this long, or beyond this
  /// many live ones, leave memory after a checkpoint (zeros: never).
  directory::passivation passivation;
};

/// What the edge reaches inside the process.
struct edge_deps {
  std::shared_ptr<id_tables> ids;
  std::shared_ptr<const service_params> params;
  std::shared_ptr<directory> dir;
  /// What requests read, on the thread that received them (ADR 23).
  rec_sources rec;
  /// Item similarity shards (empty: none).
  std::vector<similarity_actor> similarity;
  /// Durable mode: how far the actors have applied the stream.
  std::shared_ptr<applied_tracker> applied;
  /// The wall clock in milliseconds since the epoch (tests may fix it).
  std::function<int64_t()> now_ms;
  /// Durable mode: stores the given changed actors with `sequence` in one
  /// transaction; returns "" on success, else why not. Called on the
  /// checkpoint writer's thread after the events up to `sequence` were
  /// sent (see actors/checkpointer.hpp), and once more at drain. Null: no
  /// checkpoints.
  checkpointer::write_fn checkpoint;
  /// Durable mode with a store: the stored play ring of a user whose ring
  /// is not in memory (after a restart), or empty.
  std::function<std::vector<title_key>(user_key)> load_ring;
};

/// Counters of the edge, readable from any thread.
struct edge_counters {
  std::atomic<uint64_t> events[5] = {}; // play, impression, feedback,
                                        // catalog, profile
  std::atomic<uint64_t> dlq[dlq_reason_count] = {};
  std::atomic<uint64_t> dlq_publish_failures{0};
  /// Dead letters whose body was cut to fit the server's max_payload.
  std::atomic<uint64_t> dlq_truncated{0};
  /// Dead letters a replay found in the dead-letter stream already, and so
  /// did not send again.
  std::atomic<uint64_t> dlq_already_sent{0};
  /// Replies too large for the server's max_payload, answered with 413.
  std::atomic<uint64_t> replies_too_large{0};
  /// Replies (or error replies) that NATS refused to send.
  std::atomic<uint64_t> reply_failures{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> reconnects{0};
};

class nats_edge {
public:
  /// Connects, subscribes and starts answering. On failure returns null and
  /// sets `error` to a one-line reason.
  static std::unique_ptr<nats_edge> start(caf::actor_system& sys,
                                          edge_config cfg, edge_deps deps,
                                          std::string& error);

  /// Drains every subscription (in-flight messages are handled, no new ones
  /// arrive), then stops the gateways. Idempotent.
  void drain(std::chrono::milliseconds timeout);

  /// Durable mode: the last stream sequence handed to the actors (the start
  /// sequence - 1 before any); 0 in core mode.
  uint64_t stream_position() const;

  ~nats_edge();

  struct impl;

private:
  explicit nats_edge(std::shared_ptr<impl> ptr);
  std::shared_ptr<impl> impl_;
};

} // namespace marquee
