#include "ingest/pipeline.hpp"
#include "tests/actor/service_fixture.hpp"

#include <catch2/catch.hpp>

using namespace marquee;
using namespace marquee::test;

namespace {

constexpr user_key alice = 1;
constexpr user_key bob = 2;
constexpr title_key metropolis = 5;

} // namespace

TEST_CASE_METHOD(service_fixture,
                 "the pipeline holds members' events until a flush, and a "
                 "catalog or profile event sends them first, so that actors "
                 "see publish order",
                 "[actor][ingest]") {
  ingest_pipeline pipe{ingest_deps{params, dir, {}, nullptr, nullptr}, 100};
  pipe.add(play_event{alice, metropolis, base_ts, 0.3, all_regions}, 0);
  pipe.add(impression_event{bob, metropolis, base_ts + 1, 1}, 0);
  CHECK(pipe.pending() == 2);
  run();
  CHECK(ask<user_dump>(dir->user(alice), dump_atom_v, base_ts).events == 0);
  auto meta = meta_of({1});
  meta.name = "Metropolis";
  pipe.add(catalog_event{metropolis, meta}, 0);
  CHECK(pipe.pending() == 0);
  run();
  CHECK(ask<user_dump>(dir->user(alice), dump_atom_v, base_ts).events == 1);
  auto t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
  CHECK(t.plays == 1);
  CHECK(t.impressions == 1);
  CHECK(t.meta.name == "Metropolis");
  SECTION("a profile event flushes too") {
    pipe.add(play_event{bob, metropolis, base_ts + 2, 1.0, all_regions}, 0);
    pipe.add(profile_event{bob, {16, std::nullopt}}, 0);
    CHECK(pipe.pending() == 0);
    run();
    auto u = ask<user_dump>(dir->user(bob), dump_atom_v, base_ts + 2);
    CHECK(u.events == 3);
    CHECK(u.profile.max_age == 16);
  }
  SECTION("a full batch leaves without a flush") {
    ingest_pipeline small{ingest_deps{params, dir, {}, nullptr, nullptr}, 2};
    small.add(impression_event{bob, metropolis, base_ts + 2, 2}, 0);
    CHECK(small.pending() == 1);
    small.add(impression_event{bob, metropolis, base_ts + 3, 3}, 0);
    CHECK(small.pending() == 0);
    run();
    CHECK(ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts)
            .impressions == 3);
  }
}

TEST_CASE_METHOD(service_fixture,
                 "in durable mode a round covers its events, and the applied "
                 "sequence reaches its last one once the actors applied them",
                 "[actor][ingest][sequence]") {
  auto applied = std::make_shared<applied_tracker>(10);
  ingest_pipeline pipe{ingest_deps{params, dir, {}, applied, nullptr}, 100};
  pipe.open_round();
  pipe.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 11);
  pipe.add(catalog_event{metropolis, meta_of({})}, 12);
  pipe.add(impression_event{alice, metropolis, base_ts + 1, 0}, 13);
  pipe.close_round(13);
  CHECK(pipe.pending() == 0);
  CHECK(applied->applied() == 10); // sent, not yet applied
  run();
  CHECK(applied->applied() == 13);
  auto u = ask<user_dump>(dir->user(alice), dump_atom_v, base_ts + 1);
  CHECK(u.applied_through == 13);
  auto t = ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts);
  CHECK(t.applied_through == 13);
  SECTION("a replay of the round applies nothing twice") {
    pipe.open_round();
    pipe.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 11);
    pipe.add(impression_event{alice, metropolis, base_ts + 1, 0}, 13);
    pipe.close_round(13);
    run();
    CHECK(ask<title_dump>(dir->title(metropolis), dump_atom_v, base_ts).plays ==
          1);
    CHECK(ask<user_dump>(dir->user(alice), dump_atom_v, base_ts + 1).events ==
          2);
  }
}
