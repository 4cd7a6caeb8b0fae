#pragma once

/// Durable ingest (ADR 9, 11, 26): the thread that reads the event stream
/// from marquee's own position, hands each fetch to the pipeline as one
/// round, schedules checkpoints between fetches and acknowledges the
/// stream through each committed one.
///
/// Acks only bound the work in flight: recovery starts from the stream
/// position marquee itself recorded (the last checkpoint's), never from the
/// consumer's ack floor.
///
/// Thread rules: `start` and `stop` from the thread that owns the service;
/// the counters from any thread; the rest runs on the ingest thread
/// (`mq.ingest` in `top -H`).

#include "actors/checkpointer.hpp"
#include "ingest/event_source.hpp"
#include "ingest/pipeline.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace marquee {

class stream_ingest {
public:
  struct options {
    /// Messages fetched (and so events in one round) at most.
    size_t max_batch = 512;
    /// The first stream sequence to apply (the last checkpoint's + 1).
    uint64_t start_sequence = 1;
    /// Messages the source had to deliver when it was opened: 0 means
    /// there is nothing to replay (serving at once).
    uint64_t pending_at_open = 0;
    /// The checkpoint schedule and passivation; its `every_events` also
    /// sizes the consumer's limit of unacknowledged messages
    /// (`max_ack_pending`).
    checkpointer::options checkpoints;
  };

  /// Decodes one message and adds its event to the pipeline with its
  /// sequence, or dead-letters it. wire/ provides it (JSON, validation, the
  /// dead-letter subject).
  using accept_fn =
    std::function<void(const stream_message& m, ingest_pipeline& into)>;

  /// `write` stores a checkpoint (actors/checkpointer.hpp); null (no
  /// store): no checkpoints, nothing is acknowledged and the position is
  /// only in memory.
  stream_ingest(options opts, event_source& source, ingest_pipeline& pipeline,
                std::shared_ptr<directory> dir, checkpointer::write_fn write,
                accept_fn accept);

  /// Stops the thread if it runs (without the last checkpoint).
  ~stream_ingest();

  stream_ingest(const stream_ingest&) = delete;
  stream_ingest& operator=(const stream_ingest&) = delete;

  /// Starts the ingest thread.
  void start();

  /// Stops reading (the last fetch is handed out whole), waits for the
  /// checkpoint in flight and takes the last one, and acknowledges it.
  void stop();

  /// Unacknowledged messages the consumer should allow: two checkpoints'
  /// worth and a fetch, so that ingest goes on while one is written.
  static uint64_t max_ack_pending(const options& o) {
    return o.checkpoints.every_events * 2 + o.max_batch;
  }

  // -- counters, from any thread ---------------------------------------------

  /// The last stream sequence handed to the actors.
  uint64_t position() const { return position_.load(); }
  /// Messages of the stream after the position, at the last fetch.
  uint64_t behind() const { return behind_.load(); }
  /// Whether the replay has caught up with the stream.
  bool caught_up() const { return caught_up_.load(); }
  /// Sequences that were gone from the stream when they were due.
  uint64_t skipped() const { return skipped_.load(); }
  /// Whether ingest stopped for good, and why (set before `failed`).
  bool failed() const { return failed_.load(); }
  const std::string& failure() const { return failure_; }
  /// The checkpoint schedule, or null.
  checkpointer* checkpoints() const { return checkpoints_.get(); }

private:
  void run();
  void checkpointed(const checkpointer::outcome& out);
  void tick_checkpoints();
  bool ack_limited() const;

  options opts_;
  event_source& source_;
  ingest_pipeline& pipeline_;
  std::unique_ptr<checkpointer> checkpoints_;
  accept_fn accept_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> caught_up_{true};
  std::atomic<uint64_t> position_{0};
  std::atomic<uint64_t> behind_{0};
  std::atomic<uint64_t> skipped_{0};
  std::string failure_;
  std::atomic<bool> failed_{false};
};

} // namespace marquee
