// Actors activated from state stored in LMDB: the directory restores a user
// or title with data instead of taking it for a stranger, and the actor
// skips what its stored state already covers.

#include "actors/directory.hpp"
#include "actors/router.hpp"
#include "actors/trending_actor.hpp"
#include "persistence/lmdb_state_source.hpp"
#include "persistence/state_codec.hpp"
#include "persistence/value_codec.hpp"
#include "tests/actor/fixture.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace marquee;
using namespace marquee::test;

namespace {

struct restore_fixture : fixture {
  marquee::testing::temp_dir dir{"marquee-restore"};
  std::shared_ptr<lmdb_store> store;
  std::shared_ptr<id_tables> ids = std::make_shared<id_tables>();
  std::shared_ptr<lmdb_state_source> source;
  std::shared_ptr<trending_cell> trending_state;
  std::shared_ptr<directory> actors;

  restore_fixture() {
    std::error_code ec;
    std::string detail;
    store = lmdb_store::open({dir.str()}, ec, detail);
    REQUIRE(store);
    // What an earlier process stored, with its own interning.
    id_tables earlier;
    user_state u;
    auto t1 = *earlier.titles.intern("t1");
    auto t2 = *earlier.titles.intern("t2");
    u.apply_play(t1, base_ts, 1.0, std::nullopt, params->user);
    u.apply_play(t2, base_ts + 1, 0.3, std::nullopt, params->user);
    auto us = snapshot_of(u);
    us.last_sequence = 5;
    title_state t;
    title_meta meta;
    meta.name = "One";
    t.apply_catalog(meta);
    t.apply_play(base_ts, all_regions, params->trending);
    auto ts = snapshot_of(t);
    ts.last_sequence = 5;
    REQUIRE_FALSE(store->write_checkpoint(
      {{user_store_key("u42"), encode_user_value(us, earlier)},
       {title_store_key("t1"), encode_title_value(ts, earlier)},
       {user_store_key("broken"), frame_value(value_kind::user, 1, "junk")}},
      5));
    source = std::make_shared<lmdb_state_source>(store, ids);
    trending_state = std::make_shared<trending_cell>(params);
    actors = std::make_shared<directory>(sys, params, trending_state, source);
  }

  ~restore_fixture() { actors->clear(); }
};

} // namespace

TEST_CASE_METHOD(restore_fixture,
                 "a user with stored state is restored when asked for, and "
                 "skips events its state already covers",
                 "[actor][restore]") {
  auto u42 = *ids->users.intern("u42");
  auto found = actors->find_user(u42);
  REQUIRE(found.has_value());
  CHECK(actors->restored() == 1);
  auto d = ask<user_dump>(*found, dump_atom_v, base_ts);
  CHECK(d.applied_through == 5);
  REQUIRE(d.recent.size() == 2);
  CHECK(ids->titles.name(d.recent[0].title) == "t2");
  CHECK(ids->titles.name(d.watched.at(0)) == "t1");
  event_batcher batcher{actors, 10};
  auto t3 = *ids->titles.intern("t3");
  batcher.add(play_event{u42, t3, base_ts + 2, 1.0, all_regions}, 5);
  batcher.add(play_event{u42, t3, base_ts + 3, 1.0, all_regions}, 6);
  batcher.flush();
  run();
  d = ask<user_dump>(actors->user(u42), dump_atom_v, base_ts);
  CHECK(d.recent.size() == 3);
  CHECK(d.applied_through == 6);
  SECTION("a user without stored state is not found, and starts empty") {
    auto stranger = *ids->users.intern("nobody");
    CHECK_FALSE(actors->find_user(stranger).has_value());
    auto fresh = ask<user_dump>(actors->user(stranger), dump_atom_v, base_ts);
    CHECK(fresh.events == 0);
  }
  SECTION("an unreadable stored value is counted, never decoded") {
    auto broken = *ids->users.intern("broken");
    CHECK_FALSE(actors->find_user(broken).has_value());
    CHECK(source->unreadable() == 1);
    CHECK(actors->unreadable() == 1);
  }
}

TEST_CASE_METHOD(
  restore_fixture,
  "a restored title writes its counts into the trending cell and "
  "metadata",
  "[actor][restore]") {
  auto t1 = *ids->titles.intern("t1");
  auto found = actors->find_title(t1);
  REQUIRE(found.has_value());
  run();
  auto d = ask<title_dump>(*found, dump_atom_v, base_ts);
  CHECK(d.plays == 1);
  CHECK(d.meta.name == "One");
  CHECK(d.applied_through == 5);
  auto res = read([&] {
    return trending_state->trending(
      trending_query{5, 1, all_regions, {}, base_ts});
  });
  REQUIRE(res.items.size() == 1);
  CHECK(res.items[0].title == t1);
  CHECK(res.items[0].plays == 1);
}
