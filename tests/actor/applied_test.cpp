// How far the actors have applied the stream: rounds of the ingest thread
// count once everything they caused is done, trending updates included.

#include "messages/applied.hpp"

#include "tests/actor/fixture.hpp"
#include "tests/actor/service_fixture.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>
#include <vector>

using namespace marquee;
using namespace marquee::test;

namespace {
constexpr user_key alice = 1;
constexpr title_key metropolis = 5;
} // namespace

TEST_CASE("the applied sequence is the end of the longest run of finished "
          "rounds",
          "[actor][applied]") {
  applied_tracker tracker{5}; // a checkpoint at 5 counts as applied
  CHECK(tracker.applied() == 5);
  auto a = tracker.open();
  tracker.close(a, 10);
  auto b = tracker.open();
  tracker.close(b, 20);
  auto c = tracker.open();
  tracker.close(c, 30);
  CHECK(tracker.applied() == 5);
  b.reset(); // finished, but a is not
  CHECK(tracker.applied() == 5);
  a.reset();
  CHECK(tracker.applied() == 20);
  // A copy held elsewhere (a message not yet handled) keeps c open.
  auto in_flight = c;
  c.reset();
  CHECK(tracker.applied() == 20);
  in_flight.reset();
  CHECK(tracker.applied() == 30);
}

TEST_CASE("waiters run once their sequence is applied, at once if it is",
          "[actor][applied]") {
  applied_tracker tracker;
  std::vector<int> ran;
  CHECK(tracker.when_applied(0, [&] { ran.push_back(0); }));
  CHECK(ran == std::vector<int>{0});
  auto a = tracker.open();
  CHECK(tracker.when_applied(15, [&] { ran.push_back(15); }));
  CHECK(tracker.when_applied(10, [&] { ran.push_back(10); }));
  CHECK(tracker.when_applied(11, [&] { ran.push_back(11); }));
  tracker.close(a, 10);
  a.reset();
  CHECK(ran == std::vector<int>{0, 10});
  auto b = tracker.open();
  tracker.close(b, 20);
  b.reset();
  CHECK(ran == std::vector<int>{0, 10, 11, 15});
}

TEST_CASE("a thread waiting for a sequence wakes when another applies it",
          "[actor][applied]") {
  applied_tracker tracker{3};
  // Already applied, and a timeout with nothing in flight.
  CHECK(tracker.wait_applied(3, std::chrono::milliseconds{0}));
  CHECK_FALSE(tracker.wait_applied(4, std::chrono::milliseconds{1}));
  auto a = tracker.open();
  tracker.close(a, 10);
  std::promise<bool> woke;
  std::thread waiter{
    [&] { woke.set_value(tracker.wait_applied(10, std::chrono::minutes{1})); }};
  // Finishing the round on this thread wakes the waiter well before its
  // timeout (the test's own timeout catches a missed wake-up).
  a.reset();
  CHECK(woke.get_future().get());
  waiter.join();
}

TEST_CASE("waiters are bounded", "[actor][applied]") {
  applied_tracker tracker;
  int ran = 0;
  for (size_t i = 0; i < applied_tracker::max_waiting; ++i)
    REQUIRE(tracker.when_applied(100, [&] { ++ran; }));
  CHECK_FALSE(tracker.when_applied(100, [&] { ++ran; }));
  auto a = tracker.open();
  tracker.close(a, 100);
  a.reset();
  CHECK(ran == static_cast<int>(applied_tracker::max_waiting));
  // Room again.
  CHECK(tracker.when_applied(200, [] {}));
}

TEST_CASE_METHOD(service_fixture,
                 "a round counts as applied only after the trending cell has "
                 "taken the counts of its plays",
                 "[actor][applied]") {
  applied_tracker tracker;
  event_batcher batcher{dir, 100};
  run();
  auto round = tracker.open();
  batcher.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 1);
  batcher.add(play_event{alice, metropolis, base_ts, 1.0, all_regions}, 2);
  batcher.flush(round);
  tracker.close(round, 2);
  round.reset();
  // The plays in the trending cell's list now (no scheduling).
  auto listed_plays = [&]() -> uint64_t {
    auto t =
      trending_state->trending(trending_query{10, 0, all_regions, {}, base_ts});
    return t && t->items.size() == 1 ? t->items[0].plays : 0;
  };
  // One message at a time: the user's batch and the title's batch, which
  // writes the trending cell before its mark goes. Never applied before
  // the cell has the plays.
  std::vector<std::pair<uint64_t, uint64_t>> seen; // applied, listed plays
  while (sched.try_run_once())
    seen.emplace_back(tracker.applied(), listed_plays());
  REQUIRE(seen.size() >= 2);
  CHECK(seen[seen.size() - 2].first == 0);
  CHECK(seen.back() == std::make_pair(uint64_t{2}, uint64_t{2}));
  for (const auto& [applied, plays] : seen)
    if (applied == 2)
      CHECK(plays == 2);
}
