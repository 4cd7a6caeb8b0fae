#pragma once

/// JSON of requests and replies (CONTRACT.md): request bodies into queries,
/// answers into reply bodies. Decoding never throws: bad input gives a
/// sentence for a 400 reply.
///
/// Thread-safe: decoding uses thread-local parsers; encoding returns strings.

#include "domain/ids.hpp"
#include "domain/params.hpp"
#include "messages/queries.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace marquee {

/// A request that cannot be served as asked: the 400 sentence.
struct bad_request {
  std::string message;
};

/// Bounds of a reply's lists (docs/wire.md, "Bounded replies"): every
/// list a client or an operator can make long is paged or cut, so that a
/// reply always fits the server's max_payload.
namespace reply_bounds {
/// Windows one impression request may name.
constexpr size_t max_windows = 16;
/// Impression items per reply: default and most a request may ask for.
constexpr int64_t default_items = 1000;
constexpr int64_t max_items = 10000;
/// Entries per list of an admin `user` or `title` dump.
constexpr int64_t default_dump_items = 1000;
constexpr int64_t max_dump_items = 100000;
} // namespace reply_bounds

/// Which part of a list a reply carries: from `offset`, at most `limit`
/// items, and only as many as fit in `max_bytes` (the server's
/// max_payload).
struct reply_page {
  size_t offset = 0;
  size_t limit = SIZE_MAX;
  size_t max_bytes = SIZE_MAX;
};

/// A decoded impression-history request, with the names of the titles asked
/// for (the keys of titles never seen are `no_title`).
struct impressions_request {
  impressions_query query;
  std::vector<std::string> title_names;
  /// The windows as the request wrote them, for the reply's keys.
  std::vector<std::string> window_names;
  /// `offset` and `limit` of the items (max_bytes is the edge's to set).
  reply_page page;
};

std::variant<impressions_request, bad_request>
decode_impressions_request(user_key user, std::string_view body, int64_t now,
                           const service_params& p, const id_tables& ids);

std::variant<rec_query, bad_request>
decode_rec_request(user_key user, std::string_view user_id,
                   std::string_view body, int64_t now, const service_params& p,
                   const id_tables& ids);

std::variant<trending_query, bad_request>
decode_trending_request(std::string_view body, int64_t now,
                        const service_params& p, const id_tables& ids);

/// `{"k":10}` of `P.v1.rec.similar.<title>`: k.
std::variant<uint32_t, bad_request>
decode_similar_request(std::string_view body, const service_params& p);

/// `{"id":"u42","limit":100,"at":<ms>}` of the admin verbs `user` and
/// `title`.
struct admin_lookup {
  std::string id;
  /// Entries per list of the dump (reply_bounds::default_dump_items).
  size_t limit = reply_bounds::default_dump_items;
  /// The time the dump is taken at (it is the later of this and the actor's
  /// newest event time); nullopt: now.
  std::optional<int64_t> at;
};

std::variant<admin_lookup, bad_request>
decode_admin_lookup(std::string_view body);

/// The id of `decode_admin_lookup`.
std::variant<std::string, bad_request> decode_admin_id(std::string_view body);

// -- replies ------------------------------------------------------------------

std::string encode_error(int code, std::string_view message);

/// `message` fit for a header value: every control character (a header
/// ends at CR or LF) becomes a space.
std::string header_text(std::string_view message);

/// `s` as a JSON string, quoted and escaped.
std::string encode_json_string(std::string_view s);

/// The items of `page` (all by default); with `total` (every item) and,
/// when more items follow, `next_offset`.
std::string encode_impressions(std::string_view user,
                               const impressions_result& res,
                               const std::vector<std::string>& window_names,
                               const std::vector<std::string>& title_names,
                               const id_tables& ids,
                               const reply_page& page = {});

std::string encode_rec(std::string_view user, const rec_result& res,
                       int64_t took_us, const id_tables& ids);

/// `{"title":..,"items":[{"title":..,"score":..}]}`.
std::string encode_similar(std::string_view title,
                           const std::vector<neighbour>& items,
                           const id_tables& ids);

std::string encode_trending(const trending_result& res, int64_t window_ms,
                            const id_tables& ids);

/// Each list cut to `limit` entries; `totals` gives every list's length
/// and `truncated` whether any was cut.
std::string encode_user_dump(std::string_view user, const user_dump& d,
                             const service_params& p, const id_tables& ids,
                             size_t limit = SIZE_MAX);

/// `similar`: what the title's similarity shard holds (none: similarity
/// is off).
std::string encode_title_dump(std::string_view title, const title_dump& d,
                              const similarity_dump* similar,
                              const service_params& p, const id_tables& ids,
                              size_t limit = SIZE_MAX);

const char* to_string(rec_row row);
const char* to_string(rec_reason reason);

} // namespace marquee
