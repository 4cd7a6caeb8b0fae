#include "wire/event_decoder.hpp"

#include "domain/window.hpp"
#include "wire/json_checks.hpp"

#include <simdjson.h>

#include <algorithm>

namespace marquee {

const char* to_string(dlq_reason reason) {
  switch (reason) {
  case dlq_reason::json:
    return "json";
  case dlq_reason::schema:
    return "schema";
  case dlq_reason::id:
    return "id";
  case dlq_reason::size:
    return "size";
  case dlq_reason::time:
    return "time";
  }
  return "schema";
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

rejection reject(dlq_reason reason, std::string message) {
  return rejection{reason, std::move(message)};
}

/// One field of a JSON object: absent (or null), present, or of a bad type.
/// Decoding helpers return a rejection through `err` and false.
class fields {
public:
  explicit fields(object obj) : obj_(obj) {
    // nop
  }

  /// Finds `key`; null counts as absent.
  bool find(const char* key, element& out) const {
    auto res = obj_.at_key(key);
    if (res.error() != simdjson::SUCCESS)
      return false;
    out = res.value_unsafe();
    return !out.is_null();
  }

  bool get_id(const char* key, bool required, std::string_view& out,
              rejection& err) const {
    element e;
    if (!find(key, e)) {
      if (required)
        err = reject(dlq_reason::schema,
                     std::string{"missing field '"} + key + "'");
      return !required;
    }
    if (!e.is_string()) {
      err = reject(dlq_reason::schema,
                   std::string{"field '"} + key + "' must be a string");
      return false;
    }
    out = e.get_string().value_unsafe();
    if (!is_valid_id(out)) {
      err = reject(dlq_reason::id, std::string{"field '"} + key +
                                     "' is not a valid id (1 to 64 of "
                                     "[A-Za-z0-9_:-])");
      return false;
    }
    return true;
  }

  bool get_int(const char* key, int64_t lo, int64_t hi,
               std::optional<int64_t>& out, rejection& err) const {
    element e;
    if (!find(key, e))
      return true;
    auto res = e.get_int64();
    if (res.error() != simdjson::SUCCESS || res.value_unsafe() < lo ||
        res.value_unsafe() > hi) {
      err = reject(dlq_reason::schema,
                   std::string{"field '"} + key + "' must be an integer from " +
                     std::to_string(lo) + " to " + std::to_string(hi));
      return false;
    }
    out = res.value_unsafe();
    return true;
  }

  bool get_fraction(const char* key, std::optional<double>& out,
                    rejection& err) const {
    element e;
    if (!find(key, e))
      return true;
    auto res = e.get_double();
    if (res.error() != simdjson::SUCCESS || !(res.value_unsafe() >= 0.0) ||
        !(res.value_unsafe() <= 1.0)) {
      err = reject(dlq_reason::schema, std::string{"field '"} + key +
                                         "' must be a number from 0 "
                                         "to 1");
      return false;
    }
    out = res.value_unsafe();
    return true;
  }

  bool get_bool(const char* key, std::optional<bool>& out,
                rejection& err) const {
    element e;
    if (!find(key, e))
      return true;
    if (!e.is_bool()) {
      err = reject(dlq_reason::schema,
                   std::string{"field '"} + key + "' must be true or false");
      return false;
    }
    out = e.get_bool().value_unsafe();
    return true;
  }

  bool get_string(const char* key, size_t max_len,
                  std::optional<std::string_view>& out, rejection& err) const {
    element e;
    if (!find(key, e))
      return true;
    if (!e.is_string() || e.get_string().value_unsafe().size() > max_len) {
      err = reject(dlq_reason::schema, std::string{"field '"} + key +
                                         "' must be a string of at most " +
                                         std::to_string(max_len) + " bytes");
      return false;
    }
    out = e.get_string().value_unsafe();
    return true;
  }

  /// A list of short tokens (genres, regions), checked but not interned.
  bool get_tokens(const char* key, std::vector<std::string_view>& out,
                  rejection& err) const {
    element e;
    if (!find(key, e))
      return true;
    auto fail = [&] {
      err = reject(dlq_reason::schema,
                   std::string{"field '"} + key +
                     "' must be an array of non-empty strings of at most "
                     "64 bytes");
      return false;
    };
    if (!e.is_array())
      return fail();
    simdjson::dom::array items = e.get_array().value_unsafe();
    for (auto item : items) {
      if (!item.is_string())
        return fail();
      auto s = item.get_string().value_unsafe();
      if (s.empty() || s.size() > max_id_length)
        return fail();
      out.push_back(s);
    }
    return true;
  }

private:
  object obj_;
};

/// An interner's cap: what it counts and the configuration key that sets it.
struct id_kind {
  const char* singular;
  const char* plural;
  const char* config_key;
  dlq_reason reason;
};

constexpr id_kind user_ids{"user", "users", "limits.max_users", dlq_reason::id};
constexpr id_kind title_ids{"title", "titles", "limits.max_titles",
                            dlq_reason::id};
constexpr id_kind region_ids{"region", "regions", "limits.max_regions",
                             dlq_reason::schema};
constexpr id_kind genre_ids{"genre", "genres", "limits.max_genres",
                            dlq_reason::schema};

/// The rejection of a new id past its cap, e.g. "title limit reached:
/// 1000000 distinct titles (limits.max_titles)".
rejection limit_reached(const id_kind& kind, const interner& table) {
  return reject(kind.reason, std::string{kind.singular} + " limit reached: " +
                               std::to_string(table.limit()) + " distinct " +
                               kind.plural + " (" + kind.config_key + ")");
}

/// Whether `s` can be interned now; otherwise sets `err`. Checked for all
/// ids of an event before any is interned, so that a rejected event leaves
/// no new id behind.
bool admitted(const id_kind& kind, const interner& table, std::string_view s,
              rejection& err) {
  if (table.admits(s))
    return true;
  err = limit_reached(kind, table);
  return false;
}

bool admitted(const id_kind& kind, const interner& table,
              std::optional<std::string_view> s, rejection& err) {
  return !s || admitted(kind, table, *s, err);
}

bool admitted(const id_kind& kind, const interner& table,
              const std::vector<std::string_view>& in, rejection& err) {
  for (auto s : in)
    if (!admitted(kind, table, s, err))
      return false;
  return true;
}

/// Interns checked tokens into `out`, sorted and unique.
bool intern_tokens(const id_kind& kind, const std::vector<std::string_view>& in,
                   interner& table, std::vector<uint32_t>& out,
                   rejection& err) {
  for (auto s : in) {
    auto k = table.intern(s);
    if (!k) {
      err = limit_reached(kind, table);
      return false;
    }
    out.push_back(*k);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

/// A region: a short token, checked but not interned.
bool get_region(const fields& f, std::optional<std::string_view>& out,
                rejection& err) {
  std::optional<std::string_view> s;
  if (!f.get_string("region", max_id_length, s, err))
    return false;
  if (!s)
    return true;
  if (s->empty()) {
    err = reject(dlq_reason::schema, "field 'region' must not be empty");
    return false;
  }
  out = s;
  return true;
}

/// Interns a checked region, if any.
bool intern_region(std::optional<std::string_view> in, interner& table,
                   std::optional<region_key>& out, rejection& err) {
  if (!in)
    return true;
  auto k = table.intern(*in);
  if (!k) {
    err = limit_reached(region_ids, table);
    return false;
  }
  out = *k;
  return true;
}

/// Reads `ts` (absent: now), rejects times too far ahead and takes a time
/// ahead of the receive time as the receive time: nothing happened after
/// it arrived, and one producer's fast clock must not move the decay of
/// every title, or the time every client may ask at, into its future.
bool get_ts(const fields& f, int64_t now_ms, const decode_limits& limits,
            int64_t& out, rejection& err) {
  std::optional<int64_t> ts;
  if (!f.get_int("ts", 0, std::numeric_limits<int64_t>::max(), ts, err))
    return false;
  out = ts.value_or(now_ms);
  if (out > now_ms + limits.max_future_ms) {
    err =
      reject(dlq_reason::time,
             "field 'ts' (" + std::to_string(out) + ") is more than " +
               format_window(limits.max_future_ms) +
               " ahead of the server clock (" + std::to_string(now_ms) + ")");
    return false;
  }
  out = std::min(out, now_ms);
  return true;
}

bool intern_id(const id_kind& kind, interner& table, std::string_view id,
               uint32_t& out, rejection& err) {
  auto k = table.intern(id);
  if (!k) {
    err = limit_reached(kind, table);
    return false;
  }
  out = *k;
  return true;
}

struct thread_buffers {
  simdjson::dom::parser parser;
  std::string padded;
};

thread_buffers& buffers() {
  thread_local thread_buffers tb;
  return tb;
}

enum class event_kind { play, impression, feedback, catalog, profile };

} // namespace

decoded_event decode_event(std::string_view tail, std::string_view payload,
                           int64_t now_ms, const decode_limits& limits,
                           id_tables& ids) {
  if (payload.size() > limits.max_payload)
    return reject(dlq_reason::size, "payload of " +
                                      std::to_string(payload.size()) +
                                      " bytes is over the limit of " +
                                      std::to_string(limits.max_payload));
  // The subject: events.<kind>.<user>, catalog.<title> or profile.<user>.
  event_kind kind;
  std::string_view key_token;
  auto split = [](std::string_view s) {
    auto dot = s.find('.');
    return dot == std::string_view::npos
             ? std::pair{s, std::string_view{}}
             : std::pair{s.substr(0, dot), s.substr(dot + 1)};
  };
  auto [head, rest] = split(tail);
  if (head == "events") {
    auto [type, id] = split(rest);
    if (type == "play")
      kind = event_kind::play;
    else if (type == "impression")
      kind = event_kind::impression;
    else if (type == "feedback")
      kind = event_kind::feedback;
    else
      return reject(dlq_reason::schema,
                    "unknown event type '" + std::string{type} +
                      "' (expected play, impression or feedback)");
    key_token = id;
  } else if (head == "catalog") {
    kind = event_kind::catalog;
    key_token = rest;
  } else if (head == "profile") {
    kind = event_kind::profile;
    key_token = rest;
  } else {
    return reject(dlq_reason::schema,
                  "unknown subject '" + std::string{tail} + "'");
  }
  bool title_subject = kind == event_kind::catalog;
  if (!is_valid_id(key_token))
    return reject(dlq_reason::id,
                  std::string{"the last subject token must be one valid "} +
                    (title_subject ? "title" : "user") +
                    " id (1 to 64 of [A-Za-z0-9_:-])");
  // The payload: a JSON object.
  auto& tb = buffers();
  tb.padded.assign(payload.data(), payload.size());
  tb.padded.append(simdjson::SIMDJSON_PADDING, '\0');
  auto doc = tb.parser.parse(tb.padded.data(), payload.size(), false);
  if (doc.error() != simdjson::SUCCESS)
    return reject(dlq_reason::json, std::string{"invalid JSON: "} +
                                      simdjson::error_message(doc.error()));
  if (!doc.value_unsafe().is_object())
    return reject(dlq_reason::schema, "the payload must be a JSON object");
  if (auto dup = duplicate_key(doc.value_unsafe()))
    return reject(dlq_reason::json,
                  "invalid JSON: the name '" + *dup +
                    "' appears twice in one object (RFC 7493)");
  fields f{doc.value_unsafe().get_object().value_unsafe()};
  rejection err;
  // Ids are interned only once the whole event is valid.
  uint32_t key = 0;
  const auto& key_kind = title_subject ? title_ids : user_ids;
  auto& key_table = title_subject ? ids.titles : ids.users;
  auto intern_key = [&] {
    return intern_id(key_kind, key_table, key_token, key, err);
  };
  switch (kind) {
  case event_kind::catalog: {
    catalog_event ev{key, {}};
    std::optional<std::string_view> name;
    std::optional<int64_t> min_age;
    std::optional<int64_t> year;
    std::optional<bool> available;
    std::vector<std::string_view> genres;
    std::vector<std::string_view> regions;
    if (!f.get_string("name", 1024, name, err) ||
        !f.get_tokens("genres", genres, err) ||
        !f.get_int("min_age", 0, 150, min_age, err) ||
        !f.get_int("year", 0, 9999, year, err) ||
        !f.get_tokens("regions", regions, err) ||
        !f.get_bool("available", available, err) ||
        !admitted(genre_ids, ids.genres, genres, err) ||
        !admitted(region_ids, ids.regions, regions, err) ||
        !admitted(key_kind, key_table, key_token, err) ||
        !intern_tokens(genre_ids, genres, ids.genres, ev.meta.genres, err) ||
        !intern_tokens(region_ids, regions, ids.regions, ev.meta.regions,
                       err) ||
        !intern_key())
      return err;
    ev.title = key;
    ev.meta.name = std::string{name.value_or("")};
    ev.meta.min_age = static_cast<int32_t>(min_age.value_or(0));
    ev.meta.year = static_cast<int32_t>(year.value_or(0));
    ev.meta.available = available.value_or(true);
    return ev;
  }
  case event_kind::profile: {
    profile_event ev{key, {}};
    std::optional<int64_t> max_age;
    std::optional<std::string_view> region;
    if (!f.get_int("max_age", 0, 150, max_age, err) ||
        !get_region(f, region, err) ||
        !admitted(region_ids, ids.regions, region, err) ||
        !admitted(key_kind, key_table, key_token, err) ||
        !intern_region(region, ids.regions, ev.profile.region, err) ||
        !intern_key())
      return err;
    ev.user = key;
    if (max_age)
      ev.profile.max_age = static_cast<int32_t>(*max_age);
    return ev;
  }
  default:
    break;
  }
  // play, impression, feedback: title and ts.
  std::string_view title_id;
  int64_t ts = 0;
  uint32_t title = 0;
  if (!f.get_id("title", true, title_id, err) ||
      !get_ts(f, now_ms, limits, ts, err))
    return err;
  // Checks the fields of each kind, then whether both ids fit their caps,
  // then interns them.
  auto admit_both = [&] {
    return admitted(title_ids, ids.titles, title_id, err) &&
           admitted(key_kind, key_table, key_token, err);
  };
  auto intern_both = [&] {
    return intern_id(title_ids, ids.titles, title_id, title, err) &&
           intern_key();
  };
  switch (kind) {
  case event_kind::play: {
    std::optional<double> progress;
    std::optional<std::string_view> region_name;
    std::optional<region_key> region;
    std::optional<std::string_view> device;
    if (!f.get_fraction("progress", progress, err) ||
        !get_region(f, region_name, err) ||
        !f.get_string("device", max_id_length, device, err) ||
        !admitted(region_ids, ids.regions, region_name, err) || !admit_both() ||
        !intern_region(region_name, ids.regions, region, err) || !intern_both())
      return err;
    return play_event{key, title, ts, progress.value_or(1.0),
                      region.value_or(all_regions)};
  }
  case event_kind::impression: {
    std::optional<std::string_view> row;
    std::optional<int64_t> position;
    if (!f.get_string("row", max_id_length, row, err) ||
        !f.get_int("position", 0, 1'000'000, position, err) || !admit_both() ||
        !intern_both())
      return err;
    return impression_event{key, title, ts,
                            static_cast<int32_t>(position.value_or(-1))};
  }
  default: {
    std::optional<int64_t> value;
    if (!f.get_int("value", -1, 1, value, err))
      return err;
    if (!value || *value == 0)
      return reject(dlq_reason::schema,
                    "field 'value' must be 1 (thumbs up) or -1 (down)");
    if (!admit_both() || !intern_both())
      return err;
    return feedback_event{key, title, ts, static_cast<int8_t>(*value)};
  }
  }
}

} // namespace marquee
