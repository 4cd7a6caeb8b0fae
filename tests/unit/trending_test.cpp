#include "domain/title_state.hpp"
#include "domain/trending.hpp"
#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

using namespace marquee;

namespace {

constexpr int64_t base_ts = 1'700'000'000'000;
constexpr int64_t hour = ms_per_hour;
constexpr int64_t day = ms_per_day;

struct play {
  title_key title;
  int64_t ts;
  region_key region; // all_regions: unknown
};

double rel_err(double got, double want) {
  return std::abs(got - want) /
         std::max(std::abs(want), std::numeric_limits<double>::min());
}

/// Every play, kept: the brute-force model.
struct model {
  std::vector<play> plays;

  static bool in(const play& p, region_key region) {
    return region == all_regions || p.region == region;
  }

  double score(title_key t, region_key region, int64_t at, double alpha,
               int64_t window_ms) const {
    double sum = 0;
    for (const auto& p : plays)
      if (p.title == t && in(p, region))
        sum += std::pow(alpha, static_cast<double>(at - p.ts) /
                                 static_cast<double>(window_ms));
    return sum;
  }

  uint64_t count(title_key t, region_key region) const {
    return static_cast<uint64_t>(
      std::count_if(plays.begin(), plays.end(), [&](const play& p) {
        return p.title == t && in(p, region);
      }));
  }

  /// Titles played in `region`, highest score at `at` first.
  std::vector<trending_entry> ranking(region_key region, int64_t at,
                                      double alpha, int64_t window_ms) const {
    std::map<title_key, trending_entry> by_title;
    for (const auto& p : plays)
      if (in(p, region)) {
        auto& e = by_title[p.title];
        e.title = p.title;
        e.plays += 1;
        e.score += std::pow(alpha, static_cast<double>(at - p.ts) /
                                     static_cast<double>(window_ms));
      }
    std::vector<trending_entry> out;
    for (const auto& [t, e] : by_title)
      out.push_back(e);
    std::sort(out.begin(), out.end(),
              [](const auto& x, const auto& y) { return x.score > y.score; });
    return out;
  }
};

const region_key regions[] = {1, 2, 5, all_regions};

/// Random plays over `titles` titles, skewed towards low keys, over `span`
/// milliseconds, in random time order.
std::vector<play> random_plays(std::mt19937_64& rng, size_t n, uint32_t titles,
                               int64_t span) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<int64_t> offset(0, span);
  std::uniform_int_distribution<size_t> region(0, 3);
  std::vector<play> out(n);
  for (auto& p : out)
    p = play{static_cast<title_key>(u(rng) * u(rng) * titles),
             base_ts + offset(rng), regions[region(rng)]};
  return out;
}

/// Applies plays the way the title actor and the trending cell do.
struct world {
  explicit world(trending_params params) : p(std::move(params)), board(&p) {}

  void apply(const play& pl) {
    auto& t = titles[pl.title];
    t.add_play(pl.ts, pl.region, p);
    board.update(pl.title, all_regions, t.global());
    if (pl.region != all_regions)
      board.update(pl.title, pl.region, *t.find(pl.region));
    m.plays.push_back(pl);
    newest = std::max(newest, pl.ts);
  }

  /// Checks the list of window `w` in `region` against the brute force.
  void check_list(size_t w, region_key region, int64_t at) const {
    INFO("window " << format_window(p.windows_ms[w]) << ", region " << region
                   << ", at " << at);
    const auto* list = board.list(w, region);
    REQUIRE(list != nullptr);
    CHECK(list->size() <= p.capacity);
    auto brute = m.ranking(region, at, p.alpha, p.windows_ms[w]);
    auto keep_all = [](title_key) { return true; };
    for (size_t k :
         {size_t{1}, size_t{10}, size_t{p.capacity}, size_t{p.capacity} + 7}) {
      INFO("k " << k);
      auto got = list->top(k, at, p.rates[w], keep_all);
      auto want = std::min({k, size_t{p.capacity}, brute.size()});
      REQUIRE(got.size() == want);
      for (size_t i = 0; i < want; ++i) {
        INFO("rank " << i);
        CHECK(got[i].title == brute[i].title);
        CHECK(rel_err(got[i].score, brute[i].score) <= 1e-9);
        CHECK(got[i].plays == brute[i].plays);
      }
    }
  }

  trending_params p;
  trending_board board;
  std::map<title_key, title_trending> titles;
  model m;
  int64_t newest = std::numeric_limits<int64_t>::min();
};

} // namespace

TEST_CASE("trending params sort the windows and find them by length",
          "[domain][trending]") {
  auto p = trending_params::make(0.5, {7 * day, hour, day, hour}, 12);
  CHECK(p.windows_ms == std::vector<int64_t>{hour, day, 7 * day});
  REQUIRE(p.rates.size() == 3);
  CHECK(p.rates[0].factor(hour) == Approx(0.5));
  CHECK(p.capacity == 12);
  CHECK(p.window_index(day) == 1);
  CHECK(p.window_index(2 * day) == -1);
}

TEST_CASE("the decayed play counts of a title equal the brute-force count per "
          "window and region",
          "[domain][trending]") {
  for (double alpha : {0.3, 0.5, 0.9}) {
    INFO("alpha " << alpha);
    std::mt19937_64 rng{17};
    auto p = trending_params::make(alpha, {hour, day, 7 * day}, 100);
    auto plays = random_plays(rng, 500, 1, 10 * day);
    title_trending t;
    model m;
    for (const auto& pl : plays) {
      t.add_play(pl.ts, pl.region, p);
      m.plays.push_back(pl);
    }
    int64_t newest = 0;
    for (const auto& pl : plays)
      newest = std::max(newest, pl.ts);

    CHECK(t.global().plays == plays.size());
    CHECK(t.find(all_regions) == &t.global());
    CHECK(t.find(3) == nullptr);
    std::vector<region_key> seen;
    for (const auto& [r, counts] : t.regions())
      seen.push_back(r);
    CHECK(seen == std::vector<region_key>{1, 2, 5});

    for (auto region : regions) {
      INFO("region " << region);
      const auto* counts = t.find(region);
      REQUIRE(counts != nullptr);
      CHECK(counts->plays == m.count(0, region));
      REQUIRE(counts->decayed.size() == p.windows_ms.size());
      for (size_t w = 0; w < p.windows_ms.size(); ++w)
        for (auto later : {int64_t{0}, hour / 2, 2 * day}) {
          auto at = newest + later;
          INFO("window " << format_window(p.windows_ms[w]) << ", at " << at);
          CHECK(rel_err(counts->decayed[w].value_at(at, p.rates[w]),
                        m.score(0, region, at, alpha, p.windows_ms[w])) <=
                1e-9);
        }
    }
  }
}

TEST_CASE("play counts size their sums to the configured windows",
          "[domain][trending]") {
  auto p = trending_params::make(0.5, {hour, day}, 10);
  play_counts c;
  c.add(base_ts, p);
  c.add(base_ts - hour, p);
  CHECK(c.plays == 2);
  REQUIRE(c.decayed.size() == 2);
  CHECK(c.decayed[0].value_at(base_ts, p.rates[0]) == Approx(1.5));
  CHECK(c.decayed[1].value_at(base_ts + day, p.rates[1]) ==
        Approx(0.5 * (1 + std::pow(0.5, 1.0 / 24))));
}

TEST_CASE("a trending list keeps exactly the brute-force top titles up to its "
          "capacity",
          "[domain][trending]") {
  std::mt19937_64 rng{23};
  world wd{trending_params::make(0.5, {hour, day, 7 * day}, 25)};
  auto plays = random_plays(rng, 4000, 300, 3 * day);
  for (size_t i = 0; i < plays.size(); ++i) {
    wd.apply(plays[i]);
    if (i % 1000 == 999)
      for (size_t w = 0; w < wd.p.windows_ms.size(); ++w)
        wd.check_list(w, all_regions, wd.newest);
  }
  for (size_t w = 0; w < wd.p.windows_ms.size(); ++w)
    for (auto region : regions)
      for (auto later : {int64_t{0}, 3 * hour, 2 * day})
        wd.check_list(w, region, wd.newest + later);
  CHECK(wd.board.list(0, all_regions)->size() == 25);
}

TEST_CASE("a trending list is exact when recent plays overtake old favourites",
          "[domain][trending]") {
  // Phase one makes titles 0..49 popular; phase two, a day later, plays
  // titles 50..99 less often. The short window must switch to the new ones.
  std::mt19937_64 rng{29};
  world wd{trending_params::make(0.5, {hour, 7 * day}, 10)};
  std::uniform_int_distribution<title_key> old_title(0, 49);
  std::uniform_int_distribution<title_key> new_title(50, 99);
  std::uniform_int_distribution<int64_t> offset(0, 6 * hour);
  for (int i = 0; i < 1500; ++i)
    wd.apply(play{old_title(rng), base_ts + offset(rng), all_regions});
  for (int i = 0; i < 400; ++i)
    wd.apply(play{new_title(rng), base_ts + day + offset(rng), all_regions});
  for (size_t w = 0; w < 2; ++w)
    wd.check_list(w, all_regions, wd.newest);
  auto short_top =
    wd.board.list(0, all_regions)
      ->top(10, wd.newest, wd.p.rates[0], [](title_key) { return true; });
  REQUIRE(short_top.size() == 10);
  for (const auto& e : short_top)
    CHECK(e.title >= 50);
  auto long_top =
    wd.board.list(1, all_regions)
      ->top(10, wd.newest, wd.p.rates[1], [](title_key) { return true; });
  REQUIRE(long_top.size() == 10);
  for (const auto& e : long_top)
    CHECK(e.title < 50);
}

TEST_CASE("top skips titles the predicate rejects and still returns the best "
          "k of the rest",
          "[domain][trending]") {
  std::mt19937_64 rng{31};
  // Capacity above the number of titles: the list holds every title.
  world wd{trending_params::make(0.5, {hour, day}, 100)};
  for (const auto& pl : random_plays(rng, 1500, 60, 2 * day))
    wd.apply(pl);
  auto at = wd.newest + hour;
  auto keep = [](title_key t) { return t % 3 == 0; };
  for (size_t w = 0; w < 2; ++w) {
    auto brute = wd.m.ranking(all_regions, at, 0.5, wd.p.windows_ms[w]);
    std::vector<trending_entry> kept;
    for (const auto& e : brute)
      if (keep(e.title))
        kept.push_back(e);
    REQUIRE(kept.size() > 8);
    for (size_t k : {size_t{1}, size_t{8}, kept.size() + 3}) {
      INFO("window " << w << ", k " << k);
      auto got = wd.board.list(w, all_regions)->top(k, at, wd.p.rates[w], keep);
      REQUIRE(got.size() == std::min(k, kept.size()));
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].title == kept[i].title);
        CHECK(rel_err(got[i].score, kept[i].score) <= 1e-9);
      }
    }
    auto none =
      wd.board.list(w, all_regions)->top(5, at, wd.p.rates[w], [](title_key) {
        return false;
      });
    CHECK(none.empty());
  }
}

TEST_CASE("top with a predicate on a full list returns the best kept titles "
          "among those it holds",
          "[domain][trending]") {
  std::mt19937_64 rng{37};
  world wd{trending_params::make(0.5, {hour}, 15)};
  for (const auto& pl : random_plays(rng, 2000, 200, 2 * day))
    wd.apply(pl);
  auto at = wd.newest;
  auto brute = wd.m.ranking(all_regions, at, 0.5, hour);
  REQUIRE(brute.size() > 15);
  auto keep = [](title_key t) { return t % 2 == 1; };
  std::vector<title_key> want;
  for (size_t i = 0; i < 15; ++i)
    if (keep(brute[i].title))
      want.push_back(brute[i].title);
  auto got = wd.board.list(0, all_regions)->top(100, at, wd.p.rates[0], keep);
  std::vector<title_key> got_titles;
  for (const auto& e : got)
    got_titles.push_back(e.title);
  CHECK(got_titles == want);
}

TEST_CASE("the trending board keeps one list per window and region, and one "
          "over all regions",
          "[domain][trending]") {
  auto p = trending_params::make(0.5, {hour, 7 * day}, 10);
  trending_board board{&p};
  std::map<title_key, title_trending> titles;
  auto apply = [&](title_key t, int64_t ts, region_key r) {
    titles[t].add_play(ts, r, p);
    board.update(t, all_regions, titles[t].global());
    if (r != all_regions)
      board.update(t, r, *titles[t].find(r));
  };
  // Title 1: ten plays in region 7 five days ago. Title 2: one play in
  // region 8 now. Title 3: one play of unknown region two days ago.
  for (int i = 0; i < 10; ++i)
    apply(1, base_ts - 5 * day + i, 7);
  apply(2, base_ts, 8);
  apply(3, base_ts - 2 * day, all_regions);

  CHECK(board.list_count() == 2 * 3);
  CHECK(board.list(0, 9) == nullptr);
  CHECK(board.list(2, all_regions) == nullptr);

  auto titles_of = [&](size_t w, region_key r) {
    std::vector<title_key> out;
    for (const auto& e : board.list(w, r)->top(10, base_ts, p.rates[w],
                                               [](title_key) { return true; }))
      out.push_back(e.title);
    return out;
  };
  // The hour favours the fresh play, the week the many old ones.
  CHECK(titles_of(0, all_regions) == std::vector<title_key>{2, 3, 1});
  CHECK(titles_of(1, all_regions) == std::vector<title_key>{1, 2, 3});
  CHECK(titles_of(0, 7) == std::vector<title_key>{1});
  CHECK(titles_of(1, 8) == std::vector<title_key>{2});

  auto week =
    board.list(1, all_regions)->top(1, base_ts, p.rates[1], [](title_key) {
      return true;
    });
  REQUIRE(week.size() == 1);
  CHECK(week[0].plays == 10);
  double want = 0;
  for (int i = 0; i < 10; ++i)
    want += std::pow(0.5, static_cast<double>(5 * day - i) / (7.0 * day));
  CHECK(rel_err(week[0].score, want) <= 1e-9);
}

TEST_CASE("a trending list of capacity zero stays empty",
          "[domain][trending]") {
  auto p = trending_params::make(0.5, {hour}, 0);
  trending_board board{&p};
  play_counts c;
  c.add(base_ts, p);
  board.update(1, all_regions, c);
  const auto* list = board.list(0, all_regions);
  REQUIRE(list != nullptr);
  CHECK(list->size() == 0);
  CHECK(
    list->top(5, base_ts, p.rates[0], [](title_key) { return true; }).empty());
}

TEST_CASE("a title's state counts plays and impressions and keeps the newest "
          "times",
          "[domain][trending]") {
  auto p = trending_params::make(0.5, {hour, day}, 10);
  title_state t;
  CHECK(t.meta() == nullptr);
  t.apply_play(base_ts, 4, p);
  t.apply_play(base_ts - hour, all_regions, p);
  t.apply_impression(base_ts + 5);
  t.apply_impression(base_ts - 5);
  t.apply_impression(base_ts + 1);
  CHECK(t.plays() == 2);
  CHECK(t.last_play_ts() == base_ts);
  CHECK(t.impressions() == 3);
  CHECK(t.last_impression_ts() == base_ts + 5);
  REQUIRE(t.trending().find(4) != nullptr);
  CHECK(t.trending().find(4)->plays == 1);
  CHECK(t.trending().global().decayed[0].value_at(base_ts, p.rates[0]) ==
        Approx(1.5));
  title_meta meta;
  meta.name = "Toy Story";
  t.apply_catalog(meta);
  REQUIRE(t.meta() != nullptr);
  CHECK(t.meta()->name == "Toy Story");
}
