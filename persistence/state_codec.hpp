#pragma once

/// Stored values of user and title state: a domain snapshot
/// (domain/snapshot.hpp) serialized with cereal's portable binary archive
/// inside a framed value (persistence/value_codec.hpp).
///
/// Interned keys differ from run to run, so a value never holds them: each
/// value carries its own dictionaries of the ids it names (titles, regions,
/// genres), sorted, and the snapshot refers to positions in them. Decoding
/// interns those ids in the reading process and maps the snapshot onto its
/// keys. Encoding is canonical: two states that differ only in how their ids
/// were interned encode to the same bytes.
///
/// Thread-safe as the interners are. Decoding checks the framing first and
/// never throws: a payload that does not decode, or names an invalid id, is
/// `persistence_errc::undecodable`.

#include "domain/ids.hpp"
#include "domain/snapshot.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace marquee {

/// Format versions of the payloads written by this build. Users: 2 keeps
/// impression EMAs only for titles shown twice or more; 1 (EMAs for every
/// impression title) still loads.
constexpr uint16_t user_value_version = 2;
constexpr uint16_t title_value_version = 1;

/// The stored value of a user's snapshot.
std::string encode_user_value(const user_snapshot_data& s,
                              const id_tables& ids);

/// The same into `out` (its capacity kept: a buffer reused for many users).
void encode_user_value(const user_snapshot_data& s, const id_tables& ids,
                       std::string& out);

/// Reads a stored user value, interning its ids into `ids`.
std::error_code decode_user_value(std::string_view value, id_tables& ids,
                                  user_snapshot_data& out);

/// The stored value of a title's snapshot.
std::string encode_title_value(const title_snapshot_data& s,
                               const id_tables& ids);

/// Reads a stored title value, interning its ids into `ids`.
std::error_code decode_title_value(std::string_view value, id_tables& ids,
                                   title_snapshot_data& out);

/// The LMDB key of a user (`u/<id>`) and of a title (`t/<id>`).
std::string user_store_key(std::string_view user_id);
std::string title_store_key(std::string_view title_id);

/// The title index: `i/<id>` marks a stored title that the trending cell
/// needs at start (it has catalog metadata or plays), so that a restart
/// reads those and no other title. `m/title_index` says the index is whole
/// (a store written before it existed has none: its titles are indexed
/// once at the next start).
std::string title_index_key(std::string_view title_id);
constexpr std::string_view title_index_prefix = "i/";
constexpr std::string_view title_index_done_key = "m/title_index";

/// The (empty, framed) value of an index entry and of the `done` mark.
std::string title_index_value();

/// Whether a title's stored state belongs in the index.
inline bool indexed(const title_snapshot_data& s) {
  return s.has_meta || s.plays > 0;
}

} // namespace marquee
