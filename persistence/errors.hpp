#pragma once

/// Errors of the persistence layer as `std::error_code`: LMDB's own codes
/// (`lmdb_category`, values as `mdb_strerror` names them) and marquee's
/// (`persistence_errc`).

#include <string>
#include <system_error>

namespace marquee {

/// What marquee itself finds wrong with stored data or the store.
enum class persistence_errc {
  not_found = 1, // no value under the key
  truncated,     // shorter than its header or its stated length
  bad_magic,     // not a marquee value
  bad_checksum,  // the bytes changed since they were written
  wrong_kind,    // a value of another kind under this key
  newer_version, // written by a newer marquee: not decoded blindly
  undecodable,   // framing fine, payload does not decode
  locked,        // another marquee process holds the data directory
  map_limit,     // the map cannot grow past its configured maximum
};

const std::error_category& persistence_category() noexcept;
const std::error_category& lmdb_category() noexcept;

std::error_code make_error_code(persistence_errc e) noexcept;

/// An LMDB return code as an error code (0: success).
std::error_code lmdb_error(int rc) noexcept;

} // namespace marquee

namespace std {
template <>
struct is_error_code_enum<marquee::persistence_errc> : true_type {};
} // namespace std
