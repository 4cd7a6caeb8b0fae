#include "domain/user_state.hpp"
#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

using namespace marquee;

namespace {

constexpr int64_t base_ts = 1'700'000'000'000;

user_params params(uint32_t recent_max = 50, uint32_t in_progress_max = 50) {
  user_params p;
  p.recent_max = recent_max;
  p.in_progress_max = in_progress_max;
  p.impressions =
    impression_params::make(0.5, {ms_per_day, 7 * ms_per_day}, ms_per_day, 128);
  return p;
}

std::vector<title_key> titles_of(const std::vector<play_record>& xs) {
  std::vector<title_key> out;
  for (const auto& x : xs)
    out.push_back(x.title);
  return out;
}

std::vector<int64_t> times_of(const std::vector<play_record>& xs) {
  std::vector<int64_t> out;
  for (const auto& x : xs)
    out.push_back(x.ts);
  return out;
}

} // namespace

TEST_CASE("a play with progress of at least 0.9 is watched, less is in "
          "progress",
          "[domain][user]") {
  struct progress_case {
    double progress;
    bool watched;
  };
  const progress_case cases[] = {
    {0.0, false}, {0.3, false}, {0.8999, false},
    {0.9, true},  {0.95, true}, {1.0, true},
  };
  auto p = params();
  for (const auto& c : cases) {
    INFO("progress " << c.progress);
    user_state u;
    u.apply_play(7, base_ts, c.progress, std::nullopt, p);
    CHECK((u.watched() == std::vector<title_key>{7}) == c.watched);
    CHECK((titles_of(u.in_progress()) == std::vector<title_key>{7}) ==
          !c.watched);
    CHECK(u.recent_plays().size() == 1);
  }
}

TEST_CASE("a title finished after a partial play leaves the in-progress list",
          "[domain][user]") {
  auto p = params();
  user_state u;
  u.apply_play(3, base_ts, 0.4, std::nullopt, p);
  u.apply_play(4, base_ts + 1, 0.2, std::nullopt, p);
  REQUIRE(titles_of(u.in_progress()) == std::vector<title_key>{4, 3});
  u.apply_play(3, base_ts + 2, 0.95, std::nullopt, p);
  CHECK(u.watched() == std::vector<title_key>{3});
  CHECK(titles_of(u.in_progress()) == std::vector<title_key>{4});
}

TEST_CASE("titles in progress are listed newest first", "[domain][user]") {
  auto p = params();
  user_state u;
  u.apply_play(1, base_ts + 100, 0.5, std::nullopt, p);
  u.apply_play(2, base_ts + 300, 0.5, std::nullopt, p);
  u.apply_play(3, base_ts + 200, 0.5, std::nullopt, p);
  CHECK(titles_of(u.in_progress()) == std::vector<title_key>{2, 3, 1});
  // A newer partial play moves the title to the front with its progress.
  u.apply_play(1, base_ts + 400, 0.7, std::nullopt, p);
  CHECK(titles_of(u.in_progress()) == std::vector<title_key>{1, 2, 3});
  CHECK(u.in_progress()[0].progress == 0.7);
  CHECK(u.in_progress()[0].ts == base_ts + 400);
}

TEST_CASE("a partial play of a watched title does not put it back in progress",
          "[domain][user]") {
  auto p = params();
  user_state u;
  u.apply_play(5, base_ts, 1.0, std::nullopt, p);
  u.apply_play(5, base_ts + 1000, 0.1, std::nullopt, p);
  CHECK(u.in_progress().empty());
  CHECK(u.watched() == std::vector<title_key>{5});
  CHECK(u.recent_plays().size() == 2);
}

TEST_CASE("an older partial play does not override a newer one",
          "[domain][user]") {
  auto p = params();
  user_state u;
  u.apply_play(6, base_ts + 300, 0.5, std::nullopt, p);
  u.apply_play(8, base_ts + 200, 0.5, std::nullopt, p);
  u.apply_play(6, base_ts + 100, 0.2, std::nullopt, p);
  REQUIRE(titles_of(u.in_progress()) == std::vector<title_key>{6, 8});
  CHECK(u.in_progress()[0].ts == base_ts + 300);
  CHECK(u.in_progress()[0].progress == 0.5);
}

TEST_CASE("a finished play arriving late still marks the title watched",
          "[domain][user]") {
  auto p = params();
  user_state u;
  u.apply_play(6, base_ts + 300, 0.5, std::nullopt, p);
  u.apply_play(6, base_ts + 100, 1.0, std::nullopt, p);
  CHECK(u.watched() == std::vector<title_key>{6});
  CHECK(u.in_progress().empty());
}

TEST_CASE("the in-progress list keeps the newest titles up to its bound",
          "[domain][user]") {
  auto p = params(50, 3);
  user_state u;
  for (title_key t = 0; t < 6; ++t)
    u.apply_play(t, base_ts + (t * 37) % 11, 0.5, std::nullopt, p);
  // Times: 0:0, 1:4, 2:8, 3:1, 4:5, 5:9.
  CHECK(titles_of(u.in_progress()) == std::vector<title_key>{5, 2, 4});
}

TEST_CASE("recent plays are the newest, newest first, at most recent_max",
          "[domain][user]") {
  std::mt19937_64 rng{5};
  for (uint32_t max : {1u, 3u, 10u, 50u}) {
    auto p = params(max);
    user_state u;
    std::vector<int64_t> times;
    // Distinct times in random order.
    for (int64_t i = 0; i < 40; ++i)
      times.push_back(base_ts + 1000 * i);
    std::shuffle(times.begin(), times.end(), rng);
    std::vector<int64_t> applied;
    for (auto ts : times) {
      u.apply_play(static_cast<title_key>(ts % 997), ts, 1.0, std::nullopt, p);
      applied.push_back(ts);
      auto want = applied;
      std::sort(want.rbegin(), want.rend());
      if (want.size() > max)
        want.resize(max);
      INFO("recent_max " << max << ", after " << applied.size() << " plays");
      REQUIRE(times_of(u.recent_plays()) == want);
    }
    for (const auto& r : u.recent_plays())
      CHECK(r.title == static_cast<title_key>(r.ts % 997));
  }
}

TEST_CASE("the newest feedback by time wins per title", "[domain][user]") {
  user_state u;
  u.apply_feedback(4, base_ts + 200, 1);
  u.apply_feedback(4, base_ts + 100, -1); // older: ignored
  u.apply_feedback(9, base_ts + 100, -1);
  u.apply_feedback(2, base_ts + 100, -1);
  u.apply_feedback(2, base_ts + 300, 1); // newer: wins
  REQUIRE(u.feedback().size() == 3);
  CHECK(u.feedback()[0].title == 2);
  CHECK(u.feedback()[0].value == 1);
  CHECK(u.feedback()[0].ts == base_ts + 300);
  CHECK(u.feedback()[1].title == 4);
  CHECK(u.feedback()[1].value == 1);
  CHECK(u.feedback()[1].ts == base_ts + 200);
  CHECK(u.feedback()[2].title == 9);
  CHECK(u.feedback()[2].value == -1);
  CHECK(u.view().thumbed_down == std::vector<title_key>{9});

  u.apply_feedback(4, base_ts + 500, -1);
  CHECK(u.view().thumbed_down == std::vector<title_key>{4, 9});
  CHECK(u.events_applied() == 6);
}

TEST_CASE("the view takes the profile's region, else the newest play's",
          "[domain][user]") {
  auto p = params();
  user_state u;
  CHECK_FALSE(u.view().region.has_value());

  u.apply_play(1, base_ts + 100, 1.0, region_key{3}, p);
  CHECK(u.view().region == std::optional<region_key>{3});
  // A newer play elsewhere moves the user; an older one does not.
  u.apply_play(2, base_ts + 200, 1.0, region_key{4}, p);
  CHECK(u.view().region == std::optional<region_key>{4});
  u.apply_play(3, base_ts + 150, 1.0, region_key{5}, p);
  CHECK(u.view().region == std::optional<region_key>{4});
  // A newer play of unknown region keeps the last known region.
  u.apply_play(4, base_ts + 300, 1.0, std::nullopt, p);
  CHECK(u.view().region == std::optional<region_key>{4});

  user_profile profile;
  profile.region = 9;
  profile.max_age = 12;
  u.apply_profile(profile);
  auto v = u.view();
  CHECK(v.region == std::optional<region_key>{9});
  CHECK(v.max_age == std::optional<int32_t>{12});
  u.apply_play(5, base_ts + 400, 1.0, region_key{6}, p);
  CHECK(u.view().region == std::optional<region_key>{9});

  // A profile without a region falls back to the plays again.
  u.apply_profile(user_profile{});
  CHECK(u.view().region == std::optional<region_key>{6});
  CHECK_FALSE(u.view().max_age.has_value());
}

TEST_CASE("the view lists watched and thumbed-down titles sorted",
          "[domain][user]") {
  auto p = params();
  user_state u;
  for (title_key t : {30u, 10u, 20u, 10u})
    u.apply_play(t, base_ts + t, 1.0, std::nullopt, p);
  u.apply_play(15, base_ts, 0.5, std::nullopt, p);
  u.apply_feedback(25, base_ts, -1);
  u.apply_feedback(5, base_ts, -1);
  u.apply_feedback(12, base_ts, 1);
  auto v = u.view();
  CHECK(v.watched == std::vector<title_key>{10, 20, 30});
  CHECK(v.thumbed_down == std::vector<title_key>{5, 25});
  CHECK(v.exclude.empty());
  CHECK(v.genres.empty());
}

TEST_CASE("impressions go to the user's impression history", "[domain][user]") {
  auto p = params();
  user_state u;
  u.apply_impression(3, base_ts, p);
  u.apply_impression(3, base_ts + ms_per_day, p);
  u.apply_impression(4, base_ts, p);
  CHECK(u.impressions().title_count() == 2);
  CHECK(u.impressions().newest_ts() == base_ts + ms_per_day);
  auto top = u.impressions().top(1, base_ts + ms_per_day, p.impressions);
  REQUIRE(top.size() == 1);
  CHECK(top[0].title == 3);
  CHECK(top[0].ema[0] == Approx(1.5));
  CHECK(u.events_applied() == 3);
}

TEST_CASE("impression fatigue is the EMA of titles shown and never played",
          "[domain][user]") {
  auto p = params();
  user_state s;
  // Title 1 shown three times, 2 once, 3 twice but then played.
  std::vector<std::pair<title_key, int64_t>> shown = {
    {1, base_ts},
    {1, base_ts + ms_per_day},
    {2, base_ts + 2 * ms_per_day},
    {1, base_ts + 3 * ms_per_day},
    {3, base_ts},
    {3, base_ts + 1}};
  std::sort(shown.begin(), shown.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [t, ts] : shown)
    s.apply_impression(t, ts, p);
  s.apply_play(3, base_ts + 4 * ms_per_day, 0.5, std::nullopt, p);
  auto at = base_ts + 5 * ms_per_day;
  // The literal sum: 0.5 ^ ((at - ts) / 7d) over the title's impressions.
  auto literal = [&](title_key t) {
    double sum = 0;
    for (const auto& [title, ts] : shown)
      if (title == t)
        sum += std::pow(0.5, static_cast<double>(at - ts) /
                               static_cast<double>(7 * ms_per_day));
    return sum;
  };
  auto f = s.fatigue(at, 1, 10, p); // window 1: 7d
  REQUIRE(f.size() == 2);           // title 3 was played
  CHECK(f[0].first == 1);
  CHECK(f[0].second == Approx(literal(1)));
  CHECK(f[1].first == 2);
  CHECK(f[1].second == Approx(literal(2)));
  // Only the most shown, by the first window.
  auto top = s.fatigue(at, 1, 1, p);
  REQUIRE(top.size() == 1);
  CHECK(top[0].first == 1);
  CHECK(s.fatigue(at, 5, 10, p).empty()); // no such window
}
