#pragma once

/// What the fuzz targets of stored values share: the loader's path from
/// stored bytes to live state (decode, then restore under the default
/// configuration, as actors/directory.cpp does), one selector per value
/// kind.

#include "domain/snapshot.hpp"
#include "persistence/similarity_codec.hpp"
#include "persistence/state_codec.hpp"
#include "persistence/value_codec.hpp"
#include "tests/fuzz/support.hpp"

#include <string_view>

namespace marquee::fuzz {

/// The decoders, in the order of the selector byte.
enum class stored_kind : uint8_t { user, title, similarity, ring, meta };

constexpr size_t stored_kind_count = 5;

/// The value kind and newest version of each selector.
inline value_kind kind_of(stored_kind k) {
  switch (k) {
  case stored_kind::user:
    return value_kind::user;
  case stored_kind::title:
    return value_kind::title;
  case stored_kind::similarity:
    return value_kind::similarity;
  case stored_kind::ring:
    return value_kind::ring;
  default:
    return value_kind::meta;
  }
}

inline uint16_t version_of(stored_kind k) {
  switch (k) {
  case stored_kind::user:
    return user_value_version;
  case stored_kind::title:
    return title_value_version;
  case stored_kind::similarity:
    return similarity_value_version;
  case stored_kind::ring:
    return ring_value_version;
  default:
    return 1; // the checkpoint sequence (persistence/lmdb_store.cpp)
  }
}

/// The parameters every seed was written with: the configuration's.
inline const service_params& default_params() {
  static const service_params p = params_with({});
  return p;
}

/// Decodes `value` as a stored value of kind `k` and, when it decodes,
/// restores it as the loader would.
inline void load_stored(stored_kind k, std::string_view value) {
  auto& ids = scratch_tables();
  const auto& p = default_params();
  switch (k) {
  case stored_kind::user: {
    user_snapshot_data s;
    if (!decode_user_value(value, ids, s))
      (void)restore_user(s, p.user);
    break;
  }
  case stored_kind::title: {
    title_snapshot_data s;
    if (!decode_title_value(value, ids, s))
      (void)restore_title(s, p.trending);
    break;
  }
  case stored_kind::similarity: {
    similarity_record r;
    if (!decode_similarity_value(value, ids, r))
      for (const auto& c : r.partners)
        check(c.title < ids.titles.size() && c.weight > 0 && c.support > 0,
              "similarity: partners are known titles with weight, support");
    break;
  }
  case stored_kind::ring: {
    std::vector<title_key> ring;
    if (!decode_ring_value(value, ids, ring))
      for (auto t : ring)
        check(t < ids.titles.size(), "ring: known titles");
    break;
  }
  default: {
    framed_value framed;
    if (!unframe_value(value, value_kind::meta, 1, framed))
      check(framed.payload.size() == value.size() - value_header_size,
            "meta: the payload is the rest of the value");
    break;
  }
  }
}

} // namespace marquee::fuzz
