#pragma once

/// Decoding and validation of events (CONTRACT.md, "Events").
///
/// Thread-safe: each calling thread uses its own parser and buffer (thread
/// local), reused so that decoding allocates nothing once warm, but for the
/// ids and strings it interns or copies.

#include "domain/ids.hpp"
#include "messages/events.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace marquee {

/// Why an event went to the dead-letter subject `P.v1.dlq.<reason>`.
enum class dlq_reason : uint8_t { json, schema, id, size, time };

constexpr size_t dlq_reason_count = 5;

/// The subject token of a reason.
const char* to_string(dlq_reason reason);

struct rejection {
  dlq_reason reason = dlq_reason::schema;
  std::string message;
};

using decoded_event = std::variant<play_event, impression_event, feedback_event,
                                   catalog_event, profile_event, rejection>;

struct decode_limits {
  /// Largest payload accepted, in bytes (default 64 KiB).
  size_t max_payload = 64 * 1024;
  /// How far ahead of the server clock `ts` may be (default 24 h).
  int64_t max_future_ms = 24 * 3600 * 1000;
};

/// Decodes the event published on `P.v1.<tail>`, where `tail` is for example
/// `events.play.u42` or `catalog.t7`. `now_ms` is the receive time, used when
/// `ts` is absent, to reject times too far ahead (`max_future_ms`), and as
/// the time of an event stamped after it (a fast producer clock).
decoded_event decode_event(std::string_view tail, std::string_view payload,
                           int64_t now_ms, const decode_limits& limits,
                           id_tables& ids);

} // namespace marquee
