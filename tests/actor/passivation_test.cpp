// Passivation: the directory drops the users that are idle or beyond a live
// budget, never the pinned ones; a dropped user still handles what was sent
// to it before, then leaves memory, and the next lookup activates it again
// from its stored state.

#include "actors/directory.hpp"
#include "actors/trending_actor.hpp"
#include "tests/actor/fixture.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

using namespace marquee;
using namespace marquee::test;

namespace {

/// Stored state held in memory: what a checkpoint would have written.
class memory_source : public state_source {
public:
  void store(user_key user, user_snapshot_data s) {
    std::lock_guard<std::mutex> guard{mu_};
    users_[user] = std::move(s);
  }

  std::optional<user_snapshot_data> load_user(user_key user) override {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = users_.find(user);
    if (i == users_.end())
      return std::nullopt;
    return i->second;
  }

  std::optional<title_snapshot_data> load_title(title_key) override {
    return std::nullopt;
  }

  bool has_user(std::string_view) override { return false; }

  bool has_title(std::string_view) override { return false; }

  uint64_t unreadable() const override { return 0; }

private:
  std::mutex mu_;
  std::map<user_key, user_snapshot_data> users_;
};

/// Waits until `directory::clock_ms()` reads later than `t` and returns
/// that reading: a lookup after it gets a stamp later than `t`.
int64_t clock_after(int64_t t) {
  auto now = directory::clock_ms();
  while (now <= t) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
    now = directory::clock_ms();
  }
  return now;
}

/// No user is pinned.
bool none(user_key) {
  return false;
}

/// A time at which every user looked up so far is idle.
constexpr int64_t far_future = std::numeric_limits<int64_t>::max() / 2;

/// Whether the actor behind `addr` is still in memory.
bool alive(const caf::actor_addr& addr) {
  return caf::actor_cast<caf::strong_actor_ptr>(addr) != nullptr;
}

event_batch plays(user_key user, std::vector<title_key> titles,
                  uint64_t first_sequence) {
  event_batch batch;
  auto seq = first_sequence;
  for (auto title : titles) {
    batch.events.emplace_back(play_event{
      user, title, base_ts + static_cast<int64_t>(seq), 1.0, all_regions});
    batch.sequences.push_back(seq++);
  }
  return batch;
}

struct passivation_fixture : fixture {
  std::shared_ptr<memory_source> source = std::make_shared<memory_source>();
  std::shared_ptr<trending_cell> trending_state =
    std::make_shared<trending_cell>(params);
  std::shared_ptr<directory> dir =
    std::make_shared<directory>(sys, params, trending_state, source);

  ~passivation_fixture() { dir->clear(); }

  /// Looks `users` up in this order, each with a later clock reading than
  /// the one before, so that least recently used is unambiguous. Returns a
  /// reading taken after the last lookup.
  int64_t look_up_in_order(const std::vector<user_key>& users) {
    auto t = directory::clock_ms();
    for (auto user : users) {
      clock_after(t);
      dir->user(user);
      t = directory::clock_ms();
    }
    return t;
  }

  /// Whether `user` is live. Only for users without stored state (the
  /// lookup would activate those), and only once the order no longer
  /// matters (the lookup makes a live user the most recently used).
  bool live(user_key user) { return dir->find_user(user).has_value(); }

  std::vector<user_key> live_of(const std::vector<user_key>& users) {
    std::vector<user_key> out;
    for (auto user : users)
      if (live(user))
        out.push_back(user);
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(passivation_fixture,
                 "idle users are dropped and pinned ones kept, and the counts "
                 "say so",
                 "[actor][passivation]") {
  constexpr int64_t idle_ms = 60'000;
  auto before = directory::clock_ms();
  dir->user(1);
  dir->user(2);
  dir->user(3);
  auto after = directory::clock_ms();
  CHECK(dir->user_count() == 3);
  CHECK(dir->passivated() == 0);
  // Not yet idle: every lookup was at or after `before`.
  CHECK(dir->passivate_users(none, {idle_ms, 0}, before + idle_ms - 1) == 0);
  CHECK(dir->user_count() == 3);
  CHECK(dir->passivated() == 0);
  // Idle, but 2 is pinned.
  auto pinned = [](user_key user) { return user == 2; };
  CHECK(dir->passivate_users(pinned, {idle_ms, 0}, after + idle_ms) == 2);
  CHECK(dir->user_count() == 1);
  CHECK(dir->passivated() == 2);
  CHECK(live_of({1, 2, 3}) == std::vector<user_key>{2});
  // Unpinned, 2 goes too; `passivated` counts over every call.
  CHECK(dir->passivate_users(none, {idle_ms, 0}, far_future) == 1);
  CHECK(dir->user_count() == 0);
  CHECK(dir->passivated() == 3);
  CHECK(live_of({1, 2, 3}).empty());
}

TEST_CASE_METHOD(passivation_fixture,
                 "a lookup by user or by find_user keeps a user in use; only "
                 "those not looked up for the idle time go",
                 "[actor][passivation]") {
  constexpr int64_t idle_ms = 1'000;
  dir->user(1);
  dir->user(2);
  auto first = directory::clock_ms();
  auto later = clock_after(first);
  REQUIRE(dir->find_user(1).has_value());
  dir->user(3);
  // At `later + idle_ms - 1`, 2 was last used at or before `first`, more
  // than `idle_ms` ago; 1 and 3 were used at or after `later`.
  CHECK(dir->passivate_users(none, {idle_ms, 0}, later + idle_ms - 1) == 1);
  CHECK(dir->user_count() == 2);
  CHECK(dir->passivated() == 1);
  CHECK(live_of({1, 2, 3}) == std::vector<user_key>{1, 3});
}

TEST_CASE_METHOD(passivation_fixture,
                 "beyond the live budget exactly the least recently used "
                 "unpinned users go",
                 "[actor][passivation]") {
  auto now = look_up_in_order({1, 2, 3, 4, 5});
  REQUIRE(dir->user_count() == 5);
  SECTION("the oldest, as many as are over the budget") {
    CHECK(dir->passivate_users(none, {0, 3}, now) == 2);
    CHECK(dir->user_count() == 3);
    CHECK(dir->passivated() == 2);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<user_key>{3, 4, 5});
  }
  SECTION("a pinned user is passed over, the next oldest goes instead") {
    auto pinned = [](user_key user) { return user == 1; };
    CHECK(dir->passivate_users(pinned, {0, 3}, now) == 2);
    CHECK(dir->user_count() == 3);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<user_key>{1, 4, 5});
  }
  SECTION("a user looked up again becomes the most recently used") {
    clock_after(now);
    dir->user(1);
    now = directory::clock_ms();
    CHECK(dir->passivate_users(none, {0, 3}, now) == 2);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<user_key>{1, 4, 5});
  }
  SECTION("within the budget nobody goes; zeros drop nobody") {
    CHECK(dir->passivate_users(none, {0, 5}, now) == 0);
    CHECK(dir->passivate_users(none, {0, 0}, far_future) == 0);
    CHECK(dir->user_count() == 5);
    CHECK(dir->passivated() == 0);
  }
  SECTION("pinned users stay even when that leaves more than the budget") {
    auto pinned = [](user_key user) { return user != 5; };
    CHECK(dir->passivate_users(pinned, {0, 1}, now) == 1);
    CHECK(dir->user_count() == 4);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<user_key>{1, 2, 3, 4});
  }
}

TEST_CASE_METHOD(passivation_fixture,
                 "idle users go first, then the least recently used of the "
                 "rest while over the budget",
                 "[actor][passivation]") {
  constexpr int64_t idle_ms = 1'000;
  look_up_in_order({1, 2});
  auto later = clock_after(directory::clock_ms());
  look_up_in_order({3, 4, 5});
  // 1 and 2 are idle at `later + idle_ms - 1`, 3 to 5 are not; two may stay.
  CHECK(dir->passivate_users(none, {idle_ms, 2}, later + idle_ms - 1) == 3);
  CHECK(dir->user_count() == 2);
  CHECK(dir->passivated() == 3);
  CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<user_key>{4, 5});
}

TEST_CASE_METHOD(passivation_fixture,
                 "a dropped user with stored state comes back with that "
                 "state on the next lookup",
                 "[actor][passivation]") {
  auto hdl = dir->user(1);
  caf::anon_send(hdl, plays(1, {10, 11, 12}, 1));
  run();
  // What a checkpoint stores of it.
  source->store(1, dir->live_user_cell(1)->snapshot());
  auto before = ask<user_dump>(hdl, dump_atom_v, base_ts);
  REQUIRE(before.events == 3);
  REQUIRE(before.applied_through == 3);
  auto old_addr = caf::actor_cast<caf::actor_addr>(hdl);
  REQUIRE(alive(old_addr));
  hdl = user_actor{};
  CHECK(dir->passivate_users(none, {1, 0}, far_future) == 1);
  run();
  CHECK(dir->user_count() == 0);
  CHECK_FALSE(alive(old_addr));
  std::optional<user_actor> found;
  SECTION("by find_user") {
    found = dir->find_user(1);
  }
  SECTION("by user") {
    found = dir->user(1);
  }
  REQUIRE(found.has_value());
  CHECK(caf::actor_cast<caf::actor_addr>(*found) != old_addr);
  CHECK(dir->user_count() == 1);
  CHECK(dir->restored() == 1);
  auto after = ask<user_dump>(*found, dump_atom_v, base_ts);
  CHECK(titles_of(after.recent) == titles_of(before.recent));
  CHECK(after.watched == before.watched);
  CHECK(after.events == before.events);
  CHECK(after.applied_through == 3);
  // It goes on from there: a replayed event is skipped, a new one applied.
  caf::anon_send(*found, plays(1, {12, 13}, 3));
  run();
  auto next = ask<user_dump>(*found, dump_atom_v, base_ts);
  CHECK(next.applied_through == 4);
  CHECK(titles_of(next.recent) == std::vector<title_key>{13, 12, 11, 10});
}

TEST_CASE_METHOD(passivation_fixture,
                 "a dropped user without stored state is not found again, "
                 "and starts empty when asked for",
                 "[actor][passivation]") {
  caf::anon_send(dir->user(2), plays(2, {10}, 1));
  run();
  CHECK(dir->passivate_users(none, {1, 0}, far_future) == 1);
  run();
  CHECK_FALSE(dir->find_user(2).has_value());
  CHECK(dir->user_count() == 0);
  CHECK(ask<user_dump>(dir->user(2), dump_atom_v, base_ts).events == 0);
  CHECK(dir->restored() == 0);
}

TEST_CASE_METHOD(passivation_fixture,
                 "a user still handles what was sent to it before it was "
                 "dropped, then leaves memory",
                 "[actor][passivation]") {
  auto hdl = dir->user(1);
  auto addr = caf::actor_cast<caf::actor_addr>(hdl);
  REQUIRE(alive(addr));
  caf::anon_send(hdl, plays(1, {10, 11}, 1));
  auto pending = self->request(hdl, caf::infinite, dump_atom_v, base_ts);
  // From here on only the messages in flight refer to the actor.
  hdl = user_actor{};
  CHECK(dir->passivate_users(none, {1, 0}, far_future) == 1);
  CHECK(dir->user_count() == 0);
  run();
  REQUIRE_FALSE(self->mailbox().empty()); // else receive would block
  std::optional<user_dump> dump;
  pending.receive([&](user_dump& d) { dump = std::move(d); },
                  [&](caf::error& err) { FAIL(sys.render(err)); });
  REQUIRE(dump.has_value());
  CHECK(dump->events == 2);
  CHECK(dump->applied_through == 2);
  CHECK(titles_of(dump->recent) == std::vector<title_key>{11, 10});
  run();
  CHECK_FALSE(alive(addr));
  // Without stored state there is nothing to come back from.
  CHECK_FALSE(dir->find_user(1).has_value());
}
