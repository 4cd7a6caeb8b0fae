#include "persistence/value_codec.hpp"

#include <zlib.h>

namespace marquee {

namespace {

void put_le(std::string& out, uint64_t x, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t offset, size_t bytes) {
  uint64_t x = 0;
  for (size_t i = 0; i < bytes; ++i)
    x |= static_cast<uint64_t>(static_cast<uint8_t>(in[offset + i])) << (8 * i);
  return x;
}

uint32_t checksum(std::string_view payload) {
  return static_cast<uint32_t>(
    crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(payload.data()),
          static_cast<uInt>(payload.size())));
}

} // namespace

std::string frame_value(value_kind kind, uint16_t version,
                        std::string_view payload) {
  std::string out;
  out.reserve(value_header_size + payload.size());
  out.resize(value_header_size);
  out.append(payload.data(), payload.size());
  seal_value(kind, version, out);
  return out;
}

void seal_value(value_kind kind, uint16_t version, std::string& value) {
  auto payload = std::string_view{value}.substr(value_header_size);
  std::string header;
  header.reserve(value_header_size);
  header.push_back('M');
  header.push_back('Q');
  header.push_back(static_cast<char>(kind));
  header.push_back(0);
  put_le(header, version, 2);
  put_le(header, 0, 2);
  put_le(header, payload.size(), 4);
  put_le(header, checksum(payload), 4);
  value.replace(0, value_header_size, header);
}

std::error_code unframe_value(std::string_view value, value_kind kind,
                              uint16_t max_version, framed_value& out) {
  if (value.size() < value_header_size)
    return persistence_errc::truncated;
  if (value[0] != 'M' || value[1] != 'Q')
    return persistence_errc::bad_magic;
  if (static_cast<uint8_t>(value[2]) != static_cast<uint8_t>(kind))
    return persistence_errc::wrong_kind;
  auto version = static_cast<uint16_t>(get_le(value, 4, 2));
  if (version > max_version)
    return persistence_errc::newer_version;
  auto length = get_le(value, 8, 4);
  if (length != value.size() - value_header_size)
    return persistence_errc::truncated;
  auto payload = value.substr(value_header_size);
  if (get_le(value, 12, 4) != checksum(payload))
    return persistence_errc::bad_checksum;
  out.version = version;
  out.payload = payload;
  return {};
}

} // namespace marquee
