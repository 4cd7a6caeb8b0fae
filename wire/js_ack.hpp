#pragma once

/// The metadata JetStream puts in the reply subject of each message it
/// delivers to a consumer (NATS ADR-15), read in place: no allocation per
/// message, where nats.c's `natsMsg_GetMetaData` allocates a structure and
/// its strings.
///
///   $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>
///   $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.
///     <cseq>.<ns>.<pending>[.<more>...]
///
/// The first form has exactly 9 tokens; the second at least 12 (servers
/// may append tokens after `pending`).

#include <cstdint>
#include <optional>
#include <string_view>

namespace marquee {

struct js_ack_meta {
  /// How many times this message was delivered (1: the first time).
  uint64_t delivered = 0;
  uint64_t stream_sequence = 0;
  uint64_t consumer_sequence = 0;
  /// When the stream stored the message, ns since the epoch.
  int64_t timestamp_ns = 0;
  /// Messages of the stream after this one for the consumer.
  uint64_t pending = 0;
};

/// The metadata of a JetStream reply subject; nothing if `reply` is not one
/// (another subject, a token missing, a number that does not parse).
std::optional<js_ack_meta> parse_js_ack(std::string_view reply);

} // namespace marquee
