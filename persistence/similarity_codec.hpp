#pragma once

/// Stored values of item similarity: a title's play count and co-play
/// partners (`s/<title>`), and a user's play ring (`r/<user>`), the plays
/// a new play pairs with. Like the other values (state_codec.hpp) each
/// carries a sorted dictionary of the title ids it names, so that stored
/// bytes never hold a process's interned keys. Decoding never throws: a
/// value that does not decode is `persistence_errc::undecodable`.

#include "domain/ids.hpp"
#include "domain/similarity.hpp"

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace marquee {

/// 2: each partner with its support. Version 1 (no supports) still loads,
/// each partner's support then the least its weight allows, ceil(weight),
/// at least 1 (a co-play adds at most 1 to the weight).
constexpr uint16_t similarity_value_version = 2;
constexpr uint16_t ring_value_version = 1;

std::string encode_similarity_value(const similarity_record& r,
                                    const id_tables& ids);

std::error_code decode_similarity_value(std::string_view value, id_tables& ids,
                                        similarity_record& out);

/// A ring, most recent first.
std::string encode_ring_value(const std::vector<title_key>& ring,
                              const id_tables& ids);

std::error_code decode_ring_value(std::string_view value, id_tables& ids,
                                  std::vector<title_key>& out);

/// `s/<title id>` and `r/<user id>`.
std::string similarity_store_key(std::string_view title_id);
std::string ring_store_key(std::string_view user_id);

} // namespace marquee
