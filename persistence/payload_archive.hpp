#pragma once

/// The reader of stored payloads: cereal's portable binary format, as
/// `cereal::PortableBinaryOutputArchive` writes it (an endianness byte, then
/// fixed-size little-endian numbers, each container's length as a 64-bit
/// count before its elements), read from bytes in memory.
///
/// Why not cereal's `PortableBinaryInputArchive`: it believes the lengths it
/// reads, and sizes a container before it reads one element of it. A damaged
/// payload whose checksum still holds, or a bug in our own writer, can ask
/// for 2^60 strings, or for a 2 GiB vector of doubles that is allocated and
/// zeroed before the read fails (tests/fuzz/fuzz_stored_payload found it).
/// Here a length greater than the bytes left is an error before anything is
/// allocated: every element takes at least one byte, so no container holds
/// more elements than the payload has bytes. And a bool byte other than 0 or
/// 1 is an error, where cereal's archive copies it into a bool as it is.
///
/// Errors throw `cereal::Exception`, as cereal's archives do; `read_payload`
/// turns them into false. One archive per payload, on one thread; the bytes
/// must outlive it.

#include <cereal/cereal.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string_view>
#include <type_traits>

namespace marquee {

class payload_archive
  : public cereal::InputArchive<payload_archive,
                                cereal::AllowEmptyClassElision> {
public:
  /// Reads the endianness byte at the front of `bytes`.
  explicit payload_archive(std::string_view bytes)
    : InputArchive(this), bytes_(bytes) {
    uint8_t little = 0;
    (*this)(little);
    swap_ = (little != 0) != host_is_little();
  }

  /// Bytes not read yet.
  size_t remaining() const noexcept { return bytes_.size(); }

  /// Reads `size` bytes of elements of `element_size` bytes each, turning
  /// each element to host byte order.
  void read(void* data, size_t size, size_t element_size) {
    if (size > bytes_.size())
      throw cereal::Exception("stored payload too short");
    if (size == 0)
      return; // `data` of an empty vector may be null
    std::memcpy(data, bytes_.data(), size);
    bytes_.remove_prefix(size);
    if (swap_ && element_size > 1) {
      auto* p = static_cast<uint8_t*>(data);
      for (size_t i = 0; i + element_size <= size; i += element_size)
        std::reverse(p + i, p + i + element_size);
    }
  }

private:
  static bool host_is_little() noexcept {
    const uint16_t one = 1;
    uint8_t first = 0;
    std::memcpy(&first, &one, 1);
    return first == 1;
  }

  std::string_view bytes_;
  bool swap_ = false;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>
CEREAL_LOAD_FUNCTION_NAME(payload_archive& ar, T& x) {
  static_assert(!std::is_floating_point_v<T> ||
                  std::numeric_limits<T>::is_iec559,
                "stored payloads hold IEEE 754 floating point only");
  ar.read(std::addressof(x), sizeof(T), sizeof(T));
}

/// A bool is one byte, 0 or 1: any other value would be a bool that is
/// neither (undefined behaviour wherever it is read).
inline void CEREAL_LOAD_FUNCTION_NAME(payload_archive& ar, bool& x) {
  uint8_t byte = 0;
  ar.read(&byte, 1, 1);
  if (byte > 1)
    throw cereal::Exception("stored bool neither 0 nor 1");
  x = byte == 1;
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(payload_archive& ar,
                               cereal::BinaryData<T>& bytes) {
  using element = std::remove_pointer_t<T>;
  ar.read(bytes.data, static_cast<size_t>(bytes.size), sizeof(element));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(payload_archive& ar,
                               cereal::NameValuePair<T>& nvp) {
  ar(nvp.value);
}

/// A container's length: never more elements than bytes left.
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(payload_archive& ar, cereal::SizeTag<T>& tag) {
  ar(tag.size);
  if (tag.size > ar.remaining())
    throw cereal::Exception("stored length beyond the payload");
}

/// Runs `fn` with an archive over `payload`; false if the payload is
/// malformed, or longer than what `fn` reads (then it is not what this
/// version writes).
template <class Fn>
bool read_payload(std::string_view payload, Fn fn) {
  try {
    payload_archive ar{payload};
    fn(ar);
    return ar.remaining() == 0;
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace marquee
