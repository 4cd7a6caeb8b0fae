#pragma once

/// The durable event stream (JetStream): the source of truth of issue 3.
///
/// `ensure_stream` creates the stream of a prefix's event, catalog and
/// profile subjects, or checks an existing one and brings its limits up to
/// date. `stream_reader` reads it through a durable pull consumer that
/// starts at a given sequence (the last checkpoint's + 1), hands out each
/// message with its stream sequence, filters redeliveries, and acknowledges
/// everything up to a sequence at once (AckAll) when a checkpoint covers
/// it. It sends its pull requests itself (ADR 20: nats.c 3.4.1's fetch can
/// overflow its array).
///
/// Thread rules: a reader is owned by one thread (the ingest thread); the
/// connection may be shared. Errors are values: false or nullopt and a
/// one-line reason.

#include "ingest/event_source.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

typedef struct __natsConnection natsConnection;
typedef struct __natsMsg natsMsg;

namespace marquee {

struct stream_config {
  /// The stream's name (default "MARQUEE"): letters, digits, '-' and '_'.
  std::string name = "MARQUEE";
  /// Subject prefix P: the stream holds P.v1.events.>, P.v1.catalog.>,
  /// P.v1.profile.>.
  std::string prefix = "marquee";
  /// Events older than this are dropped (0: kept forever; default 30 days).
  int64_t max_age_ms = int64_t{30} * 24 * 3600 * 1000;
  /// The stream never holds more than this (-1: no limit).
  int64_t max_bytes = -1;
  /// Window in which a repeated `Nats-Msg-Id` is stored once (default 2 min).
  int64_t duplicate_window_ms = 2 * 60 * 1000;
  /// Whether dead letters are kept in the stream `<name>_DLQ` on
  /// `P.v1.dlq.>` (docs/wire.md, "Dead letters"), and for how long.
  bool dlq = true;
  int64_t dlq_max_age_ms = int64_t{7} * 24 * 3600 * 1000;

  /// The name of the dead-letter stream.
  std::string dlq_name() const { return name + "_DLQ"; }
};

/// The subjects of the stream of `prefix`.
std::vector<std::string> stream_subjects(const std::string& prefix);

/// Creates the stream, or updates an existing one's limits. An existing
/// stream of that name with other subjects is an error, never changed.
/// `last_sequence`, if given, receives the sequence of its last message
/// (0 if it never held one).
/// `created_ns`, if given, receives the stream's creation time (ns since the
/// epoch), which tells one incarnation of the stream from the next.
bool ensure_stream(natsConnection* nc, const stream_config& cfg,
                   std::string& error, uint64_t* last_sequence = nullptr,
                   int64_t* created_ns = nullptr);

/// The `Nats-Msg-Id` of the dead letter of stream sequence `sequence` of the
/// event stream `name` created at `created_ns`: unique across incarnations
/// of the stream, the same at every replay.
std::string dead_letter_id(const std::string& name, int64_t created_ns,
                           uint64_t sequence);

/// Creates or updates the dead-letter stream `cfg.dlq_name()` on
/// `P.v1.dlq.>` and reads, into `newest`, the event stream sequence of the
/// newest dead letter it holds (its `Marquee-Sequence` header; 0 if it
/// holds none, or if that dead letter came from another incarnation of the
/// event stream, created at another time than `created_ns`). Dead letters
/// are published in stream order by one thread, so every dead letter of a
/// sequence at or below `newest` was sent: a replay after a crash need not
/// send it again.
bool ensure_dlq_stream(natsConnection* nc, const stream_config& cfg,
                       int64_t created_ns, uint64_t& newest,
                       std::string& error);

struct reader_options {
  /// The durable consumer's name (no '.'); re-created at every open.
  std::string durable = "marquee";
  /// First stream sequence to deliver (1: from the beginning).
  uint64_t start_sequence = 1;
  /// Messages delivered but not yet acknowledged, at most (bounds the work
  /// in flight between checkpoints).
  int64_t max_ack_pending = 100'000;
  /// How long the server waits for an ack before it redelivers.
  std::chrono::milliseconds ack_wait{std::chrono::minutes{5}};
  /// While nothing arrives, how often the reader checks that its consumer
  /// still exists (a deleted one is created again).
  std::chrono::milliseconds consumer_check{std::chrono::seconds{5}};
};

class stream_reader : public event_source {
public:
  /// Creates the consumer at `opts.start_sequence` (replacing one of the
  /// same name) and subscribes to it.
  static std::unique_ptr<stream_reader> open(natsConnection* nc,
                                             const stream_config& cfg,
                                             const reader_options& opts,
                                             std::string& error);
  ~stream_reader() override;

  stream_reader(const stream_reader&) = delete;
  stream_reader& operator=(const stream_reader&) = delete;

  /// Up to `n` new messages (never more), in stream order and without
  /// gaps: what has arrived, without waiting, or else the first to arrive
  /// within `timeout`. Redeliveries of messages handed out before are left
  /// out. When the server skips sequences, they are read from the stream
  /// directly (see `skipped`). `error` is set only with an empty result;
  /// an empty result with an empty `error` means nothing new arrived.
  const std::vector<stream_message>&
  fetch(int n, std::chrono::milliseconds timeout, std::string& error) override;

  /// Acknowledges every message up to and including `sequence`, which
  /// should be the last of a fetch: the reader keeps one ack subject per
  /// fetch, and for a `sequence` inside a fetch it acknowledges through the
  /// fetch before (fewer, never more).
  bool ack_through(uint64_t sequence, std::string& error) override;

  /// Messages the consumer had to deliver when it was created: 0 means
  /// there is nothing to replay.
  uint64_t pending_at_open() const;

  /// Why reading stopped for good, or "": the stream went backwards (it
  /// ends before a sequence already handed out), so new events would be
  /// taken for redeliveries. `fetch` then only returns this error.
  const std::string& broken() const override;

  /// Sequences between those handed out that were no longer in the stream
  /// (aged out, purged or deleted) when they were due: never applied.
  uint64_t skipped() const override;

  /// The highest sequence handed out so far (start - 1 before the first).
  uint64_t delivered_through() const;

  struct impl;

private:
  explicit stream_reader(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace marquee
