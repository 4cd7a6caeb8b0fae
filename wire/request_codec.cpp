#include "wire/request_codec.hpp"

#include "domain/window.hpp"
#include "wire/json_checks.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace marquee {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Largest request body accepted.
constexpr size_t max_request_bytes = 64 * 1024;

struct parsed {
  std::optional<object> obj;
  std::string error;
};

/// At most `max` bytes of `s`, to quote in a 400 sentence: cut before a
/// UTF-8 continuation byte, so that the sentence (and the reply body that
/// carries it) stays UTF-8. `s` comes from simdjson, which validated it.
std::string quote_prefix(std::string_view s, size_t max) {
  if (s.size() <= max)
    return std::string{s};
  while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xc0) == 0x80)
    --max;
  return std::string{s.substr(0, max)};
}

/// Parses a request body; an empty body is an empty object.
parsed parse_body(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  if (body.size() > max_request_bytes)
    return {std::nullopt, "request body over 64 KiB"};
  bool blank = std::all_of(body.begin(), body.end(), [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  });
  if (blank)
    body = "{}";
  padded.assign(body.data(), body.size());
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  auto doc = parser.parse(padded.data(), body.size(), false);
  if (doc.error() != simdjson::SUCCESS)
    return {std::nullopt, std::string{"invalid JSON: "} +
                            simdjson::error_message(doc.error())};
  if (!doc.value_unsafe().is_object())
    return {std::nullopt, "the request body must be a JSON object"};
  if (auto dup = duplicate_key(doc.value_unsafe()))
    return {std::nullopt, "invalid JSON: the name '" + *dup +
                            "' appears twice in one object (RFC 7493)"};
  return {doc.value_unsafe().get_object().value_unsafe(), {}};
}

/// Reads optional fields of a request object, collecting the first error.
class reader {
public:
  explicit reader(object obj) : obj_(obj) {
    // nop
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  bool find(const char* key, element& out) {
    auto res = obj_.at_key(key);
    if (res.error() != simdjson::SUCCESS)
      return false;
    out = res.value_unsafe();
    return !out.is_null();
  }

  void fail(std::string msg) {
    if (error_.empty())
      error_ = std::move(msg);
  }

  int64_t integer(const char* key, int64_t def, int64_t lo, int64_t hi) {
    element e;
    if (!find(key, e))
      return def;
    auto r = e.get_int64();
    if (r.error() != simdjson::SUCCESS || r.value_unsafe() < lo ||
        r.value_unsafe() > hi) {
      fail(std::string{"'"} + key + "' must be an integer from " +
           std::to_string(lo) + " to " + std::to_string(hi));
      return def;
    }
    return r.value_unsafe();
  }

  bool boolean(const char* key, bool def) {
    element e;
    if (!find(key, e))
      return def;
    if (!e.is_bool()) {
      fail(std::string{"'"} + key + "' must be true or false");
      return def;
    }
    return e.get_bool().value_unsafe();
  }

  std::optional<std::string_view> string(const char* key) {
    element e;
    if (!find(key, e))
      return std::nullopt;
    if (!e.is_string()) {
      fail(std::string{"'"} + key + "' must be a string");
      return std::nullopt;
    }
    return e.get_string().value_unsafe();
  }

  std::vector<std::string_view> strings(const char* key) {
    std::vector<std::string_view> out;
    element e;
    if (!find(key, e))
      return out;
    if (!e.is_array()) {
      fail(std::string{"'"} + key + "' must be an array of strings");
      return out;
    }
    simdjson::dom::array items = e.get_array().value_unsafe();
    for (auto item : items) {
      if (!item.is_string()) {
        fail(std::string{"'"} + key + "' must be an array of strings");
        return {};
      }
      out.push_back(item.get_string().value_unsafe());
    }
    return out;
  }

  /// A list of title ids, as keys; ids never seen map to `no_title`.
  std::vector<title_key> title_ids(const char* key, const id_tables& ids,
                                   std::vector<std::string>* names) {
    std::vector<title_key> out;
    for (auto s : strings(key)) {
      if (!is_valid_id(s)) {
        fail(std::string{"'"} + key + "' holds an invalid title id '" +
             quote_prefix(s, 80) + "'");
        return {};
      }
      out.push_back(ids.titles.find(s).value_or(no_title));
      if (names)
        names->emplace_back(s);
    }
    return out;
  }

  /// Genres as keys, sorted; genres never seen map to `no_genre`, which no
  /// title has.
  std::vector<genre_key> genres(const id_tables& ids) {
    std::vector<genre_key> out;
    for (auto s : strings("genres"))
      out.push_back(ids.genres.find(s).value_or(no_genre));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  /// Whether `key` is present and not null.
  bool has(const char* key) {
    element e;
    return find(key, e);
  }

  int64_t at(int64_t now) {
    return integer("at", now, 0, std::numeric_limits<int64_t>::max() / 4);
  }

private:
  object obj_;
  std::string error_;
};

std::string windows_text(const std::vector<int64_t>& windows_ms) {
  std::string out;
  for (auto w : windows_ms)
    out += (out.empty() ? "" : ", ") + format_window(w);
  return out;
}

template <class T>
std::variant<T, bad_request> finish(reader& r, T value) {
  if (!r.ok())
    return bad_request{r.error()};
  return value;
}

} // namespace

std::variant<impressions_request, bad_request>
decode_impressions_request(user_key user, std::string_view body, int64_t now,
                           const service_params& p, const id_tables& ids) {
  auto doc = parse_body(body);
  if (!doc.obj)
    return bad_request{doc.error};
  reader r{*doc.obj};
  impressions_request req;
  req.query.user = user;
  req.query.titles = r.title_ids("titles", ids, &req.title_names);
  req.query.at = r.at(now);
  req.query.at_given = r.has("at");
  req.page.offset = static_cast<size_t>(
    r.integer("offset", 0, 0, std::numeric_limits<int32_t>::max()));
  req.page.limit = static_cast<size_t>(r.integer(
    "limit", reply_bounds::default_items, 1, reply_bounds::max_items));
  element e;
  if (r.find("windows", e)) {
    for (auto s : r.strings("windows")) {
      if (req.window_names.size() == reply_bounds::max_windows) {
        r.fail("'windows' names more than " +
               std::to_string(reply_bounds::max_windows) + " windows");
        break;
      }
      auto w = parse_window(s);
      if (!w) {
        r.fail("'" + quote_prefix(s, 20) +
               "' is not a window (write <n>m, <n>h or <n>d)");
        break;
      }
      // A window named twice is answered once: reply keys are unique.
      if (std::find(req.window_names.begin(), req.window_names.end(), s) !=
          req.window_names.end())
        continue;
      req.query.windows_ms.push_back(*w);
      req.window_names.emplace_back(s);
    }
    if (r.ok() && req.query.windows_ms.empty())
      r.fail("'windows' must not be empty");
  } else {
    req.query.windows_ms = p.user.impressions.windows_ms;
    for (auto ms : req.query.windows_ms)
      req.window_names.push_back(format_window(ms));
  }
  return finish(r, std::move(req));
}

std::variant<rec_query, bad_request>
decode_rec_request(user_key user, std::string_view user_id,
                   std::string_view body, int64_t now, const service_params& p,
                   const id_tables& ids) {
  auto doc = parse_body(body);
  if (!doc.obj)
    return bad_request{doc.error};
  reader r{*doc.obj};
  rec_query q;
  q.user = user;
  q.k = static_cast<uint32_t>(r.integer("k", p.rec.default_k, 1, p.rec.max_k));
  q.at = r.at(now);
  q.at_given = r.has("at");
  q.explain = r.boolean("explain", false);
  if (auto row = r.string("row")) {
    if (*row == "home")
      q.row = rec_row::home;
    else if (*row == "because_you_watched")
      q.row = rec_row::because_you_watched;
    else if (*row == "continue_watching")
      q.row = rec_row::continue_watching;
    else if (*row == "trending")
      q.row = rec_row::trending;
    else
      r.fail("'row' must be one of home, because_you_watched, "
             "continue_watching, trending");
  }
  q.exclude = r.title_ids("exclude", ids, nullptr);
  std::sort(q.exclude.begin(), q.exclude.end());
  q.genres = r.genres(ids);
  const auto& experiments = p.experiments;
  // An empty variant is no variant: the user's own.
  if (auto v = r.string("variant"); v && !v->empty()) {
    auto i = experiments.find(*v);
    if (i == experiment_params::npos)
      r.fail("'variant' must be one of the configured variants (" +
             experiments.names() + "), not '" + quote_prefix(*v, 64) + "'");
    else
      q.variant = static_cast<uint32_t>(i);
  } else {
    q.variant = static_cast<uint32_t>(experiments.assign(user_id));
  }
  q.after = static_cast<uint64_t>(
    r.integer("after", 0, 0, std::numeric_limits<int64_t>::max()));
  return finish(r, std::move(q));
}

std::variant<trending_query, bad_request>
decode_trending_request(std::string_view body, int64_t now,
                        const service_params& p, const id_tables& ids) {
  auto doc = parse_body(body);
  if (!doc.obj)
    return bad_request{doc.error};
  reader r{*doc.obj};
  trending_query q;
  q.k = static_cast<uint32_t>(r.integer("k", 10, 1, p.rec.max_k));
  q.at = r.at(now);
  q.at_given = r.has("at");
  q.window = p.rec.trending_window;
  if (auto w = r.string("window")) {
    auto ms = parse_window(*w);
    auto index = ms ? p.trending.window_index(*ms) : -1;
    if (index < 0)
      r.fail("window '" + quote_prefix(*w, 20) +
             "' is not a trending window; windows: " +
             windows_text(p.trending.windows_ms));
    else
      q.window = static_cast<uint32_t>(index);
  }
  if (auto region = r.string("region")) {
    // A region never seen has no plays: an empty list, not an error.
    auto key = ids.regions.find(*region);
    q.region = key ? *key : all_regions - 1;
  }
  q.genres = r.genres(ids);
  return finish(r, std::move(q));
}

std::variant<uint32_t, bad_request>
decode_similar_request(std::string_view body, const service_params& p) {
  auto doc = parse_body(body);
  if (!doc.obj)
    return bad_request{doc.error};
  reader r{*doc.obj};
  auto k = static_cast<uint32_t>(r.integer("k", 10, 1, p.rec.max_k));
  return finish(r, k);
}

std::variant<admin_lookup, bad_request>
decode_admin_lookup(std::string_view body) {
  auto doc = parse_body(body);
  if (!doc.obj)
    return bad_request{doc.error};
  reader r{*doc.obj};
  admin_lookup out;
  auto id = r.string("id");
  if (r.ok() && !id)
    r.fail("missing 'id'");
  if (r.ok() && !is_valid_id(*id))
    r.fail("'id' is not a valid id (1 to 64 of [A-Za-z0-9_:-])");
  if (id)
    out.id = std::string{*id};
  out.limit =
    static_cast<size_t>(r.integer("limit", reply_bounds::default_dump_items, 1,
                                  reply_bounds::max_dump_items));
  if (r.has("at"))
    out.at = r.at(0);
  return finish(r, std::move(out));
}

std::variant<std::string, bad_request> decode_admin_id(std::string_view body) {
  auto res = decode_admin_lookup(body);
  if (auto bad = std::get_if<bad_request>(&res))
    return std::move(*bad);
  return std::move(std::get<admin_lookup>(res).id);
}

// -- replies ------------------------------------------------------------------

namespace {

void key(json_writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void str(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void tokens(json_writer& w, const std::vector<uint32_t>& keys,
            const interner& table) {
  w.StartArray();
  for (auto k : keys)
    str(w, table.name(k));
  w.EndArray();
}

std::string done(rapidjson::StringBuffer& buf) {
  return std::string{buf.GetString(), buf.GetSize()};
}

/// The first `n` records of `xs` (all by default).
void play_records(json_writer& w, const std::vector<play_record>& xs,
                  const id_tables& ids, size_t n = SIZE_MAX) {
  w.StartArray();
  for (size_t i = 0; i < xs.size() && i < n; ++i) {
    const auto& r = xs[i];
    w.StartObject();
    key(w, "title");
    str(w, ids.titles.name(r.title));
    key(w, "ts");
    w.Int64(r.ts);
    key(w, "progress");
    w.Double(r.progress);
    w.EndObject();
  }
  w.EndArray();
}

std::string region_name(region_key r, const id_tables& ids) {
  return r == all_regions ? std::string{"all"}
                          : std::string{ids.regions.name(r)};
}

void impression_rows(json_writer& w, const std::vector<impression_row>& rows,
                     const std::vector<std::string>& window_names,
                     const std::vector<std::string>& title_names,
                     const id_tables& ids, size_t first = 0,
                     size_t end = SIZE_MAX) {
  w.StartArray();
  for (size_t i = first; i < rows.size() && i < end; ++i) {
    const auto& row = rows[i];
    w.StartObject();
    key(w, "title");
    if (i < title_names.size())
      str(w, title_names[i]);
    else
      str(w, ids.titles.name(row.title));
    key(w, "count");
    w.Uint(row.count);
    key(w, "last_ts");
    if (row.count > 0)
      w.Int64(row.last_ts);
    else
      w.Null();
    key(w, "ema");
    w.StartObject();
    for (size_t j = 0; j < window_names.size() && j < row.ema.size(); ++j) {
      key(w, window_names[j]);
      w.Double(row.ema[j]);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
}

} // namespace

const char* to_string(rec_row row) {
  switch (row) {
  case rec_row::home:
    return "home";
  case rec_row::because_you_watched:
    return "because_you_watched";
  case rec_row::continue_watching:
    return "continue_watching";
  case rec_row::trending:
    return "trending";
  }
  return "home";
}

const char* to_string(rec_reason reason) {
  switch (reason) {
  case rec_reason::because_you_watched:
    return "because_you_watched";
  case rec_reason::trending:
    return "trending";
  case rec_reason::popular:
    return "popular";
  case rec_reason::genre:
    return "genre";
  case rec_reason::continue_watching:
    return "continue_watching";
  }
  return "trending";
}

std::string encode_json_string(std::string_view s) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  str(w, s);
  return done(buf);
}

std::string encode_error(int code, std::string_view message) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  key(w, "error");
  w.StartObject();
  key(w, "code");
  w.Int(code);
  key(w, "message");
  str(w, message);
  w.EndObject();
  w.EndObject();
  return done(buf);
}

std::string header_text(std::string_view message) {
  std::string out{message};
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = ' ';
  return out;
}

std::string encode_impressions(std::string_view user,
                               const impressions_result& res,
                               const std::vector<std::string>& window_names,
                               const std::vector<std::string>& title_names,
                               const id_tables& ids, const reply_page& page) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  key(w, "user");
  str(w, user);
  key(w, "at");
  w.Int64(res.at);
  // How many items fit: an upper bound of each item's bytes (a title id is
  // at most 64 plain characters, numbers at most 25) against the room left.
  size_t item_bytes = 160;
  for (const auto& name : window_names)
    item_bytes += encode_json_string(name).size() + 27;
  size_t envelope = 256 + encode_json_string(user).size();
  // At least one item, so that paging always moves on; an item that does
  // not fit on its own is the edge's 413.
  size_t fit = page.max_bytes > envelope + item_bytes
                 ? (page.max_bytes - envelope) / item_bytes
                 : size_t{1};
  auto total = res.rows.size();
  auto first = std::min(page.offset, total);
  auto end = first + std::min({page.limit, fit, total - first});
  key(w, "items");
  impression_rows(w, res.rows, window_names, title_names, ids, first, end);
  key(w, "total");
  w.Uint64(total);
  if (end < total) {
    key(w, "next_offset");
    w.Uint64(end);
  }
  w.EndObject();
  return done(buf);
}

std::string encode_rec(std::string_view user, const rec_result& res,
                       int64_t took_us, const id_tables& ids) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  key(w, "user");
  str(w, user);
  key(w, "row");
  w.String(to_string(res.row));
  key(w, "variant");
  str(w, res.variant);
  key(w, "at");
  w.Int64(res.at);
  if (res.source != no_title) {
    key(w, "source");
    str(w, ids.titles.name(res.source));
  }
  key(w, "items");
  w.StartArray();
  for (const auto& item : res.items) {
    w.StartObject();
    key(w, "title");
    str(w, ids.titles.name(item.title));
    key(w, "score");
    w.Double(item.score);
    key(w, "reason");
    w.String(to_string(item.reason));
    if (item.source != no_title) {
      key(w, "source");
      str(w, ids.titles.name(item.source));
    }
    if (!item.features.empty()) {
      key(w, "features");
      w.StartObject();
      for (const auto& f : item.features) {
        key(w, f.name);
        w.Double(f.value);
      }
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  key(w, "fallback");
  w.Bool(res.fallback);
  key(w, "took_us");
  w.Int64(took_us);
  w.EndObject();
  return done(buf);
}

std::string encode_trending(const trending_result& res, int64_t window_ms,
                            const id_tables& ids) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  key(w, "window");
  str(w, format_window(window_ms));
  key(w, "at");
  w.Int64(res.at);
  key(w, "items");
  w.StartArray();
  for (const auto& e : res.items) {
    w.StartObject();
    key(w, "title");
    str(w, ids.titles.name(e.title));
    key(w, "score");
    w.Double(e.score);
    key(w, "plays");
    w.Uint64(e.plays);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return done(buf);
}

std::string encode_similar(std::string_view title,
                           const std::vector<neighbour>& items,
                           const id_tables& ids) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  key(w, "title");
  str(w, title);
  key(w, "items");
  w.StartArray();
  for (const auto& n : items) {
    w.StartObject();
    key(w, "title");
    str(w, ids.titles.name(n.title));
    key(w, "score");
    w.Double(n.score);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return done(buf);
}

std::string encode_user_dump(std::string_view user, const user_dump& d,
                             const service_params& p, const id_tables& ids,
                             size_t limit) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  bool truncated = false;
  auto cut = [&](size_t n) {
    truncated = truncated || n > limit;
    return std::min(n, limit);
  };
  w.StartObject();
  key(w, "user");
  str(w, user);
  key(w, "at");
  w.Int64(d.at);
  key(w, "events");
  w.Uint64(d.events);
  key(w, "applied_through");
  w.Uint64(d.applied_through);
  key(w, "profile");
  w.StartObject();
  key(w, "max_age");
  if (d.profile.max_age)
    w.Int(*d.profile.max_age);
  else
    w.Null();
  key(w, "region");
  if (d.profile.region)
    str(w, ids.regions.name(*d.profile.region));
  else
    w.Null();
  w.EndObject();
  key(w, "recent_plays");
  play_records(w, d.recent, ids, cut(d.recent.size()));
  // Sets in name order: the same state gives the same dump in every run,
  // whatever order ids were interned in.
  key(w, "watched");
  std::vector<std::string_view> watched;
  for (auto t : d.watched)
    watched.push_back(ids.titles.name(t));
  auto n_watched = cut(watched.size());
  std::partial_sort(watched.begin(), watched.begin() + n_watched,
                    watched.end());
  w.StartArray();
  for (size_t i = 0; i < n_watched; ++i)
    str(w, watched[i]);
  w.EndArray();
  key(w, "in_progress");
  play_records(w, d.in_progress, ids, cut(d.in_progress.size()));
  key(w, "feedback");
  auto feedback = d.feedback;
  auto n_feedback = cut(feedback.size());
  std::partial_sort(feedback.begin(), feedback.begin() + n_feedback,
                    feedback.end(), [&](const auto& a, const auto& b) {
                      return ids.titles.name(a.title) <
                             ids.titles.name(b.title);
                    });
  w.StartArray();
  for (size_t i = 0; i < n_feedback; ++i) {
    const auto& f = feedback[i];
    w.StartObject();
    key(w, "title");
    str(w, ids.titles.name(f.title));
    key(w, "value");
    w.Int(f.value);
    key(w, "ts");
    w.Int64(f.ts);
    w.EndObject();
  }
  w.EndArray();
  key(w, "impressions");
  w.StartObject();
  key(w, "titles");
  w.Uint64(d.impressed_titles);
  key(w, "raw_retained");
  w.Uint64(d.raw_impressions);
  key(w, "newest_ts");
  if (d.impressed_titles > 0)
    w.Int64(d.newest_impression);
  else
    w.Null();
  key(w, "top");
  std::vector<std::string> names;
  for (auto ms : p.user.impressions.windows_ms)
    names.push_back(format_window(ms));
  impression_rows(w, d.top_impressions, names, {}, ids, 0,
                  cut(d.top_impressions.size()));
  w.EndObject();
  key(w, "totals");
  w.StartObject();
  key(w, "recent_plays");
  w.Uint64(d.recent.size());
  key(w, "watched");
  w.Uint64(d.watched.size());
  key(w, "in_progress");
  w.Uint64(d.in_progress.size());
  key(w, "feedback");
  w.Uint64(d.feedback.size());
  key(w, "impressions_top");
  w.Uint64(d.top_impressions.size());
  w.EndObject();
  key(w, "truncated");
  w.Bool(truncated);
  w.EndObject();
  return done(buf);
}

std::string encode_title_dump(std::string_view title, const title_dump& d,
                              const similarity_dump* similar,
                              const service_params& p, const id_tables& ids,
                              size_t limit) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  key(w, "title");
  str(w, title);
  key(w, "at");
  w.Int64(d.at);
  key(w, "metadata");
  if (d.has_meta) {
    w.StartObject();
    key(w, "name");
    str(w, d.meta.name);
    key(w, "genres");
    tokens(w, d.meta.genres, ids.genres);
    key(w, "min_age");
    w.Int(d.meta.min_age);
    key(w, "year");
    if (d.meta.year > 0)
      w.Int(d.meta.year);
    else
      w.Null();
    key(w, "regions");
    if (d.meta.regions.empty())
      w.Null();
    else
      tokens(w, d.meta.regions, ids.regions);
    key(w, "available");
    w.Bool(d.meta.available);
    w.EndObject();
  } else {
    w.Null();
  }
  key(w, "plays");
  w.Uint64(d.plays);
  key(w, "impressions");
  w.Uint64(d.impressions);
  key(w, "last_play_ts");
  w.Int64(d.last_play_ts);
  key(w, "last_impression_ts");
  w.Int64(d.last_impression_ts);
  key(w, "thumbs_up");
  w.Uint64(d.thumbs_up);
  key(w, "thumbs_down");
  w.Uint64(d.thumbs_down);
  key(w, "applied_through");
  w.Uint64(d.applied_through);
  key(w, "trending");
  // "all" first, then the regions in name order.
  auto regions = d.trending;
  auto n_regions = std::min(regions.size(), limit);
  std::partial_sort(regions.begin(), regions.begin() + n_regions, regions.end(),
                    [&](const auto& a, const auto& b) {
                      return std::make_pair(a.region != all_regions,
                                            region_name(a.region, ids)) <
                             std::make_pair(b.region != all_regions,
                                            region_name(b.region, ids));
                    });
  w.StartArray();
  for (size_t i = 0; i < n_regions; ++i) {
    const auto& rs = regions[i];
    w.StartObject();
    key(w, "region");
    str(w, region_name(rs.region, ids));
    key(w, "plays");
    w.Uint64(rs.plays);
    key(w, "scores");
    w.StartObject();
    for (size_t i = 0; i < rs.scores.size(); ++i) {
      key(w, format_window(p.trending.windows_ms[i]));
      w.Double(rs.scores[i]);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  key(w, "neighbours");
  w.StartArray();
  if (similar != nullptr)
    for (const auto& n : similar->neighbours) {
      w.StartObject();
      key(w, "title");
      str(w, ids.titles.name(n.title));
      key(w, "score");
      w.Double(n.score);
      w.EndObject();
    }
  w.EndArray();
  key(w, "co_play_partners");
  w.Uint64(similar != nullptr ? similar->partners : 0);
  key(w, "totals");
  w.StartObject();
  key(w, "trending");
  w.Uint64(regions.size());
  w.EndObject();
  key(w, "truncated");
  w.Bool(n_regions < regions.size());
  w.EndObject();
  return done(buf);
}

} // namespace marquee
