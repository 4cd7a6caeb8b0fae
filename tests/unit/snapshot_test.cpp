#include "domain/snapshot.hpp"
#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

using namespace marquee;

namespace {

constexpr int64_t base_ts = 1'700'000'000'000;
constexpr int64_t minute = ms_per_minute;
constexpr int64_t hour = ms_per_hour;
constexpr int64_t day = ms_per_day;
constexpr int64_t min_ts = std::numeric_limits<int64_t>::min();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

user_params make_user_params(uint32_t recent_max, uint32_t in_progress_max,
                             int64_t raw_retention_ms, uint32_t raw_max,
                             std::vector<int64_t> windows = {day, 7 * day,
                                                             30 * day}) {
  user_params p;
  p.recent_max = recent_max;
  p.in_progress_max = in_progress_max;
  p.impressions =
    impression_params::make(0.5, std::move(windows), raw_retention_ms, raw_max);
  return p;
}

// -- users --------------------------------------------------------------------

struct user_event {
  enum kind_t { play, impression, feedback, profile } kind = play;
  title_key title = 0;
  int64_t ts = 0;
  double progress = 1.0;
  std::optional<region_key> region;
  int8_t value = 1;
  user_profile prof;
};

void apply(user_state& u, const user_event& e, const user_params& p) {
  switch (e.kind) {
  case user_event::play:
    u.apply_play(e.title, e.ts, e.progress, e.region, p);
    break;
  case user_event::impression:
    u.apply_impression(e.title, e.ts, p);
    break;
  case user_event::feedback:
    u.apply_feedback(e.title, e.ts, e.value);
    break;
  case user_event::profile:
    u.apply_profile(e.prof);
    break;
  }
}

/// A random history: mostly impressions, on a coarse clock (so that times
/// tie) that sometimes steps back (events out of order).
std::vector<user_event> random_user_events(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  std::vector<user_event> out;
  int64_t clock = base_ts;
  for (size_t i = 0; i < n; ++i) {
    clock += pick(0, 3) * 10 * minute;
    user_event e;
    e.ts = pick(0, 4) == 0 ? clock - pick(1, 30) * 10 * minute : clock;
    e.title = static_cast<title_key>(pick(0, 29));
    auto k = pick(0, 99);
    if (k < 55) {
      e.kind = user_event::impression;
    } else if (k < 85) {
      e.kind = user_event::play;
      const double progresses[] = {0.0, 0.2, 0.5, 0.89, 0.9, 0.95, 1.0};
      e.progress = progresses[pick(0, 6)];
      if (pick(0, 2) > 0)
        e.region = static_cast<region_key>(pick(0, 4));
    } else if (k < 95) {
      e.kind = user_event::feedback;
      e.value = pick(0, 1) == 0 ? 1 : -1;
    } else {
      e.kind = user_event::profile;
      if (pick(0, 1) == 0)
        e.prof.max_age = pick(0, 18);
      if (pick(0, 1) == 0)
        e.prof.region = static_cast<region_key>(pick(0, 4));
    }
    out.push_back(e);
  }
  return out;
}

template <class T>
std::string text_of(const std::optional<T>& x) {
  return x ? std::to_string(*x) : std::string{"-"};
}

template <class T>
std::string text_of(const std::vector<T>& xs) {
  std::string out = "[";
  for (const auto& x : xs)
    out += " " + std::to_string(x);
  return out + " ]";
}

void write_answer(
  std::ostream& out,
  const std::variant<std::vector<impression_row>, impression_refusal>& a) {
  if (auto* refusal = std::get_if<impression_refusal>(&a)) {
    out << " refused: " << refusal->message << '\n';
    return;
  }
  for (const auto& row : std::get<std::vector<impression_row>>(a)) {
    out << " (" << row.title << " n" << row.count << " @" << row.last_ts;
    for (auto v : row.ema)
      out << ' ' << v;
    out << ')';
  }
  out << '\n';
}

/// Every answer `u` gives, doubles written exactly (hex): two users with the
/// same transcript are indistinguishable to the rest of the program.
std::string transcript(const user_state& u, const user_params& p) {
  std::ostringstream out;
  out << std::hexfloat;
  auto v = u.view();
  out << "view age " << text_of(v.max_age) << " region " << text_of(v.region)
      << " watched " << text_of(v.watched) << " down "
      << text_of(v.thumbed_down) << '\n';
  out << "recent";
  for (const auto& r : u.recent_plays())
    out << ' ' << r.title << '@' << r.ts << ':' << r.progress;
  out << "\nwatched " << text_of(u.watched()) << "\nin progress";
  for (const auto& r : u.in_progress())
    out << ' ' << r.title << '@' << r.ts << ':' << r.progress;
  out << "\nfeedback";
  for (const auto& f : u.feedback())
    out << ' ' << f.title << '@' << f.ts << ':' << int{f.value};
  out << "\nprofile age " << text_of(u.profile().max_age) << " region "
      << text_of(u.profile().region) << "\nevents " << u.events_applied()
      << '\n';
  const auto& h = u.impressions();
  out << "impressions newest " << h.newest_ts() << " titles " << h.title_count()
      << " raw " << h.raw_count() << " covered from " << h.raw_covered_from()
      << '\n';
  auto t0 = h.newest_ts() == min_ts ? base_ts : h.newest_ts();
  const int64_t times[] = {t0 - hour, t0,           t0 + 1,
                           t0 + hour, t0 + 2 * day, t0 + 60 * day};
  const std::vector<int64_t> window_sets[] = {
    {},
    {day, 7 * day, 30 * day},          // configured
    {30 * minute},                     // on the fly
    {hour, day},                       // both
    {3 * day},                         // on the fly, long
    {2 * hour, 7 * day, 45 * minute}}; // both
  const std::vector<title_key> title_sets[] = {
    {}, {0, 5, 17, 29}, {100, no_title, 3}};
  for (auto at : times)
    for (const auto& windows : window_sets)
      for (const auto& titles : title_sets) {
        out << "query @" << at << ' ' << text_of(windows) << ' '
            << text_of(titles) << ':';
        write_answer(out, h.query(titles, windows, at, p.impressions));
      }
  for (auto at : times) {
    out << "top @" << at << ':';
    write_answer(out, h.top(5, at, p.impressions));
  }
  return out.str();
}

std::optional<user_state> round_trip(const user_state& u,
                                     const user_params& p) {
  return restore_user(snapshot_of(u), p);
}

// -- titles -------------------------------------------------------------------

struct title_event {
  enum kind_t { catalog, play, impression, feedback } kind = play;
  int64_t ts = 0;
  region_key region = all_regions;
  int8_t value = 1;
  title_meta meta;
};

void apply(title_state& t, const title_event& e, const trending_params& p) {
  switch (e.kind) {
  case title_event::catalog:
    t.apply_catalog(e.meta);
    break;
  case title_event::play:
    t.apply_play(e.ts, e.region, p);
    break;
  case title_event::impression:
    t.apply_impression(e.ts);
    break;
  case title_event::feedback:
    t.apply_feedback(e.value);
    break;
  }
}

std::vector<uint32_t> random_subset(std::mt19937& rng, uint32_t n) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < n; ++i)
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0)
      out.push_back(i);
  return out;
}

std::vector<title_event> random_title_events(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  std::vector<title_event> out;
  int64_t clock = base_ts;
  for (size_t i = 0; i < n; ++i) {
    clock += pick(0, 3) * 10 * minute;
    title_event e;
    e.ts = pick(0, 4) == 0 ? clock - pick(1, 30) * 10 * minute : clock;
    auto k = pick(0, 99);
    if (k < 5) {
      e.kind = title_event::catalog;
      e.meta.name = "title " + std::to_string(pick(0, 1000));
      e.meta.genres = random_subset(rng, 8);
      e.meta.min_age = pick(0, 18);
      e.meta.year = 1950 + pick(0, 75);
      e.meta.regions = random_subset(rng, 6);
      e.meta.available = pick(0, 3) > 0;
    } else if (k < 60) {
      e.kind = title_event::play;
      e.region =
        pick(0, 3) == 0 ? all_regions : static_cast<region_key>(pick(0, 5));
    } else if (k < 85) {
      e.kind = title_event::impression;
    } else {
      e.kind = title_event::feedback;
      e.value = pick(0, 1) == 0 ? 1 : -1;
    }
    out.push_back(e);
  }
  return out;
}

trending_params make_trending_params(std::vector<int64_t> windows = {hour, day,
                                                                     7 * day}) {
  return trending_params::make(0.5, std::move(windows), 1000);
}

void write_counts(std::ostream& out, const play_counts& c,
                  const trending_params& p, int64_t t0) {
  out << " plays " << c.plays << " sums " << c.decayed.size();
  for (size_t w = 0; w < c.decayed.size(); ++w) {
    const auto& s = c.decayed[w];
    auto r = p.rates[w];
    out << " (" << s.raw_value() << " @" << s.ref() << " key " << s.log_key(r);
    for (auto at : {t0, t0 + hour, t0 + 3 * day})
      out << ' ' << s.value_at(at, r);
    out << ')';
  }
  out << '\n';
}

/// Every answer `t` gives, doubles written exactly (hex).
std::string transcript(const title_state& t, const trending_params& p) {
  std::ostringstream out;
  out << std::hexfloat;
  if (const auto* m = t.meta())
    out << "meta '" << m->name << "' genres " << text_of(m->genres) << " age "
        << m->min_age << " year " << m->year << " regions "
        << text_of(m->regions) << " available " << m->available << '\n';
  else
    out << "no meta\n";
  out << "plays " << t.plays() << " impressions " << t.impressions()
      << " last play " << t.last_play_ts() << " last impression "
      << t.last_impression_ts() << " up " << t.thumbs_up() << " down "
      << t.thumbs_down() << '\n';
  auto t0 = t.last_play_ts();
  const auto& tr = t.trending();
  out << "global";
  write_counts(out, tr.global(), p, t0);
  for (const auto& [region, counts] : tr.regions()) {
    out << "region " << region;
    write_counts(out, counts, p, t0);
  }
  for (region_key r = 0; r < 8; ++r) {
    const auto* c = t.trending().find(r);
    out << "find " << r << ": " << (c ? std::to_string(c->plays) : "-") << '\n';
  }
  out << "find all: " << t.trending().find(all_regions)->plays << '\n';
  return out.str();
}

} // namespace

// -- users: exact round trips -------------------------------------------------

TEST_CASE("a restored user answers every query exactly as the original, and "
          "stays identical under the same further events",
          "[domain][snapshot]") {
  struct params_case {
    const char* name;
    user_params p;
  };
  const params_case params_cases[] = {
    {"defaults", make_user_params(50, 50, day, 128)},
    {"tight lists", make_user_params(4, 3, 6 * hour, 8)},
    {"one raw impression", make_user_params(10, 10, day, 1)},
    {"no raw impressions", make_user_params(10, 10, day, 0)},
    {"one window", make_user_params(20, 20, 2 * day, 32, {7 * day})},
  };
  // What the checkpointed states reach, so that the histories are known to
  // exercise every part of the state.
  std::set<std::string> reached;
  auto note = [&](const user_state& u, const user_params& p) {
    auto s = snapshot_of(u);
    if (s.recent_titles.size() == p.recent_max)
      reached.insert("full recent plays");
    if (s.progress_titles.size() == p.in_progress_max)
      reached.insert("full in progress");
    if (s.watched.size() > 1)
      reached.insert("watched");
    if (std::count(s.feedback_values.begin(), s.feedback_values.end(), -1))
      reached.insert("thumbs down");
    if (s.has_max_age && s.has_region)
      reached.insert("profile");
    if (s.has_play_region && !s.has_region)
      reached.insert("play region");
    if (s.covered_from != min_ts)
      reached.insert("raw impressions dropped");
    if (!s.raw_ts.empty() && s.raw_ts.front() < s.covered_from)
      reached.insert("raw impression kept before the coverage (a tie)");
    if (s.impression_titles.size() > 10)
      reached.insert("many impression titles");
    if (transcript(u, p).find("refused: window") != std::string::npos)
      reached.insert("on-the-fly window refused");
  };
  for (const auto& pc : params_cases) {
    for (uint32_t seed : {1u, 2u, 3u, 42u, 1234u}) {
      INFO("params " << pc.name << ", seed " << seed);
      const auto& p = pc.p;
      auto events = random_user_events(seed, 400);
      user_state whole;
      for (const auto& e : events)
        apply(whole, e, p);
      for (size_t cut : {size_t{0}, size_t{1}, size_t{17}, size_t{200},
                         size_t{399}, size_t{400}}) {
        INFO("checkpoint after " << cut << " events");
        user_state before;
        for (size_t i = 0; i < cut; ++i)
          apply(before, events[i], p);
        note(before, p);
        auto restored = round_trip(before, p);
        REQUIRE(restored);
        CHECK(transcript(*restored, p) == transcript(before, p));
        CHECK(snapshot_of(*restored) == snapshot_of(before));
        // Replay the tail on the restored state, as recovery does.
        for (size_t i = cut; i < events.size(); ++i)
          apply(*restored, events[i], p);
        CHECK(transcript(*restored, p) == transcript(whole, p));
        CHECK(snapshot_of(*restored) == snapshot_of(whole));
      }
    }
  }
  for (const auto* part :
       {"full recent plays", "full in progress", "watched", "thumbs down",
        "profile", "play region", "raw impressions dropped",
        "raw impression kept before the coverage (a tie)",
        "many impression titles", "on-the-fly window refused"}) {
    INFO(part);
    CHECK(reached.count(part) == 1);
  }
}

TEST_CASE("the user transcript tells apart states that differ by one event",
          "[domain][snapshot]") {
  // Guards the comparison above: it would pass vacuously if it saw nothing.
  auto p = make_user_params(50, 50, day, 128);
  user_state u;
  for (const auto& e : random_user_events(7, 100))
    apply(u, e, p);
  auto restored = round_trip(u, p);
  REQUIRE(restored);
  REQUIRE(transcript(*restored, p) == transcript(u, p));
  const user_event nudges[] = {
    {user_event::impression, 3, base_ts + 2 * day, 1.0, {}, 1, {}},
    {user_event::play, 3, base_ts + 2 * day, 0.5, {}, 1, {}},
    {user_event::feedback, 3, base_ts + 2 * day, 1.0, {}, -1, {}},
    {user_event::profile, 0, 0, 1.0, {}, 1, user_profile{99, 42}},
  };
  for (const auto& e : nudges) {
    INFO("event kind " << e.kind);
    auto changed = *restored;
    apply(changed, e, p);
    CHECK(transcript(changed, p) != transcript(u, p));
    CHECK(snapshot_of(changed) != snapshot_of(u));
  }
}

TEST_CASE("a fresh user restores under any impression windows",
          "[domain][snapshot]") {
  user_state fresh;
  auto s = snapshot_of(fresh);
  CHECK(s.windows == 0);
  for (const auto& p : {make_user_params(50, 50, day, 128),
                        make_user_params(50, 50, day, 128, {hour})}) {
    auto restored = restore_user(s, p);
    REQUIRE(restored);
    CHECK(transcript(*restored, p) == transcript(fresh, p));
  }
}

TEST_CASE("a user whose titles were each shown once keeps no EMAs and "
          "restores under any impression windows",
          "[domain][snapshot]") {
  auto p = make_user_params(50, 50, day, 128);
  user_state u;
  for (title_key t = 1; t <= 5; ++t)
    u.apply_impression(t, base_ts + static_cast<int64_t>(t) * hour, p);
  auto s = snapshot_of(u);
  CHECK(s.windows == 0);
  CHECK(s.impression_emas.empty());
  CHECK(s.impression_titles.size() == 5);
  // Its EMAs are those of single impressions whatever the windows: the
  // same answers as a user built under the other windows.
  for (const auto& q : {p, make_user_params(50, 50, day, 128, {hour})}) {
    auto restored = restore_user(s, q);
    REQUIRE(restored);
    user_state same;
    for (title_key t = 1; t <= 5; ++t)
      same.apply_impression(t, base_ts + static_cast<int64_t>(t) * hour, q);
    CHECK(transcript(*restored, q) == transcript(same, q));
  }
  // A second impression of one title gives that title, and it alone, EMAs.
  u.apply_impression(3, base_ts + 9 * hour, p);
  s = snapshot_of(u);
  CHECK(s.windows == p.impressions.windows_ms.size());
  CHECK(s.impression_emas.size() == p.impressions.windows_ms.size());
}

TEST_CASE("a user snapshot carries the stream sequence and the play region "
          "with its time",
          "[domain][snapshot]") {
  auto p = make_user_params(50, 50, day, 128);
  user_state u;
  u.apply_play(1, base_ts, 0.5, region_key{3}, p);
  u.apply_play(2, base_ts - hour, 0.5, region_key{4}, p); // older: ignored
  auto s = snapshot_of(u);
  CHECK(s.last_sequence == 0);
  CHECK(s.has_play_region);
  CHECK(s.play_region == 3);
  CHECK(s.play_region_ts == base_ts);
  s.last_sequence = 1234;
  auto restored = restore_user(s, p);
  REQUIRE(restored);
  CHECK(snapshot_of(*restored).last_sequence == 0);
  // The play region's time decides against an older play after restoring too.
  restored->apply_play(5, base_ts - 1, 0.5, region_key{4}, p);
  CHECK(restored->view().region == std::optional<region_key>{3});
  restored->apply_play(5, base_ts + 1, 0.5, region_key{4}, p);
  CHECK(restored->view().region == std::optional<region_key>{4});
}

// -- users: refusals ----------------------------------------------------------

namespace {

user_params refusal_params() {
  return make_user_params(4, 3, day, 4, {day, 7 * day});
}

/// A small user with two of everything.
user_snapshot_data base_user_snapshot() {
  auto p = refusal_params();
  user_state u;
  u.apply_play(1, base_ts, 1.0, region_key{2}, p);
  u.apply_play(2, base_ts + minute, 0.5, std::nullopt, p);
  u.apply_play(3, base_ts + 2 * minute, 0.3, std::nullopt, p);
  u.apply_play(4, base_ts + 3 * minute, 0.95, std::nullopt, p);
  u.apply_feedback(5, base_ts, 1);
  u.apply_feedback(1, base_ts, -1);
  u.apply_impression(7, base_ts, p);
  u.apply_impression(8, base_ts + hour, p);
  u.apply_impression(7, base_ts + 2 * hour, p);
  u.apply_profile(user_profile{12, std::nullopt});
  return snapshot_of(u);
}

template <class T>
void swap_first_two(std::vector<T>& xs) {
  std::swap(xs[0], xs[1]);
}

} // namespace

TEST_CASE("restoring refuses a user snapshot inconsistent in itself or with "
          "the params",
          "[domain][snapshot]") {
  auto p = refusal_params();
  const auto base = base_user_snapshot();
  // The cases below need two of everything; and unchanged, it restores.
  REQUIRE(base.recent_titles.size() == 4);
  REQUIRE(base.watched.size() == 2);
  REQUIRE(base.progress_titles.size() == 2);
  REQUIRE(base.feedback_titles.size() == 2);
  REQUIRE(base.impression_titles.size() == 2);
  REQUIRE(base.windows == 2);
  REQUIRE(base.impression_counts == std::vector<uint32_t>{2, 1});
  REQUIRE(base.impression_emas.size() == 2); // the first title's alone
  REQUIRE(base.raw_ts.size() == 3);
  REQUIRE(restore_user(base, p));

  using mutation = std::function<void(user_snapshot_data&)>;
  struct refusal_case {
    const char* name;
    mutation mutate;
  };
  const refusal_case cases[] = {
    {"a window count other than the configured one",
     [](auto& s) {
       s.windows = 3;
       s.impression_emas.resize(3, 1.0); // one title shown twice
     }},
    {"an EMA missing", [](auto& s) { s.impression_emas.pop_back(); }},
    {"an EMA too many", [](auto& s) { s.impression_emas.push_back(1.0); }},
    {"fewer impression counts than titles",
     [](auto& s) { s.impression_counts.pop_back(); }},
    {"fewer impression times than titles",
     [](auto& s) { s.impression_last_ts.pop_back(); }},
    {"impression titles out of order",
     [](auto& s) { swap_first_two(s.impression_titles); }},
    {"an impression title twice",
     [](auto& s) { s.impression_titles[1] = s.impression_titles[0]; }},
    {"a title shown twice counted once, with its EMAs",
     [](auto& s) { s.impression_counts[0] = 1; }},
    {"a title shown once counted twice, without EMAs",
     [](auto& s) { s.impression_counts[1] = 2; }},
    {"an impression count of zero",
     [](auto& s) { s.impression_counts[0] = 0; }},
    {"a NaN EMA", [](auto& s) { s.impression_emas[0] = not_a_number; }},
    {"an infinite EMA", [](auto& s) { s.impression_emas[1] = inf; }},
    {"an EMA below one, which no history gives",
     [](auto& s) { s.impression_emas[0] = 0.5; }},
    {"a newest time other than the newest impression's",
     [](auto& s) { s.newest_ts += 1; }},
    {"no impressions but a newest time",
     [](auto& s) {
       s.impression_titles.clear();
       s.impression_counts.clear();
       s.impression_last_ts.clear();
       s.impression_emas.clear();
       s.windows = 0;
       s.raw_ts.clear();
       s.raw_titles.clear();
     }},
    {"no impressions but raw ones",
     [](auto& s) {
       s.impression_titles.clear();
       s.impression_counts.clear();
       s.impression_last_ts.clear();
       s.impression_emas.clear();
       s.windows = 0;
       s.newest_ts = min_ts;
     }},
    {"no impressions but a coverage time",
     [](auto& s) {
       s.impression_titles.clear();
       s.impression_counts.clear();
       s.impression_last_ts.clear();
       s.impression_emas.clear();
       s.windows = 0;
       s.raw_ts.clear();
       s.raw_titles.clear();
       s.newest_ts = min_ts;
       s.covered_from = base_ts;
     }},
    {"fewer raw titles than raw times",
     [](auto& s) { s.raw_titles.pop_back(); }},
    {"raw impressions out of order",
     [](auto& s) {
       swap_first_two(s.raw_ts);
       swap_first_two(s.raw_titles);
     }},
    {"a raw impression of a title without history",
     [](auto& s) { s.raw_titles[0] = 99; }},
    {"a raw impression after the newest",
     [](auto& s) { s.raw_ts.back() = s.newest_ts + 1; }},
    {"more raw impressions than raw_max",
     [](auto& s) {
       s.raw_ts.insert(s.raw_ts.end(), 2, s.newest_ts);
       s.raw_titles.insert(s.raw_titles.end(), 2, s.impression_titles[0]);
     }},
    {"a raw impression behind the retention",
     [](auto& s) { s.raw_ts[0] = s.newest_ts - day - 1; }},
    {"a coverage time past the newest impression",
     [](auto& s) { s.covered_from = s.newest_ts + 2; }},
    {"fewer recent progresses than titles",
     [](auto& s) { s.recent_progress.pop_back(); }},
    {"fewer recent times than titles", [](auto& s) { s.recent_ts.pop_back(); }},
    {"recent plays oldest first", [](auto& s) { swap_first_two(s.recent_ts); }},
    {"more recent plays than recent_max",
     [](auto& s) {
       s.recent_titles.push_back(9);
       s.recent_ts.push_back(s.recent_ts.back() - 1);
       s.recent_progress.push_back(1.0);
     }},
    {"watched titles out of order", [](auto& s) { swap_first_two(s.watched); }},
    {"a watched title twice", [](auto& s) { s.watched[1] = s.watched[0]; }},
    {"fewer in-progress values than titles",
     [](auto& s) { s.progress_values.pop_back(); }},
    {"fewer in-progress times than titles",
     [](auto& s) { s.progress_ts.pop_back(); }},
    {"titles in progress oldest first",
     [](auto& s) { swap_first_two(s.progress_ts); }},
    {"a title in progress twice",
     [](auto& s) { s.progress_titles[1] = s.progress_titles[0]; }},
    {"a title in progress and watched",
     [](auto& s) { s.progress_titles[0] = s.watched[0]; }},
    {"a title in progress at watched progress",
     [](auto& s) { s.progress_values[0] = watched_progress; }},
    {"more titles in progress than in_progress_max",
     [](auto& s) {
       s.progress_titles.insert(s.progress_titles.end(), {10, 11});
       s.progress_ts.insert(s.progress_ts.end(), {base_ts - 2, base_ts - 3});
       s.progress_values.insert(s.progress_values.end(), {0.1, 0.1});
     }},
    {"fewer feedback values than titles",
     [](auto& s) { s.feedback_values.pop_back(); }},
    {"fewer feedback times than titles",
     [](auto& s) { s.feedback_ts.pop_back(); }},
    {"feedback titles out of order",
     [](auto& s) { swap_first_two(s.feedback_titles); }},
    {"feedback for a title twice",
     [](auto& s) { s.feedback_titles[1] = s.feedback_titles[0]; }},
    {"a negative recent play time", [](auto& s) { s.recent_ts.back() = -1; }},
    {"a negative in-progress time", [](auto& s) { s.progress_ts.back() = -1; }},
    {"a negative feedback time", [](auto& s) { s.feedback_ts[0] = -1; }},
    {"a negative play region time", [](auto& s) { s.play_region_ts = -1; }},
    {"a negative impression time, not the newest",
     [](auto& s) { s.impression_last_ts[1] = -1; }},
    {"a negative coverage time", [](auto& s) { s.covered_from = -5; }},
    {"a feedback value of 0", [](auto& s) { s.feedback_values[0] = 0; }},
    {"a feedback value of 2", [](auto& s) { s.feedback_values[1] = 2; }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto s = base;
    c.mutate(s);
    REQUIRE(s != base);
    CHECK_FALSE(restore_user(s, p));
  }
}

TEST_CASE("restoring refuses a user snapshot under other impression windows "
          "or smaller limits",
          "[domain][snapshot]") {
  const auto base = base_user_snapshot();
  REQUIRE(restore_user(base, refusal_params()));
  struct params_case {
    const char* name;
    user_params p;
    bool restores;
  };
  const params_case cases[] = {
    {"the same params", refusal_params(), true},
    {"larger limits", make_user_params(5, 4, 2 * day, 5, {day, 7 * day}), true},
    {"one window more",
     make_user_params(4, 3, day, 4, {day, 7 * day, 30 * day}), false},
    {"one window fewer", make_user_params(4, 3, day, 4, {day}), false},
    {"a smaller recent_max", make_user_params(3, 3, day, 4, {day, 7 * day}),
     false},
    {"a smaller in_progress_max",
     make_user_params(4, 1, day, 4, {day, 7 * day}), false},
    {"a smaller raw_max", make_user_params(4, 3, day, 2, {day, 7 * day}),
     false},
    {"a shorter raw retention", make_user_params(4, 3, hour, 4, {day, 7 * day}),
     false},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(restore_user(base, c.p).has_value() == c.restores);
  }
}

// -- titles: exact round trips ------------------------------------------------

TEST_CASE("a restored title answers exactly as the original, and stays "
          "identical under the same further events",
          "[domain][snapshot]") {
  struct params_case {
    const char* name;
    trending_params p;
  };
  const params_case params_cases[] = {
    {"defaults", make_trending_params()},
    {"one window", make_trending_params({30 * minute})},
  };
  std::set<std::string> reached;
  auto note = [&](const title_state& t) {
    auto s = snapshot_of(t);
    if (s.has_meta && !s.genres.empty() && !s.regions.empty())
      reached.insert("metadata");
    if (s.trending_regions.size() > 3)
      reached.insert("several regions");
    uint64_t in_regions = 0;
    for (auto n : s.trending_plays)
      in_regions += n;
    if (in_regions > 0 && in_regions < s.plays)
      reached.insert("plays with and without a region");
    if (s.thumbs_up > 0 && s.thumbs_down > 0 && s.impressions > 0)
      reached.insert("counters");
  };
  for (const auto& pc : params_cases) {
    for (uint32_t seed : {1u, 2u, 3u, 42u, 1234u}) {
      INFO("params " << pc.name << ", seed " << seed);
      const auto& p = pc.p;
      auto events = random_title_events(seed, 300);
      title_state whole;
      for (const auto& e : events)
        apply(whole, e, p);
      for (size_t cut : {size_t{0}, size_t{1}, size_t{17}, size_t{150},
                         size_t{299}, size_t{300}}) {
        INFO("checkpoint after " << cut << " events");
        title_state before;
        for (size_t i = 0; i < cut; ++i)
          apply(before, events[i], p);
        note(before);
        auto restored = restore_title(snapshot_of(before), p);
        REQUIRE(restored);
        CHECK(transcript(*restored, p) == transcript(before, p));
        CHECK(snapshot_of(*restored) == snapshot_of(before));
        for (size_t i = cut; i < events.size(); ++i)
          apply(*restored, events[i], p);
        CHECK(transcript(*restored, p) == transcript(whole, p));
        CHECK(snapshot_of(*restored) == snapshot_of(whole));
      }
    }
  }
  for (const auto* part : {"metadata", "several regions",
                           "plays with and without a region", "counters"}) {
    INFO(part);
    CHECK(reached.count(part) == 1);
  }
}

TEST_CASE("the title transcript tells apart states that differ by one event",
          "[domain][snapshot]") {
  auto p = make_trending_params();
  title_state t;
  for (const auto& e : random_title_events(7, 100))
    apply(t, e, p);
  REQUIRE(t.meta() != nullptr);
  auto restored = restore_title(snapshot_of(t), p);
  REQUIRE(restored);
  REQUIRE(transcript(*restored, p) == transcript(t, p));
  title_event catalog{title_event::catalog, 0, all_regions, 1, *t.meta()};
  catalog.meta.year += 1;
  const title_event nudges[] = {
    catalog,
    {title_event::play, base_ts - day, all_regions, 1, {}},
    {title_event::play, base_ts - day, 3, 1, {}},
    {title_event::impression, base_ts - day, all_regions, 1, {}},
    {title_event::feedback, 0, all_regions, -1, {}},
  };
  for (const auto& e : nudges) {
    INFO("event kind " << e.kind);
    auto changed = *restored;
    apply(changed, e, p);
    CHECK(transcript(changed, p) != transcript(t, p));
    CHECK(snapshot_of(changed) != snapshot_of(t));
  }
}

TEST_CASE("a title never played restores under any trending windows, and "
          "metadata without has_meta is ignored",
          "[domain][snapshot]") {
  title_state t;
  t.apply_impression(base_ts);
  t.apply_feedback(1);
  auto s = snapshot_of(t);
  CHECK(s.windows == 0);
  CHECK_FALSE(s.has_meta);
  s.genres = {3, 1, 1}; // unsorted, but not metadata without has_meta
  for (const auto& p :
       {make_trending_params(), make_trending_params({30 * minute})}) {
    auto restored = restore_title(s, p);
    REQUIRE(restored);
    CHECK(restored->meta() == nullptr);
    CHECK(transcript(*restored, p) == transcript(t, p));
  }
}

// -- titles: refusals ---------------------------------------------------------

namespace {

/// A title with metadata, plays in two regions and in none, and counters.
title_snapshot_data base_title_snapshot() {
  auto p = make_trending_params();
  title_state t;
  t.apply_catalog(title_meta{"Heat", {1, 3}, 16, 1995, {0, 2}, true});
  t.apply_play(base_ts, 0, p);
  t.apply_play(base_ts + hour, 2, p);
  t.apply_play(base_ts + 2 * hour, all_regions, p);
  t.apply_play(base_ts + 3 * hour, 0, p);
  t.apply_impression(base_ts);
  t.apply_impression(base_ts + minute);
  t.apply_feedback(1);
  t.apply_feedback(-1);
  return snapshot_of(t);
}

} // namespace

TEST_CASE("restoring refuses a title snapshot inconsistent in itself or with "
          "the params",
          "[domain][snapshot]") {
  auto p = make_trending_params();
  const auto base = base_title_snapshot();
  REQUIRE(base.has_meta);
  REQUIRE(base.plays == 4);
  REQUIRE(base.trending_regions == std::vector<region_key>{0, 2});
  REQUIRE(base.trending_plays == std::vector<uint64_t>{2, 1});
  REQUIRE(base.windows == 3);
  REQUIRE(base.decayed_values.size() == 9);
  REQUIRE(restore_title(base, p));

  using mutation = std::function<void(title_snapshot_data&)>;
  struct refusal_case {
    const char* name;
    mutation mutate;
  };
  const refusal_case cases[] = {
    {"a window count other than the configured one",
     [](auto& s) {
       s.windows = 2;
       s.decayed_values.resize(3 * 2);
       s.decayed_refs.resize(3 * 2);
     }},
    {"a decayed value missing", [](auto& s) { s.decayed_values.pop_back(); }},
    {"a decayed reference missing", [](auto& s) { s.decayed_refs.pop_back(); }},
    {"a decayed sum too many",
     [](auto& s) {
       s.decayed_values.push_back(1.0);
       s.decayed_refs.push_back(base_ts);
     }},
    {"genres out of order", [](auto& s) { swap_first_two(s.genres); }},
    {"a genre twice", [](auto& s) { s.genres[1] = s.genres[0]; }},
    {"catalog regions out of order",
     [](auto& s) { swap_first_two(s.regions); }},
    {"a catalog region twice", [](auto& s) { s.regions[1] = s.regions[0]; }},
    {"trending regions out of order",
     [](auto& s) { swap_first_two(s.trending_regions); }},
    {"a trending region twice",
     [](auto& s) { s.trending_regions[1] = s.trending_regions[0]; }},
    {"a trending region that is all regions",
     [](auto& s) { s.trending_regions[1] = all_regions; }},
    {"fewer region plays than regions",
     [](auto& s) { s.trending_plays.pop_back(); }},
    {"a region without plays", [](auto& s) { s.trending_plays[1] = 0; }},
    {"more plays in regions than in all",
     [](auto& s) { s.trending_plays[0] = 4; }},
    {"no plays but trending rows",
     [](auto& s) {
       s.plays = 0;
       s.trending_regions.clear();
       s.trending_plays.clear();
       s.windows = 0;
     }},
    {"no plays but a window count",
     [](auto& s) {
       s.plays = 0;
       s.trending_regions.clear();
       s.trending_plays.clear();
       s.decayed_values.clear();
       s.decayed_refs.clear();
     }},
    {"a NaN decayed value",
     [](auto& s) { s.decayed_values[4] = not_a_number; }},
    {"an infinite decayed value", [](auto& s) { s.decayed_values[0] = inf; }},
    {"a decayed value below one, which no history gives",
     [](auto& s) { s.decayed_values[8] = 0.5; }},
    {"a negative last play time", [](auto& s) { s.last_play_ts = -1; }},
    {"a negative last impression time",
     [](auto& s) { s.last_impression_ts = -1; }},
    {"a negative decayed reference", [](auto& s) { s.decayed_refs[3] = -1; }},
    {"an empty decayed sum in a played row",
     [](auto& s) { s.decayed_refs[5] = min_ts; }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto s = base;
    c.mutate(s);
    REQUIRE(s != base);
    CHECK_FALSE(restore_title(s, p));
  }
  // The same snapshot under other trending windows.
  CHECK_FALSE(restore_title(base, make_trending_params({hour, day})));
  CHECK_FALSE(
    restore_title(base, make_trending_params({hour, day, 7 * day, 30 * day})));
}

// -- never crash --------------------------------------------------------------

TEST_CASE("restoring random damage to a snapshot never crashes, and what "
          "restores answers queries",
          "[domain][snapshot]") {
  auto up = make_user_params(6, 4, day, 8, {day, 7 * day});
  auto tp = make_trending_params();
  user_state u;
  for (const auto& e : random_user_events(5, 300))
    apply(u, e, up);
  title_state t;
  for (const auto& e : random_title_events(5, 300))
    apply(t, e, tp);
  const auto user_base = snapshot_of(u);
  const auto title_base = snapshot_of(t);
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  // Damage: resize a vector, or overwrite one element with an extreme value.
  auto damage_keys = [&](std::vector<uint32_t>& xs) {
    if (pick(0, 1) == 0 || xs.empty())
      xs.resize(static_cast<size_t>(pick(0, 20)), 7);
    else
      xs[static_cast<size_t>(pick(0, static_cast<int>(xs.size()) - 1))] =
        pick(0, 1) ? std::numeric_limits<uint32_t>::max() : 0;
  };
  auto damage_times = [&](std::vector<int64_t>& xs) {
    if (pick(0, 1) == 0 || xs.empty())
      xs.resize(static_cast<size_t>(pick(0, 20)), min_ts);
    else
      xs[static_cast<size_t>(pick(0, static_cast<int>(xs.size()) - 1))] =
        pick(0, 1) ? min_ts : std::numeric_limits<int64_t>::max();
  };
  auto damage_values = [&](std::vector<double>& xs) {
    if (pick(0, 1) == 0 || xs.empty())
      xs.resize(static_cast<size_t>(pick(0, 40)), 1.0);
    else
      xs[static_cast<size_t>(pick(0, static_cast<int>(xs.size()) - 1))] =
        pick(0, 1) ? not_a_number : -inf;
  };
  int user_restored = 0;
  int title_restored = 0;
  for (int round = 0; round < 2000; ++round) {
    auto s = user_base;
    for (int k = pick(1, 3); k > 0; --k) {
      switch (pick(0, 11)) {
      case 0:
        damage_keys(s.recent_titles);
        break;
      case 1:
        damage_times(s.recent_ts);
        break;
      case 2:
        damage_keys(s.watched);
        break;
      case 3:
        damage_keys(s.progress_titles);
        break;
      case 4:
        damage_values(s.progress_values);
        break;
      case 5:
        damage_keys(s.feedback_titles);
        break;
      case 6:
        damage_keys(s.impression_titles);
        break;
      case 7:
        damage_times(s.impression_last_ts);
        break;
      case 8:
        damage_values(s.impression_emas);
        break;
      case 9:
        damage_times(s.raw_ts);
        break;
      case 10:
        damage_keys(s.raw_titles);
        break;
      default:
        s.windows = static_cast<uint16_t>(pick(0, 4));
        s.newest_ts = pick(0, 1) ? min_ts : user_base.newest_ts + pick(-1, 1);
      }
    }
    if (auto restored = restore_user(s, up)) {
      ++user_restored;
      auto text = transcript(*restored, up);
      for (const auto& e : random_user_events(static_cast<uint32_t>(round), 5))
        apply(*restored, e, up);
      CHECK_FALSE(text.empty());
    }
    auto ts = title_base;
    for (int k = pick(1, 3); k > 0; --k) {
      switch (pick(0, 5)) {
      case 0:
        damage_keys(ts.genres);
        break;
      case 1:
        damage_keys(ts.trending_regions);
        break;
      case 2:
        damage_values(ts.decayed_values);
        break;
      case 3:
        damage_times(ts.decayed_refs);
        break;
      case 4:
        ts.trending_plays.resize(static_cast<size_t>(pick(0, 8)), 1);
        break;
      default:
        ts.windows = static_cast<uint16_t>(pick(0, 4));
        ts.plays = static_cast<uint64_t>(pick(0, 400));
      }
    }
    if (auto restored = restore_title(ts, tp)) {
      ++title_restored;
      auto text = transcript(*restored, tp);
      restored->apply_play(base_ts, 3, tp);
      CHECK_FALSE(text.empty());
    }
  }
  // Most damage is caught; the rest was harmless enough to pass the checks.
  CHECK(user_restored < 2000);
  CHECK(title_restored < 2000);
}

// -- remapping keys -----------------------------------------------------------

namespace {

/// Reverses the order of keys below 1000: sorted lists must be re-sorted.
std::optional<uint32_t> mirror(uint32_t k) {
  return k < 1000 ? std::optional<uint32_t>{999 - k} : std::nullopt;
}

} // namespace

TEST_CASE("a user snapshot with its keys remapped restores and evolves like "
          "the original under the new keys",
          "[domain][snapshot]") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    auto p = make_user_params(8, 5, 6 * hour, 16);
    auto events = random_user_events(seed, 300);
    user_state original;
    for (size_t i = 0; i < 150; ++i)
      apply(original, events[i], p);
    auto moved = remap_keys(snapshot_of(original), mirror, mirror);
    REQUIRE(moved);
    auto restored = restore_user(*moved, p);
    REQUIRE(restored);
    // Mapped back, it is the original, bit for bit.
    CHECK(remap_keys(snapshot_of(*restored), mirror, mirror) ==
          snapshot_of(original));
    // The same further events, under the new keys, keep it so.
    for (size_t i = 150; i < events.size(); ++i) {
      apply(original, events[i], p);
      auto e = events[i];
      e.title = *mirror(e.title);
      if (e.region)
        e.region = *mirror(*e.region);
      if (e.prof.region)
        e.prof.region = *mirror(*e.prof.region);
      apply(*restored, e, p);
    }
    CHECK(remap_keys(snapshot_of(*restored), mirror, mirror) ==
          snapshot_of(original));
  }
}

TEST_CASE("remapping refuses keys without an image or sharing one",
          "[domain][snapshot]") {
  auto s = base_user_snapshot();
  auto identity = [](uint32_t k) { return std::optional<uint32_t>{k}; };
  REQUIRE(remap_keys(s, identity, identity) == s);
  auto no_title_7 = [](uint32_t k) {
    return k == 7 ? std::nullopt : std::optional<uint32_t>{k};
  };
  CHECK_FALSE(remap_keys(s, no_title_7, identity));
  auto merge_7_into_8 = [](uint32_t k) {
    return std::optional<uint32_t>{k == 7 ? 8 : k};
  };
  CHECK_FALSE(remap_keys(s, merge_7_into_8, identity));
  auto no_region_2 = [](uint32_t k) {
    return k == 2 ? std::nullopt : std::optional<uint32_t>{k};
  };
  CHECK_FALSE(remap_keys(s, identity, no_region_2));

  auto t = base_title_snapshot();
  REQUIRE(remap_keys(t, identity, identity) == t);
  CHECK_FALSE(remap_keys(t, no_region_2, identity));
  auto merge_regions = [](uint32_t k) {
    return std::optional<uint32_t>{k == 2 ? 0 : k};
  };
  CHECK_FALSE(remap_keys(t, merge_regions, identity));
  auto no_genre_3 = [](uint32_t k) {
    return k == 3 ? std::nullopt : std::optional<uint32_t>{k};
  };
  CHECK_FALSE(remap_keys(t, identity, no_genre_3));
}

TEST_CASE("a title snapshot with its keys remapped restores and evolves like "
          "the original under the new keys",
          "[domain][snapshot]") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    auto p = make_trending_params();
    auto events = random_title_events(seed, 300);
    title_state original;
    for (size_t i = 0; i < 150; ++i)
      apply(original, events[i], p);
    auto moved = remap_keys(snapshot_of(original), mirror, mirror);
    REQUIRE(moved);
    REQUIRE(moved->trending_regions.size() >= 2);
    auto restored = restore_title(*moved, p);
    REQUIRE(restored);
    CHECK(remap_keys(snapshot_of(*restored), mirror, mirror) ==
          snapshot_of(original));
    auto mirror_all = [](std::vector<uint32_t> xs) {
      for (auto& x : xs)
        x = *mirror(x);
      std::sort(xs.begin(), xs.end());
      return xs;
    };
    for (size_t i = 150; i < events.size(); ++i) {
      apply(original, events[i], p);
      auto e = events[i];
      if (e.region != all_regions)
        e.region = *mirror(e.region);
      e.meta.genres = mirror_all(e.meta.genres);
      e.meta.regions = mirror_all(e.meta.regions);
      apply(*restored, e, p);
    }
    CHECK(remap_keys(snapshot_of(*restored), mirror, mirror) ==
          snapshot_of(original));
  }
}
