#pragma once

/// The framing of every stored value: a 16-byte header, then the payload.
///
///   offset size field
///        0    2 magic "MQ"
///        2    1 kind (what the payload is: user, title, meta, ...)
///        3    1 reserved, 0
///        4    2 format version of the payload, little endian
///        6    2 reserved, 0
///        8    4 payload length, little endian
///       12    4 CRC-32 (zlib) of the payload, little endian
///
/// A value is decoded only after its length, magic, kind, version and
/// checksum are checked (DESIGN.md: never decode untrusted bytes blindly).
/// Pure functions; thread-safe.

#include "persistence/errors.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace marquee {

/// What a stored value holds.
enum class value_kind : uint8_t {
  meta = 1,
  user = 2,
  title = 3,
  similarity = 4,
  ring = 5,
  /// An entry of the title index (empty payload).
  index = 6,
};

constexpr size_t value_header_size = 16;

/// Frames `payload` as a value of `kind` in format `version`.
std::string frame_value(value_kind kind, uint16_t version,
                        std::string_view payload);

/// Frames in place: `value` holds `value_header_size` bytes of room, then
/// the payload; the header is written into the room (what `frame_value`
/// returns, without copying the payload).
void seal_value(value_kind kind, uint16_t version, std::string& value);

/// A checked value: its format version and payload (a view into the input).
struct framed_value {
  uint16_t version = 0;
  std::string_view payload;
};

/// Checks a stored value of the expected `kind`, written in a version up to
/// `max_version`. Errors: truncated, bad_magic, wrong_kind, newer_version,
/// bad_checksum.
std::error_code unframe_value(std::string_view value, value_kind kind,
                              uint16_t max_version, framed_value& out);

} // namespace marquee
