// libFuzzer target: the payload decoders behind the framing. The input is
// wrapped in a valid frame (magic, kind, version, length, CRC-32) before it
// is loaded, as a disk that damaged a value but kept its checksum valid, or
// a bug in our own writer, would present it. DESIGN.md: cereal must never
// decode untrusted bytes; this is what it sees when the framing lets them
// through.
//
// Input: a selector byte (modulo 4: user, title, similarity, ring), a
// version byte (modulo the kind's newest version + 1), then the payload.

#include "tests/fuzz/stored.hpp"

using namespace marquee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  auto k = static_cast<fuzz::stored_kind>(data[0] % 4);
  auto version = static_cast<uint16_t>(data[1] % (fuzz::version_of(k) + 1));
  std::string_view payload{reinterpret_cast<const char*>(data) + 2, size - 2};
  fuzz::load_stored(k, frame_value(fuzz::kind_of(k), version, payload));
  return 0;
}
