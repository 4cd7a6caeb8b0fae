// libFuzzer target: stored values as they come out of LMDB, framing
// included (persistence/value_codec.hpp, state_codec.hpp,
// similarity_codec.hpp), then restored as the loader does.
//
// Input: one selector byte (modulo 5: user, title, similarity, ring, the
// checkpoint's meta value), then the stored value. Few mutations get past
// the CRC-32: this target checks the framing; fuzz_stored_payload checks
// what lies behind it.

#include "tests/fuzz/stored.hpp"

using namespace marquee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto k = static_cast<fuzz::stored_kind>(data[0] % fuzz::stored_kind_count);
  fuzz::load_stored(k, {reinterpret_cast<const char*>(data) + 1, size - 1});
  return 0;
}
