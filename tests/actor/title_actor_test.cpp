#include "actors/title_actor.hpp"
#include "actors/trending_actor.hpp"

#include "tests/actor/fixture.hpp"

#include <caf/send.hpp>

#include <catch2/catch.hpp>

using namespace marquee;
using namespace marquee::test;

namespace {

constexpr region_key region_de = 10;
constexpr region_key region_fr = 11;

play_event play(title_key title, int64_t ts, region_key region = all_regions,
                user_key user = 1) {
  return play_event{user, title, ts, 1.0, region};
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "a play makes the title actor write the global counts into "
                 "the trending cell, and the region's counts when it has one",
                 "[actor][title]") {
  auto cell = std::make_shared<trending_cell>(params);
  auto title = spawn_title_actor(sys, 5, params, cell);
  auto listed = [&](region_key region, uint32_t window, int64_t at) {
    return read([&] {
      return cell->trending(trending_query{10, window, region, {}, at});
    });
  };
  const uint32_t day = 1; // window index of 1d
  caf::anon_send(title, play(5, base_ts));
  run();
  CHECK(cell->update_count() == 1);
  auto global = listed(all_regions, day, base_ts);
  REQUIRE(titles_of(global.items) == std::vector<title_key>{5});
  CHECK(global.items[0].plays == 1);
  CHECK(listed(region_de, day, base_ts).items.empty());
  auto at = base_ts + ms_per_hour;
  caf::anon_send(title, play(5, at, region_de));
  run();
  CHECK(cell->update_count() == 3);
  // One decayed count per configured window (1h, 1d, 7d), each the literal
  // EMA of the plays.
  const auto& windows = params->trending.windows_ms;
  for (uint32_t w = 0; w < windows.size(); ++w) {
    INFO("window " << format_window(windows[w]));
    global = listed(all_regions, w, at);
    REQUIRE(titles_of(global.items) == std::vector<title_key>{5});
    CHECK(global.items[0].plays == 2);
    CHECK(global.items[0].score ==
          Approx(literal_ema({base_ts, at}, at, windows[w])));
    auto regional = listed(region_de, w, at);
    REQUIRE(titles_of(regional.items) == std::vector<title_key>{5});
    CHECK(regional.items[0].plays == 1);
    CHECK(regional.items[0].score == Approx(1.0));
  }
  SECTION("impressions and catalog entries write nothing there") {
    caf::anon_send(title, impression_event{1, 5, base_ts, 0});
    caf::anon_send(title, catalog_event{5, meta_of({1})});
    run();
    CHECK(cell->update_count() == 3);
    // The directory writes catalog entries into the cell, not the actor.
    CHECK_FALSE(cell->meta_of(5).has_value());
  }
}

TEST_CASE_METHOD(fixture,
                 "after plays reach title actors, a trending query lists the "
                 "titles with their play counts and decayed scores",
                 "[actor][title][trending]") {
  auto trending_state = std::make_shared<trending_cell>(params);
  auto five = spawn_title_actor(sys, 5, params, trending_state);
  auto six = spawn_title_actor(sys, 6, params, trending_state);
  std::vector<int64_t> plays_5{base_ts, base_ts + 2 * ms_per_hour,
                               base_ts + 3 * ms_per_hour};
  std::vector<int64_t> plays_6{base_ts + ms_per_hour,
                               base_ts + 4 * ms_per_hour};
  caf::anon_send(five, play(5, plays_5[0], region_de));
  caf::anon_send(five, play(5, plays_5[1], region_fr));
  caf::anon_send(five, play(5, plays_5[2]));
  caf::anon_send(six, play(6, plays_6[0], region_de));
  caf::anon_send(six, play(6, plays_6[1], region_de));
  run();
  auto at = base_ts + 6 * ms_per_hour;
  const uint32_t day = 1; // window index of 1d
  auto res = read([&] {
    return trending_state->trending(
      trending_query{10, day, all_regions, {}, at});
  });
  CHECK(res.at == at);
  REQUIRE(titles_of(res.items) == std::vector<title_key>{5, 6});
  CHECK(res.items[0].plays == 3);
  CHECK(res.items[0].score == Approx(literal_ema(plays_5, at, ms_per_day)));
  CHECK(res.items[1].plays == 2);
  CHECK(res.items[1].score == Approx(literal_ema(plays_6, at, ms_per_day)));
  SECTION("a short window puts the most recent plays first") {
    const uint32_t hour = 0;
    res = read([&] {
      return trending_state->trending(
        trending_query{10, hour, all_regions, {}, at});
    });
    REQUIRE(titles_of(res.items) == std::vector<title_key>{6, 5});
    CHECK(res.items[0].score == Approx(literal_ema(plays_6, at, ms_per_hour)));
  }
  SECTION("a regional list counts only the plays in that region") {
    res = read([&] {
      return trending_state->trending(
        trending_query{10, day, region_de, {}, at});
    });
    REQUIRE(titles_of(res.items) == std::vector<title_key>{6, 5});
    CHECK(res.items[0].plays == 2);
    CHECK(res.items[1].plays == 1);
    CHECK(res.items[1].score ==
          Approx(literal_ema({plays_5[0]}, at, ms_per_day)));
    res = read([&] {
      return trending_state->trending(
        trending_query{10, day, region_fr, {}, at});
    });
    REQUIRE(titles_of(res.items) == std::vector<title_key>{5});
    CHECK(res.items[0].plays == 1);
  }
  SECTION("k bounds the list") {
    res = read([&] {
      return trending_state->trending(
        trending_query{1, day, all_regions, {}, at});
    });
    CHECK(titles_of(res.items) == std::vector<title_key>{5});
  }
}

TEST_CASE_METHOD(fixture,
                 "the title dump shows the catalog entry, the counters and "
                 "the decayed scores per region, all regions first",
                 "[actor][title]") {
  auto cell = std::make_shared<trending_cell>(params);
  auto title = spawn_title_actor(sys, 5, params, cell);
  auto d = ask<title_dump>(title, dump_atom_v, base_ts);
  CHECK_FALSE(d.has_meta);
  CHECK(d.plays == 0);
  auto meta = meta_of({2, 3}, {region_de}, 12);
  meta.name = "Metropolis";
  meta.year = 1927;
  caf::anon_send(title, catalog_event{5, meta});
  caf::anon_send(title, play(5, base_ts, region_fr));
  caf::anon_send(title, play(5, base_ts + ms_per_hour));
  caf::anon_send(title, impression_event{1, 5, base_ts + 2 * ms_per_hour, 0});
  run();
  auto at = base_ts + 3 * ms_per_hour;
  d = ask<title_dump>(title, dump_atom_v, at);
  CHECK(d.has_meta);
  CHECK(d.meta.name == "Metropolis");
  CHECK(d.meta.year == 1927);
  CHECK(d.meta.genres == std::vector<genre_key>{2, 3});
  CHECK(d.meta.regions == std::vector<region_key>{region_de});
  CHECK(d.meta.min_age == 12);
  CHECK(d.plays == 2);
  CHECK(d.impressions == 1);
  CHECK(d.last_play_ts == base_ts + ms_per_hour);
  CHECK(d.last_impression_ts == base_ts + 2 * ms_per_hour);
  CHECK(d.at == at);
  REQUIRE(d.trending.size() == 2);
  CHECK(d.trending[0].region == all_regions);
  CHECK(d.trending[0].plays == 2);
  CHECK(d.trending[1].region == region_fr);
  CHECK(d.trending[1].plays == 1);
  const auto& windows = params->trending.windows_ms;
  REQUIRE(d.trending[0].scores.size() == windows.size());
  for (size_t w = 0; w < windows.size(); ++w) {
    INFO("window " << format_window(windows[w]));
    CHECK(
      d.trending[0].scores[w] ==
      Approx(literal_ema({base_ts, base_ts + ms_per_hour}, at, windows[w])));
    CHECK(d.trending[1].scores[w] ==
          Approx(literal_ema({base_ts}, at, windows[w])));
  }
  SECTION("a dump asked for before the latest play is scored at it") {
    d = ask<title_dump>(title, dump_atom_v, base_ts);
    CHECK(d.at == base_ts + ms_per_hour);
    CHECK(d.trending[0].scores[0] == Approx(1.5)); // 1h: 0.5 + 1
  }
  SECTION("a newer catalog entry replaces the old one") {
    caf::anon_send(title, catalog_event{5, meta_of({7}, {}, 0, false)});
    run();
    d = ask<title_dump>(title, dump_atom_v, at);
    CHECK(d.meta.genres == std::vector<genre_key>{7});
    CHECK(d.meta.regions.empty());
    CHECK_FALSE(d.meta.available);
  }
}

TEST_CASE_METHOD(fixture,
                 "a batch of plays makes one trending update per list it "
                 "touched, with every play counted",
                 "[actor][title][batch]") {
  auto cell = std::make_shared<trending_cell>(params);
  auto title = spawn_title_actor(sys, 5, params, cell);
  event_batch batch;
  batch.events = {play(5, base_ts, region_de),
                  play(5, base_ts + 1, region_fr),
                  play(5, base_ts + 2, region_de),
                  play(5, base_ts + 3),
                  impression_event{1, 5, base_ts + 4, 0},
                  feedback_event{2, 5, base_ts + 5, -1}};
  caf::anon_send(title, std::move(batch));
  run();
  // One update per list, not one per play.
  CHECK(cell->update_count() == 3);
  auto plays_in = [&](region_key region) {
    auto res = read([&] {
      return cell->trending(trending_query{10, 1, region, {}, base_ts + 3});
    });
    return res.items.size() == 1 ? res.items[0].plays : 0;
  };
  CHECK(plays_in(all_regions) == 4);
  CHECK(plays_in(region_de) == 2);
  CHECK(plays_in(region_fr) == 1);
  auto d = ask<title_dump>(title, dump_atom_v, base_ts);
  CHECK(d.plays == 4);
  CHECK(d.impressions == 1);
  CHECK(d.thumbs_down == 1);
  SECTION("a batch without plays sends no update") {
    event_batch quiet;
    quiet.events = {impression_event{1, 5, base_ts + 6, 1}};
    caf::anon_send(title, std::move(quiet));
    run();
    CHECK(cell->update_count() == 3);
  }
}
