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

#include "persistence/value_codec.hpp"

#include <cereal/cereal.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace marquee {

/// Whether this host stores numbers little-endian (as stored payloads do).
inline bool host_is_little() noexcept {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

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

/// The writer of stored payloads: the bytes of
/// `cereal::PortableBinaryOutputArchive` on a little-endian host (what every
/// stored value holds), appended to a string instead of an ostream: no
/// stream, no copy of the result. Big-endian hosts write the same bytes,
/// swapped into little-endian order.
class payload_writer
  : public cereal::OutputArchive<payload_writer,
                                 cereal::AllowEmptyClassElision> {
public:
  /// Appends to `out`, starting with the endianness byte (1: little).
  explicit payload_writer(std::string& out) : OutputArchive(this), out_(out) {
    out_.push_back(1);
  }

  /// Appends `size` bytes of elements of `element_size` bytes each, in
  /// little-endian order.
  void write(const void* data, size_t size, size_t element_size) {
    if (size == 0)
      return; // `data` of an empty vector may be null
    auto at = out_.size();
    out_.append(static_cast<const char*>(data), size);
    if (!host_is_little() && element_size > 1)
      for (size_t i = at; i + element_size <= out_.size(); i += element_size)
        std::reverse(out_.begin() + static_cast<std::ptrdiff_t>(i),
                     out_.begin() +
                       static_cast<std::ptrdiff_t>(i + element_size));
  }

private:
  std::string& out_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>>
CEREAL_SAVE_FUNCTION_NAME(payload_writer& ar, const T& x) {
  static_assert(!std::is_floating_point_v<T> ||
                  std::numeric_limits<T>::is_iec559,
                "stored payloads hold IEEE 754 floating point only");
  ar.write(std::addressof(x), sizeof(T), sizeof(T));
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(payload_writer& ar,
                               const cereal::BinaryData<T>& bytes) {
  using element = std::remove_const_t<std::remove_pointer_t<T>>;
  ar.write(bytes.data, static_cast<size_t>(bytes.size), sizeof(element));
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(payload_writer& ar,
                               const cereal::NameValuePair<T>& nvp) {
  ar(nvp.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(payload_writer& ar,
                               const cereal::SizeTag<T>& tag) {
  ar(tag.size);
}

/// Writes into `out` (replacing what it held, keeping its capacity) a
/// value of `kind` in format `version` whose payload `fn` writes with a
/// `payload_writer`.
template <class Fn>
void write_value_into(std::string& out, value_kind kind, uint16_t version,
                      Fn fn) {
  out.assign(value_header_size, '\0');
  {
    payload_writer ar{out};
    fn(ar);
  }
  seal_value(kind, version, out);
}

/// The same as a new string, with `size_hint` bytes of payload reserved.
template <class Fn>
std::string write_value(value_kind kind, uint16_t version, Fn fn,
                        size_t size_hint = 0) {
  std::string out;
  out.reserve(value_header_size + size_hint);
  write_value_into(out, kind, version, std::move(fn));
  return out;
}

/// Writes `names` as a `std::vector<std::string>` is written, from views.
inline void write_names(payload_writer& ar,
                        const std::vector<std::string_view>& names) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(names.size())));
  for (auto name : names) {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(name.size())));
    ar(cereal::binary_data(name.data(), name.size()));
  }
}

} // namespace marquee
