// Stored payloads that lie behind a valid frame (the checksum holds, the
// payload does not; found by tests/fuzz/fuzz_stored_payload): lengths that
// run past their bytes are refused before anything is allocated, bools
// other than 0 and 1 are refused. This file replaces the global operator
// new of persistence_tests to see the largest allocation a decode asks for.

#include "persistence/errors.hpp"
#include "persistence/similarity_codec.hpp"
#include "persistence/state_codec.hpp"
#include "persistence/value_codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>

namespace {

// The largest single allocation on this thread while `armed`.
thread_local bool armed = false;
thread_local size_t largest = 0;

} // namespace

void* operator new(std::size_t n) {
  if (armed)
    largest = std::max(largest, n);
  if (auto* p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc{};
}

// GCC sees free() of what `new` returned; this `new` is malloc, above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

// The other forms too (nothrow, arrays): under ASan the runtime supplies
// any form this file leaves out, and its allocation then meets this
// file's free (alloc-dealloc-mismatch, scripts/sanitize.sh asan).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (armed)
    largest = std::max(largest, n);
  return std::malloc(n == 0 ? 1 : n);
}

void* operator new[](std::size_t n) {
  return operator new(n);
}

void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept {
  return operator new(n, tag);
}

void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

void operator delete[](void* p) noexcept {
  std::free(p);
}

void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

using namespace marquee;

namespace {

/// The largest allocation `fn` makes on this thread.
size_t largest_allocation(const std::function<void()>& fn) {
  largest = 0;
  armed = true;
  fn();
  armed = false;
  return largest;
}

std::string le(uint64_t x, size_t bytes) {
  std::string out;
  for (size_t i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
  return out;
}

/// cereal's portable binary: the endianness byte (1: little) first.
const std::string little = "\x01";

/// A decoder of one value kind, for the table below.
struct decoder {
  const char* name;
  value_kind kind;
  uint16_t version;
  std::function<std::error_code(std::string_view, id_tables&)> decode;
};

std::vector<decoder> decoders() {
  return {
    {"user", value_kind::user, user_value_version,
     [](std::string_view v, id_tables& ids) {
       user_snapshot_data out;
       return decode_user_value(v, ids, out);
     }},
    {"title", value_kind::title, title_value_version,
     [](std::string_view v, id_tables& ids) {
       title_snapshot_data out;
       return decode_title_value(v, ids, out);
     }},
    {"similarity v2", value_kind::similarity, 2,
     [](std::string_view v, id_tables& ids) {
       similarity_record out;
       return decode_similarity_value(v, ids, out);
     }},
    {"similarity v1", value_kind::similarity, 1,
     [](std::string_view v, id_tables& ids) {
       similarity_record out;
       return decode_similarity_value(v, ids, out);
     }},
    {"ring", value_kind::ring, ring_value_version,
     [](std::string_view v, id_tables& ids) {
       std::vector<title_key> out;
       return decode_ring_value(v, ids, out);
     }},
  };
}

} // namespace

TEST_CASE("a stored length beyond its payload is refused before anything "
          "is allocated",
          "[persistence][fuzz]") {
  // Every value starts with a dictionary of ids: a vector of strings.
  struct lie {
    const char* what;
    std::string payload;
  };
  const std::vector<lie> lies = {
    {"2^20 ids in 9 bytes", little + le(1u << 20, 8)},
    {"one id of 2^24 bytes", little + le(1, 8) + le(1u << 24, 8) + "t7"},
    // The minimized input of the fuzzer (tests/fuzz/regressions/).
    {"2^56 ids", little + std::string("\x00\x00\xff\xff\x00\xff\xff\x00", 8)},
  };
  for (const auto& d : decoders()) {
    for (const auto& l : lies) {
      INFO(d.name << ": " << l.what);
      auto value = frame_value(d.kind, d.version, l.payload);
      id_tables ids;
      std::error_code ec;
      auto bytes = largest_allocation([&] { ec = d.decode(value, ids); });
      CHECK(ec == persistence_errc::undecodable);
      CHECK(bytes < 4096);
    }
  }
}

TEST_CASE("a user snapshot whose play list claims 2^22 entries is refused "
          "before they are allocated",
          "[persistence][fuzz]") {
  // Empty dictionaries, then last_sequence, events_applied, windows, and
  // the length of recent_titles.
  auto payload = little + le(0, 8) + le(0, 8) + le(7, 8) + le(9, 8) + le(0, 2) +
                 le(1u << 22, 8) + le(0, 4);
  auto value = frame_value(value_kind::user, user_value_version, payload);
  id_tables ids;
  user_snapshot_data out;
  std::error_code ec;
  auto bytes =
    largest_allocation([&] { ec = decode_user_value(value, ids, out); });
  CHECK(ec == persistence_errc::undecodable);
  CHECK(bytes < 4096);
}

TEST_CASE("a stored bool other than 0 or 1 is refused", "[persistence][fuzz]") {
  id_tables ids;
  framed_value framed;
  auto value = encode_title_value({}, ids);
  REQUIRE_FALSE(
    unframe_value(value, value_kind::title, title_value_version, framed));
  // The endianness byte, two empty dictionaries, last_sequence, windows:
  // then has_meta.
  auto payload = std::string{framed.payload};
  constexpr size_t has_meta = 1 + 8 + 8 + 8 + 2;
  REQUIRE(payload[has_meta] == 0);
  title_snapshot_data out;
  for (char byte : {'\x01', '\x02', '\xff'}) {
    INFO("has_meta byte " << static_cast<int>(static_cast<uint8_t>(byte)));
    payload[has_meta] = byte;
    auto ec = decode_title_value(
      frame_value(value_kind::title, title_value_version, payload), ids, out);
    if (byte == '\x01')
      CHECK_FALSE(ec);
    else
      CHECK(ec == persistence_errc::undecodable);
  }
}
