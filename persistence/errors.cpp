#include "persistence/errors.hpp"

#include <lmdb.h>

namespace marquee {

namespace {

class persistence_category_impl : public std::error_category {
public:
  const char* name() const noexcept override { return "marquee.persistence"; }

  std::string message(int ev) const override {
    switch (static_cast<persistence_errc>(ev)) {
    case persistence_errc::not_found:
      return "no value under this key";
    case persistence_errc::truncated:
      return "stored value is truncated";
    case persistence_errc::bad_magic:
      return "stored value is not a marquee value";
    case persistence_errc::bad_checksum:
      return "stored value fails its checksum";
    case persistence_errc::wrong_kind:
      return "stored value is of another kind";
    case persistence_errc::newer_version:
      return "stored value was written by a newer format version";
    case persistence_errc::undecodable:
      return "stored value does not decode";
    case persistence_errc::locked:
      return "the data directory is in use by another marquee process";
    case persistence_errc::map_limit:
      return "the LMDB map reached its maximum size";
    }
    return "unknown persistence error";
  }
};

class lmdb_category_impl : public std::error_category {
public:
  const char* name() const noexcept override { return "lmdb"; }

  std::string message(int ev) const override { return mdb_strerror(ev); }
};

} // namespace

const std::error_category& persistence_category() noexcept {
  static persistence_category_impl instance;
  return instance;
}

const std::error_category& lmdb_category() noexcept {
  static lmdb_category_impl instance;
  return instance;
}

std::error_code make_error_code(persistence_errc e) noexcept {
  return {static_cast<int>(e), persistence_category()};
}

std::error_code lmdb_error(int rc) noexcept {
  return rc == 0 ? std::error_code{} : std::error_code{rc, lmdb_category()};
}

} // namespace marquee
