#pragma once

/// What the ingest layer reads in durable mode: an ordered, acknowledged
/// source of stream messages. `wire/event_stream.hpp`'s `stream_reader`
/// (JetStream) is the one in service; the ingest layer never sees NATS.
///
/// Thread rules: a source is owned by one thread (the ingest thread).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace marquee {

/// One message of the stream.
struct stream_message {
  uint64_t sequence = 0;
  /// Messages of the stream after this one when it was delivered.
  uint64_t pending = 0;
  /// When the server stored it, in ms since the epoch: the same at every
  /// replay, so it stands in for a missing `ts`.
  int64_t stored_ms = 0;
  /// The subject and the body, in the source's own buffers: valid until
  /// the next `fetch` of the same source (no copy per event).
  std::string_view subject;
  std::string_view data;
};

class event_source {
public:
  virtual ~event_source() = default;

  /// Up to `n` new messages (never more), in stream order and without
  /// gaps: what has arrived, without waiting, or else the first to arrive
  /// within `timeout`. `error` is set only with an empty result; an empty
  /// result with an empty `error` means nothing new arrived. The messages
  /// of one fetch, and the vector that holds them (the source's own), stay
  /// valid until the next.
  virtual const std::vector<stream_message>&
  fetch(int n, std::chrono::milliseconds timeout, std::string& error) = 0;

  /// Acknowledges every message up to and including `sequence`.
  virtual bool ack_through(uint64_t sequence, std::string& error) = 0;

  /// Why reading stopped for good, or "".
  virtual const std::string& broken() const = 0;

  /// Sequences that were no longer in the stream when they were due:
  /// never applied.
  virtual uint64_t skipped() const = 0;
};

} // namespace marquee
