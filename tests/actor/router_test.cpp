#include "tests/actor/service_fixture.hpp"

#include <catch2/catch.hpp>

using namespace marquee;
using namespace marquee::test;

namespace {

constexpr user_key alice = 1;
constexpr title_key metropolis = 5;
constexpr region_key region_de = 10;

} // namespace

TEST_CASE_METHOD(service_fixture,
                 "a routed play reaches both the user's and the title's "
                 "actor, activated by the directory",
                 "[actor][router]") {
  CHECK(dir->user_count() == 0);
  CHECK(dir->title_count() == 0);
  router.route(play_event{alice, metropolis, base_ts, 0.4, region_de});
  run();
  REQUIRE(dir->find_user(alice));
  REQUIRE(dir->find_title(metropolis));
  CHECK(dir->user_count() == 1);
  CHECK(dir->title_count() == 1);
  auto u = ask<user_dump>(*dir->find_user(alice), dump_atom_v, base_ts);
  REQUIRE(u.recent.size() == 1);
  CHECK(u.recent[0].title == metropolis);
  CHECK(u.recent[0].progress == Approx(0.4));
  CHECK(titles_of(u.in_progress) == std::vector<title_key>{metropolis});
  CHECK(u.events == 1);
  auto t = ask<title_dump>(*dir->find_title(metropolis), dump_atom_v, base_ts);
  CHECK(t.plays == 1);
  CHECK(t.last_play_ts == base_ts);
  REQUIRE(t.trending.size() == 2);
  CHECK(t.trending[1].region == region_de);
  SECTION("a second play goes to the same actors") {
    router.route(play_event{alice, metropolis, base_ts + 1000, 1.0, region_de});
    run();
    CHECK(dir->user_count() == 1);
    CHECK(dir->title_count() == 1);
    u = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts);
    CHECK(u.watched == std::vector<title_key>{metropolis});
    CHECK(u.in_progress.empty());
    t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
    CHECK(t.plays == 2);
  }
  SECTION("the play reaches the trending cell through the title actor") {
    auto res = read([&] {
      return trending_state->trending(
        trending_query{10, 0, region_de, {}, base_ts});
    });
    REQUIRE(titles_of(res.items) == std::vector<title_key>{metropolis});
    CHECK(res.items[0].plays == 1);
  }
}

TEST_CASE_METHOD(service_fixture,
                 "routed impressions, feedback, profiles and catalog entries "
                 "reach every actor they concern",
                 "[actor][router]") {
  user_profile profile;
  profile.max_age = 16;
  router.route(impression_event{alice, metropolis, base_ts, 3});
  router.route(feedback_event{alice, metropolis, base_ts + 1, -1});
  router.route(profile_event{alice, profile});
  router.route(catalog_event{metropolis, meta_of({1})});
  run();
  auto u = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts + 1);
  CHECK(u.impressed_titles == 1);
  CHECK(u.newest_impression == base_ts);
  REQUIRE(u.feedback.size() == 1);
  CHECK(u.feedback[0].value == -1);
  CHECK(u.profile.max_age == 16);
  CHECK(u.events == 3);
  auto t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
  CHECK(t.impressions == 1);
  CHECK(t.has_meta);
  CHECK(t.plays == 0);
  // The trending cell got the catalog entry: the title passes a filter.
  CHECK(
    read([&] {
      return trending_state->filter(filter_query{user_view{}, {metropolis}});
    }) == std::vector<title_key>{metropolis});
}

TEST_CASE_METHOD(service_fixture,
                 "the batcher sends each actor one batch per flush, events in "
                 "publish order",
                 "[actor][router][batch]") {
  constexpr user_key bob = 2;
  constexpr title_key nosferatu = 6;
  event_batcher batcher{dir, 100};
  CHECK_FALSE(
    batcher.add(play_event{alice, metropolis, base_ts, 0.3, all_regions}));
  CHECK_FALSE(batcher.add(impression_event{bob, nosferatu, base_ts, 1}));
  CHECK_FALSE(
    batcher.add(play_event{alice, metropolis, base_ts + 10, 0.95, region_de}));
  CHECK_FALSE(batcher.add(feedback_event{alice, nosferatu, base_ts + 20, -1}));
  CHECK(batcher.size() == 4);
  run();
  // Nothing is sent before the flush.
  auto before = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts);
  CHECK(before.events == 0);
  batcher.flush();
  CHECK(batcher.size() == 0);
  run();
  auto u = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts + 20);
  CHECK(u.events == 3);
  // The later full play wins over the earlier partial one: order kept.
  CHECK(u.watched == std::vector<title_key>{metropolis});
  CHECK(u.in_progress.empty());
  REQUIRE(u.feedback.size() == 1);
  CHECK(u.feedback[0].value == -1);
  auto t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
  CHECK(t.plays == 2);
  auto n = ask<title_dump>(dir->title(nosferatu), dump_atom_v, base_ts);
  CHECK(n.impressions == 1);
  CHECK(n.thumbs_down == 1);
  SECTION("a full batch asks to be flushed") {
    event_batcher small{dir, 2};
    CHECK_FALSE(small.add(impression_event{bob, metropolis, base_ts, 1}));
    CHECK(small.add(impression_event{bob, metropolis, base_ts, 2}));
    small.flush();
  }
}

TEST_CASE_METHOD(service_fixture,
                 "events at or below the last applied stream sequence are "
                 "skipped, so a replay applies nothing twice",
                 "[actor][router][sequence]") {
  event_batcher batcher{dir, 100};
  batcher.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 1);
  batcher.add(impression_event{alice, metropolis, base_ts + 1, 0}, 2);
  batcher.flush();
  run();
  // The same two events again (a replay), then a new one.
  batcher.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 1);
  batcher.add(impression_event{alice, metropolis, base_ts + 1, 0}, 2);
  batcher.add(feedback_event{alice, metropolis, base_ts + 2, 1}, 3);
  batcher.flush();
  run();
  auto u = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts + 2);
  CHECK(u.events == 3);
  CHECK(u.applied_through == 3);
  REQUIRE(u.recent.size() == 1);
  auto t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
  CHECK(t.plays == 1);
  CHECK(t.impressions == 1);
  CHECK(t.thumbs_up == 1);
  CHECK(t.applied_through == 3);
  SECTION("events without sequences (core mode) are always applied") {
    batcher.add(play_event{alice, metropolis, base_ts + 5, 1.0, all_regions});
    batcher.flush();
    run();
    auto again = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
    CHECK(again.plays == 2);
  }
}

TEST_CASE_METHOD(service_fixture,
                 "profile and catalog events at or below the last applied "
                 "stream sequence are skipped too",
                 "[actor][router][sequence]") {
  event_router router{dir};
  event_batcher batcher{dir, 100};
  batcher.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 1);
  batcher.flush();
  router.route(profile_event{alice, {16, region_de}, 2});
  auto meta = meta_of({});
  meta.name = "Metropolis";
  router.route(catalog_event{metropolis, meta, 3});
  run();
  // A replay from sequence 1: the profile and the catalog entry again,
  // then a newer profile.
  router.route(profile_event{alice, {16, region_de}, 2});
  router.route(catalog_event{metropolis, meta_of({}), 3});
  router.route(profile_event{alice, {18, std::nullopt}, 4});
  run();
  auto u = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts);
  CHECK(u.events == 3); // the play and two profiles, each once
  CHECK(u.applied_through == 4);
  CHECK(u.profile.max_age == 18);
  auto t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
  CHECK(t.meta.name == "Metropolis"); // the replayed entry was skipped
  CHECK(t.applied_through == 3);
}
