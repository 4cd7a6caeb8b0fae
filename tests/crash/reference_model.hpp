#pragma once

/// The reference model of the crash test: what marquee's admin dumps must
/// show after every acknowledged event was applied exactly once, computed
/// independently with plain maps from the events as sent (CONTRACT.md
/// semantics, docs/operations.md defaults: 50 recent plays, 20 impression
/// rows in a dump, 128 raw impressions, EMA base 0.5).
///
/// Plus the comparison of a dump with the model, which lists every
/// difference as "who: field: expected X, got Y", and the canonical form of
/// a dump used to compare two runs (lists that are sets sorted by name:
/// marquee orders them by interned keys, which differ from run to run).
///
/// Not thread-safe; plain values.

#include "tests/crash/sent_event.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace marquee::testing {

/// The defaults of the service configuration that the dumps depend on.
struct model_params {
  size_t recent_max = 50;
  size_t dump_impression_rows = 20;
  size_t raw_max = 128;
  double alpha = 0.5;
  /// Impression windows, as named in dumps, in ms.
  std::vector<std::pair<std::string, int64_t>> impression_windows = {
    {"1d", 86'400'000},
    {"7d", 7 * 86'400'000LL},
    {"30d", 30 * 86'400'000LL},
    {"180d", 180 * 86'400'000LL},
    {"365d", 365 * 86'400'000LL}};
  std::vector<std::pair<std::string, int64_t>> trending_windows = {
    {"1h", 3'600'000}, {"1d", 86'400'000}, {"7d", 7 * 86'400'000LL}};
};

struct model_play {
  std::string title;
  int64_t ts = 0;
  double progress = 1.0;
};

struct model_feedback {
  int value = 0;
  int64_t ts = 0;
};

/// A user's profile as the dump shows it: unset fields are null.
struct model_profile {
  std::optional<int> max_age;
  std::optional<std::string> region;
};

/// A title's catalog entry as the dump shows it, with the defaults of the
/// fields left out (docs/wire.md, `P.v1.catalog.<title>`).
struct model_meta {
  std::string name;
  std::set<std::string> genres;
  int min_age = 0;
  /// Absent or 0: null.
  std::optional<int> year;
  /// Empty: offered everywhere, null.
  std::set<std::string> regions;
  bool available = true;
};

struct user_model {
  /// Plays, impressions, thumbs and profiles applied
  /// (domain/user_state.cpp: each counts one).
  uint64_t events = 0;
  uint64_t applied_through = 0;
  uint64_t last_user_seq = 0;
  /// Every play, in stream order.
  std::vector<model_play> plays;
  std::set<std::string> watched;
  std::map<std::string, model_play> in_progress;
  std::map<std::string, model_feedback> feedback;
  /// Impression times per title.
  std::map<std::string, std::vector<int64_t>> impressions;
  uint64_t impression_count = 0;
  std::optional<int64_t> newest_impression;
  model_profile profile;
  uint64_t profiles = 0;
};

struct title_model {
  uint64_t plays = 0;
  uint64_t impressions = 0;
  uint64_t thumbs_up = 0;
  uint64_t thumbs_down = 0;
  uint64_t applied_through = 0;
  int64_t last_play_ts = 0;
  int64_t last_impression_ts = 0;
  /// Play times per region, "all" for every play.
  std::map<std::string, std::vector<int64_t>> plays_by_region;
  /// The latest catalog entry, if any.
  std::optional<model_meta> meta;
  uint64_t catalog_entries = 0;
};

class reference_model {
public:
  explicit reference_model(model_params p = {}) : p_(std::move(p)) {
    // nop
  }

  /// Notes a problem of the model's input: stream sequences of one actor
  /// must rise.
  void check_above(const std::string& actor, uint64_t seq, uint64_t through) {
    if (seq <= through)
      problems_.push_back("model: stream sequence " + std::to_string(seq) +
                          " of " + actor + " is not above " +
                          std::to_string(through));
  }

  /// Feeds one acknowledged event; each exactly once, in stream order.
  /// A profile or catalog event replaces the whole profile or entry (left
  /// out fields take their defaults) and, like every event, moves the
  /// `applied_through` of its actor to its stream sequence.
  void apply(const sent_event& ev) {
    if (ev.kind == sent_event::type::catalog) {
      auto& t = titles_[ev.title];
      check_above("title " + ev.title, ev.stream_seq, t.applied_through);
      t.applied_through = ev.stream_seq;
      model_meta meta;
      meta.name = ev.name.value_or("");
      if (ev.genres)
        meta.genres = {ev.genres->begin(), ev.genres->end()};
      meta.min_age = ev.min_age.value_or(0);
      if (ev.year.value_or(0) != 0)
        meta.year = ev.year;
      if (ev.regions)
        meta.regions = {ev.regions->begin(), ev.regions->end()};
      meta.available = ev.available.value_or(true);
      t.meta = std::move(meta);
      t.catalog_entries += 1;
      return;
    }
    auto& u = users_[ev.user];
    if (ev.user_seq != u.last_user_seq + 1)
      problems_.push_back("model: user " + ev.user + " event " +
                          std::to_string(ev.user_seq) + " follows " +
                          std::to_string(u.last_user_seq));
    check_above("user " + ev.user, ev.stream_seq, u.applied_through);
    u.last_user_seq = ev.user_seq;
    u.events += 1;
    u.applied_through = std::max(u.applied_through, ev.stream_seq);
    if (ev.kind == sent_event::type::profile) {
      u.profile = model_profile{};
      u.profile.max_age = ev.max_age;
      if (!ev.region.empty())
        u.profile.region = ev.region;
      u.profiles += 1;
      return;
    }
    auto& t = titles_[ev.title];
    t.applied_through = std::max(t.applied_through, ev.stream_seq);
    switch (ev.kind) {
    case sent_event::type::play: {
      model_play play{ev.title, ev.ts, ev.progress};
      u.plays.push_back(play);
      if (ev.progress >= 0.9) {
        u.watched.insert(ev.title);
        u.in_progress.erase(ev.title);
      } else if (u.watched.count(ev.title) == 0) {
        auto i = u.in_progress.find(ev.title);
        if (i == u.in_progress.end() || i->second.ts <= ev.ts)
          u.in_progress[ev.title] = play;
      }
      t.plays += 1;
      t.last_play_ts = std::max(t.last_play_ts, ev.ts);
      t.plays_by_region["all"].push_back(ev.ts);
      if (!ev.region.empty())
        t.plays_by_region[ev.region].push_back(ev.ts);
      break;
    }
    case sent_event::type::impression:
      u.impressions[ev.title].push_back(ev.ts);
      u.impression_count += 1;
      u.newest_impression =
        std::max(u.newest_impression.value_or(ev.ts), ev.ts);
      t.impressions += 1;
      t.last_impression_ts = std::max(t.last_impression_ts, ev.ts);
      break;
    case sent_event::type::feedback: {
      auto i = u.feedback.find(ev.title);
      if (i == u.feedback.end() || ev.ts >= i->second.ts)
        u.feedback[ev.title] = model_feedback{ev.value, ev.ts};
      if (ev.value > 0)
        t.thumbs_up += 1;
      else
        t.thumbs_down += 1;
      break;
    }
    default:
      break;
    }
  }

  const std::map<std::string, user_model>& users() const { return users_; }
  const std::map<std::string, title_model>& titles() const { return titles_; }
  /// Inconsistencies in the events fed (a bug of the test, not of marquee).
  const std::vector<std::string>& problems() const { return problems_; }

  /// The differences between a user dump and the model, one line each.
  std::vector<std::string> compare_user(const std::string& id,
                                        const rapidjson::Value& d) const {
    diff out{"user " + id, {}};
    auto found = users_.find(id);
    if (found == users_.end()) {
      out.add("(whole)", "no such user in the model", "a dump");
      return out.lines;
    }
    const auto& m = found->second;
    if (!d.IsObject()) {
      out.add("(whole)", "a JSON object", "something else");
      return out.lines;
    }
    out.eq("events", m.events, u64(d, "events"));
    out.eq("applied_through", m.applied_through, u64(d, "applied_through"));
    if (m.newest_impression)
      out.eq("at", *m.newest_impression, i64(d, "at"));
    // Recent plays: the newest `recent_max`, newest first.
    std::vector<model_play> recent{m.plays.rbegin(), m.plays.rend()};
    if (recent.size() > p_.recent_max)
      recent.resize(p_.recent_max);
    compare_plays(out, "recent_plays", recent, member(d, "recent_plays"));
    // In progress: newest first.
    std::vector<model_play> in_progress;
    for (const auto& [title, play] : m.in_progress)
      in_progress.push_back(play);
    std::sort(in_progress.begin(), in_progress.end(),
              [](const auto& x, const auto& y) { return x.ts > y.ts; });
    compare_plays(out, "in_progress", in_progress, member(d, "in_progress"));
    // Watched: a set.
    std::set<std::string> watched;
    const auto& w = member(d, "watched");
    if (w.IsArray())
      for (const auto& x : w.GetArray())
        watched.insert(x.IsString() ? x.GetString() : "?");
    out.keyed("watched", as_map(m.watched), as_map(watched));
    if (w.IsArray())
      out.eq("watched (entries)", m.watched.size(), size_t{w.Size()});
    // Feedback: per title, the newest thumb.
    std::map<std::string, std::string> fb_model;
    std::map<std::string, std::string> fb_dump;
    for (const auto& [title, f] : m.feedback)
      fb_model[title] = std::to_string(f.value) + "@" + std::to_string(f.ts);
    const auto& fb = member(d, "feedback");
    if (fb.IsArray())
      for (const auto& x : fb.GetArray())
        fb_dump[str(x, "title")] +=
          std::to_string(i64(x, "value")) + "@" + std::to_string(i64(x, "ts"));
    out.keyed("feedback", fb_model, fb_dump);
    // Impressions.
    const auto& imp = member(d, "impressions");
    out.eq("impressions.titles", uint64_t{m.impressions.size()},
           u64(imp, "titles"));
    out.eq("impressions.raw_retained",
           std::min<uint64_t>(m.impression_count, p_.raw_max),
           u64(imp, "raw_retained"));
    if (m.newest_impression)
      out.eq("impressions.newest_ts", *m.newest_impression,
             i64(imp, "newest_ts"));
    compare_top_impressions(out, m, member(imp, "top"), i64(d, "at"));
    // Profile: the latest one, unset fields null.
    const auto& profile = member(d, "profile");
    if (!profile.IsObject()) {
      out.add("profile", "an object", to_json(profile));
    } else {
      out.eq("profile.max_age",
             m.profile.max_age ? std::to_string(*m.profile.max_age)
                               : std::string{"null"},
             to_json(member(profile, "max_age")));
      out.eq("profile.region",
             m.profile.region ? "\"" + *m.profile.region + "\""
                              : std::string{"null"},
             to_json(member(profile, "region")));
    }
    return out.lines;
  }

  /// The differences between a title dump and the model, one line each.
  std::vector<std::string> compare_title(const std::string& id,
                                         const rapidjson::Value& d) const {
    diff out{"title " + id, {}};
    auto found = titles_.find(id);
    if (found == titles_.end()) {
      out.add("(whole)", "no such title in the model", "a dump");
      return out.lines;
    }
    const auto& m = found->second;
    if (!d.IsObject()) {
      out.add("(whole)", "a JSON object", "something else");
      return out.lines;
    }
    out.eq("plays", m.plays, u64(d, "plays"));
    out.eq("impressions", m.impressions, u64(d, "impressions"));
    out.eq("thumbs_up", m.thumbs_up, u64(d, "thumbs_up"));
    out.eq("thumbs_down", m.thumbs_down, u64(d, "thumbs_down"));
    out.eq("last_play_ts", m.last_play_ts, i64(d, "last_play_ts"));
    out.eq("last_impression_ts", m.last_impression_ts,
           i64(d, "last_impression_ts"));
    out.eq("applied_through", m.applied_through, u64(d, "applied_through"));
    compare_meta(out, m.meta, member(d, "metadata"));
    if (m.plays > 0)
      out.eq("at", m.last_play_ts, i64(d, "at"));
    // Trending: plays and decayed scores per region.
    std::map<std::string, const rapidjson::Value*> dumped;
    const auto& tr = member(d, "trending");
    if (tr.IsArray())
      for (const auto& x : tr.GetArray())
        dumped[str(x, "region")] = &x;
    std::set<std::string> expected_regions;
    for (const auto& [region, times] : m.plays_by_region)
      expected_regions.insert(region);
    if (m.plays == 0)
      expected_regions.insert("all"); // always listed, with 0 plays
    std::set<std::string> dumped_regions;
    for (const auto& [region, x] : dumped)
      dumped_regions.insert(region);
    out.eq("trending regions", join(expected_regions), join(dumped_regions));
    auto at = i64(d, "at");
    for (const auto& [region, x] : dumped) {
      auto i = m.plays_by_region.find(region);
      std::vector<int64_t> none;
      const auto& times = i == m.plays_by_region.end() ? none : i->second;
      auto field = "trending[" + region + "]";
      auto before = out.lines.size();
      out.eq(field + ".plays", uint64_t{times.size()}, u64(*x, "plays"));
      for (const auto& [name, window] : p_.trending_windows)
        if (out.lines.size() == before)
          out.near(field + ".scores." + name, decayed(times, window, at),
                   dbl(member(*x, "scores"), name.c_str()));
    }
    return out.lines;
  }

  /// A dump with its sets in name order, as one JSON text: equal for two
  /// runs that hold the same state, whatever order they interned ids in.
  /// `at` is left out where it is the wall clock (no impressions, no plays).
  static std::string canonical(const rapidjson::Value& d) {
    rapidjson::Document c;
    c.CopyFrom(d, c.GetAllocator());
    if (!c.IsObject())
      return to_json(c);
    auto& alloc = c.GetAllocator();
    auto sort_member = [&alloc](rapidjson::Value& obj, const char* array,
                                const char* key) {
      if (!obj.IsObject() || !obj.HasMember(array) || !obj[array].IsArray())
        return;
      auto& a = obj[array];
      std::vector<const rapidjson::Value*> xs;
      for (const auto& x : a.GetArray())
        xs.push_back(&x);
      auto name = [key](const rapidjson::Value* x) {
        const auto& v = key == nullptr ? *x : member(*x, key);
        return v.IsString() ? std::string{v.GetString()} : to_json(v);
      };
      std::stable_sort(xs.begin(), xs.end(),
                       [&](auto x, auto y) { return name(x) < name(y); });
      rapidjson::Value sorted{rapidjson::kArrayType};
      for (auto x : xs)
        sorted.PushBack(rapidjson::Value{*x, alloc}, alloc);
      a = std::move(sorted);
    };
    if (c.HasMember("user")) {
      sort_member(c, "watched", nullptr);
      sort_member(c, "feedback", "title");
      if (c.HasMember("impressions"))
        sort_member(c["impressions"], "top", "title");
      if (u64(member(c, "impressions"), "titles") == 0)
        c.RemoveMember("at");
    } else {
      sort_member(c, "trending", "region");
      // "The order of `genres` and `regions` is internal" (docs/wire.md).
      if (c.HasMember("metadata")) {
        sort_member(c["metadata"], "genres", nullptr);
        sort_member(c["metadata"], "regions", nullptr);
      }
      if (u64(c, "plays") == 0) {
        c.RemoveMember("at");
        c.RemoveMember("trending");
      }
    }
    return to_json(c);
  }

private:
  /// Collects differences of one user or title.
  struct diff {
    std::string who;
    std::vector<std::string> lines;

    void add(const std::string& field, const std::string& expected,
             const std::string& got) {
      lines.push_back(who + ": " + field + ": expected " + expected + ", got " +
                      got);
    }

    template <class T>
    void eq(const std::string& field, const T& expected, const T& got) {
      if (!(expected == got))
        add(field, show(expected), show(got));
    }

    /// Entries by name: one line per name missing, extra or different.
    void keyed(const std::string& field,
               const std::map<std::string, std::string>& expected,
               const std::map<std::string, std::string>& got) {
      for (const auto& [k, v] : expected) {
        auto i = got.find(k);
        if (i == got.end())
          add(field + "[" + k + "]", v, "(none)");
        else if (i->second != v)
          add(field + "[" + k + "]", v, i->second);
      }
      for (const auto& [k, v] : got)
        if (expected.count(k) == 0)
          add(field + "[" + k + "]", "(none)", v);
    }

    void near(const std::string& field, double expected, double got) {
      auto scale = std::max({1.0, std::fabs(expected), std::fabs(got)});
      if (!(std::fabs(expected - got) <= 1e-9 * scale))
        add(field, show(expected), show(got));
    }

    template <class T>
    static std::string show(const T& x) {
      std::ostringstream os;
      os.precision(17);
      os << x;
      return os.str();
    }
  };

  static const rapidjson::Value& member(const rapidjson::Value& v,
                                        const char* key) {
    static const rapidjson::Value null_value;
    if (!v.IsObject())
      return null_value;
    auto i = v.FindMember(key);
    return i == v.MemberEnd() ? null_value : i->value;
  }

  static uint64_t u64(const rapidjson::Value& v, const char* key) {
    const auto& x = member(v, key);
    return x.IsUint64() ? x.GetUint64() : UINT64_MAX;
  }

  static int64_t i64(const rapidjson::Value& v, const char* key) {
    const auto& x = member(v, key);
    return x.IsInt64() ? x.GetInt64() : INT64_MIN;
  }

  static double dbl(const rapidjson::Value& v, const char* key) {
    const auto& x = member(v, key);
    return x.IsNumber() ? x.GetDouble() : std::nan("");
  }

  static std::string str(const rapidjson::Value& v, const char* key) {
    const auto& x = member(v, key);
    return x.IsString() ? x.GetString() : "?";
  }

  static std::map<std::string, std::string>
  as_map(const std::set<std::string>& xs) {
    std::map<std::string, std::string> out;
    for (const auto& x : xs)
      out[x] = "listed";
    return out;
  }

  template <class Container>
  static std::string join(const Container& xs) {
    std::string out = "[";
    for (const auto& x : xs) {
      if (out.size() > 1)
        out += ",";
      if constexpr (std::is_same_v<typename Container::value_type, std::string>)
        out += x;
      else
        out += x.first + ":" + x.second;
    }
    return out + "]";
  }

  static std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    v.Accept(w);
    return std::string{buf.GetString(), buf.GetSize()};
  }

  /// sum over `times` of alpha ^ ((at - t) / window), as CONTRACT.md
  /// defines decayed counts.
  double decayed(const std::vector<int64_t>& times, int64_t window,
                 int64_t at) const {
    double sum = 0;
    for (auto t : times)
      sum += std::pow(p_.alpha, static_cast<double>(at - t) /
                                  static_cast<double>(window));
    return sum;
  }

  void compare_plays(diff& out, const std::string& field,
                     const std::vector<model_play>& expected,
                     const rapidjson::Value& got) const {
    if (!got.IsArray()) {
      out.add(field, "an array", "none");
      return;
    }
    auto render = [](const std::string& title, int64_t ts, double progress) {
      return title + "@" + std::to_string(ts) + "/" + diff::show(progress);
    };
    std::vector<std::string> want;
    for (const auto& p : expected)
      want.push_back(render(p.title, p.ts, p.progress));
    std::vector<std::string> have;
    for (const auto& x : got.GetArray())
      have.push_back(render(str(x, "title"), i64(x, "ts"), dbl(x, "progress")));
    if (want == have)
      return;
    // Name the first difference and the sizes: a lost event shows as a
    // missing time, one applied twice as a repeated one.
    size_t i = 0;
    while (i < want.size() && i < have.size() && want[i] == have[i])
      ++i;
    out.add(field + " (" + std::to_string(want.size()) + " expected, " +
              std::to_string(have.size()) + " dumped; first difference at " +
              std::to_string(i) + ")",
            i < want.size() ? want[i] : "(end)",
            i < have.size() ? have[i] : "(end)");
  }

  /// The metadata of a title: null without a catalog entry, else each
  /// field; genres and regions as sets (their order is internal).
  void compare_meta(diff& out, const std::optional<model_meta>& m,
                    const rapidjson::Value& got) const {
    if (!m) {
      if (!got.IsNull())
        out.add("metadata", "null", to_json(got));
      return;
    }
    if (!got.IsObject()) {
      out.add("metadata", "an object", to_json(got));
      return;
    }
    auto names = [](const rapidjson::Value& v) {
      if (!v.IsArray())
        return to_json(v);
      std::vector<std::string> xs;
      for (const auto& x : v.GetArray())
        xs.push_back(x.IsString() ? x.GetString() : to_json(x));
      std::sort(xs.begin(), xs.end());
      return join(xs);
    };
    out.eq("metadata.name",
           to_json(rapidjson::Value{rapidjson::StringRef(m->name.c_str())}),
           to_json(member(got, "name")));
    out.eq("metadata.genres", join(m->genres), names(member(got, "genres")));
    out.eq("metadata.min_age", std::to_string(m->min_age),
           to_json(member(got, "min_age")));
    out.eq("metadata.year",
           m->year ? std::to_string(*m->year) : std::string{"null"},
           to_json(member(got, "year")));
    out.eq("metadata.regions",
           m->regions.empty() ? std::string{"null"} : join(m->regions),
           names(member(got, "regions")));
    out.eq("metadata.available", std::string{m->available ? "true" : "false"},
           to_json(member(got, "available")));
  }

  void compare_top_impressions(diff& out, const user_model& m,
                               const rapidjson::Value& top, int64_t at) const {
    if (!top.IsArray()) {
      out.add("impressions.top", "an array", "none");
      return;
    }
    out.eq("impressions.top (rows)",
           std::min(m.impressions.size(), p_.dump_impression_rows),
           size_t{top.Size()});
    double lowest_listed = INFINITY;
    std::set<std::string> listed;
    for (const auto& row : top.GetArray()) {
      auto title = str(row, "title");
      listed.insert(title);
      auto field = "impressions.top[" + title + "]";
      auto i = m.impressions.find(title);
      if (i == m.impressions.end()) {
        out.add(field, "no impressions", "a row");
        continue;
      }
      const auto& times = i->second;
      auto before = out.lines.size();
      out.eq(field + ".count", uint64_t{times.size()}, u64(row, "count"));
      out.eq(field + ".last_ts", *std::max_element(times.begin(), times.end()),
             i64(row, "last_ts"));
      // EMAs of a wrong count differ too: say so once, above.
      const auto& ema = member(row, "ema");
      for (const auto& [name, window] : p_.impression_windows)
        if (out.lines.size() == before)
          out.near(field + ".ema." + name, decayed(times, window, at),
                   dbl(ema, name.c_str()));
      lowest_listed = std::min(
        lowest_listed, decayed(times, p_.impression_windows[0].second, at));
    }
    // The rows are the highest EMAs of the first window.
    for (const auto& [title, times] : m.impressions) {
      if (listed.count(title) > 0)
        continue;
      auto v = decayed(times, p_.impression_windows[0].second, at);
      if (v > lowest_listed * (1 + 1e-9))
        out.add("impressions.top",
                title + " listed (ema " + diff::show(v) + ")",
                "not listed (lowest listed " + diff::show(lowest_listed) + ")");
    }
  }

  model_params p_;
  std::map<std::string, user_model> users_;
  std::map<std::string, title_model> titles_;
  std::vector<std::string> problems_;
};

} // namespace marquee::testing
