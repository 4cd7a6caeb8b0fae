// The checkpoint schedule: when a checkpoint is due, that a write in flight
// never blocks ingest, what a failed write puts back, how `finish` drains,
// and which users leave memory after a commit. The write function is a
// fake that records its calls, fails when told, and holds a write open
// until released.

#include "actors/checkpointer.hpp"
#include "actors/trending_actor.hpp"
#include "tests/actor/fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace marquee;
using namespace marquee::test;
using namespace std::chrono_literals;

namespace {

using outcome = checkpointer::outcome;
using steady = std::chrono::steady_clock;

/// The bound of every wait for the writer thread: far longer than anything
/// here takes, short enough that a broken schedule fails instead of hanging.
constexpr auto patience = 10s;

/// Options under which a checkpoint is due only when a test makes it so.
checkpointer::options never_due() {
  checkpointer::options opts;
  opts.every_events = 1'000'000;
  opts.interval = std::chrono::hours{1};
  return opts;
}

/// A write function that records its calls (users and titles sorted), fails
/// when told, and holds a write open until released.
class fake_writer {
public:
  struct call {
    uint64_t sequence = 0;
    std::vector<user_key> users;
    std::vector<title_key> titles;

    bool operator==(const call& other) const {
      return sequence == other.sequence && users == other.users &&
             titles == other.titles;
    }

    friend std::ostream& operator<<(std::ostream& out, const call& x) {
      out << "{sequence " << x.sequence << ", users";
      for (auto user : x.users)
        out << ' ' << user;
      out << ", titles";
      for (auto title : x.titles)
        out << ' ' << title;
      return out << '}';
    }
  };

  checkpointer::write_fn fn() {
    return [this](uint64_t sequence, const std::vector<user_key>& users,
                  const std::vector<title_key>& titles,
                  checkpoint_extra&) { return write(sequence, users, titles); };
  }

  /// The next write fails with `why`.
  void fail_next(std::string why) {
    std::lock_guard<std::mutex> guard{mu_};
    fail_ = std::move(why);
  }

  /// Writes from now on wait for `release`.
  void hold() {
    std::lock_guard<std::mutex> guard{mu_};
    held_ = true;
  }

  void release() {
    {
      std::lock_guard<std::mutex> guard{mu_};
      held_ = false;
    }
    cv_.notify_all();
  }

  /// Waits until `n` writes have begun.
  bool wait_started(size_t n) {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, patience, [&] { return calls_.size() >= n; });
  }

  std::vector<call> calls() const {
    std::lock_guard<std::mutex> guard{mu_};
    return calls_;
  }

  size_t started() const {
    std::lock_guard<std::mutex> guard{mu_};
    return calls_.size();
  }

  size_t returned() const {
    std::lock_guard<std::mutex> guard{mu_};
    return returned_;
  }

private:
  std::string write(uint64_t sequence, std::vector<user_key> users,
                    std::vector<title_key> titles) {
    std::sort(users.begin(), users.end());
    std::sort(titles.begin(), titles.end());
    std::unique_lock<std::mutex> lock{mu_};
    calls_.push_back(call{sequence, std::move(users), std::move(titles)});
    cv_.notify_all();
    std::string result;
    if (!cv_.wait_for(lock, patience, [this] { return !held_; }))
      result = "the test never released the write";
    else
      result = std::exchange(fail_, std::string{});
    ++returned_;
    return result;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<call> calls_;
  std::string fail_;
  bool held_ = false;
  size_t returned_ = 0;
};

using call = fake_writer::call;

struct checkpointer_fixture : fixture {
  fake_writer writer;
  std::shared_ptr<trending_cell> trending_state =
    std::make_shared<trending_cell>(params);
  std::shared_ptr<directory> dir =
    std::make_shared<directory>(sys, params, trending_state);
  std::unique_ptr<checkpointer> cp;

  ~checkpointer_fixture() {
    // A failed test may leave a write held: let it end before the
    // checkpointer joins its writer.
    writer.release();
    cp.reset();
    dir->clear();
  }

  checkpointer& make(checkpointer::options opts, uint64_t committed = 0) {
    cp = std::make_unique<checkpointer>(opts, dir, writer.fn(), committed);
    return *cp;
  }

  /// Ticks at `position` until a checkpoint's outcome comes back.
  std::optional<outcome> tick_until_outcome(uint64_t position) {
    auto deadline = steady::now() + patience;
    while (steady::now() < deadline) {
      if (auto out = cp->tick(position))
        return out;
      std::this_thread::sleep_for(1ms);
    }
    return std::nullopt;
  }

  /// Looks `users` up in this order, each with a later clock reading than
  /// the one before. Returns a reading taken after the last lookup.
  int64_t look_up_in_order(const std::vector<user_key>& users) {
    auto t = directory::clock_ms();
    for (auto user : users) {
      wait_past(t);
      dir->user(user);
      t = directory::clock_ms();
    }
    return t;
  }

  /// Waits until `directory::clock_ms()` reads later than `t`.
  static void wait_past(int64_t t) {
    while (directory::clock_ms() <= t)
      std::this_thread::sleep_for(1ms);
  }

  /// Which of `users` are live (the directory has no stored state, so a
  /// lookup activates nobody; it does make a live user recently used).
  std::vector<user_key> live_of(const std::vector<user_key>& users) {
    std::vector<user_key> out;
    for (auto user : users)
      if (dir->find_user(user))
        out.push_back(user);
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(checkpointer_fixture,
                 "a checkpoint is due after every_events events and stores "
                 "what changed with the sequence sent",
                 "[actor][checkpointer]") {
  auto opts = never_due();
  opts.every_events = 3;
  auto& c = make(opts);
  c.changed_user(1);
  c.changed_user(2);
  c.changed_user(1);
  c.changed_title(10);
  c.sent(2);
  CHECK_FALSE(c.tick(2).has_value());
  CHECK_FALSE(c.busy());
  c.sent(1);
  CHECK_FALSE(c.tick(3).has_value()); // begun, not yet collected
  CHECK(c.busy());
  auto out = tick_until_outcome(3);
  REQUIRE(out.has_value());
  CHECK(out->error.empty());
  CHECK(out->sequence == 3);
  CHECK(out->users == 2);
  CHECK(out->titles == 1);
  CHECK_FALSE(c.busy());
  CHECK(c.committed() == 3);
  CHECK(c.count() == 1);
  CHECK(writer.calls() == std::vector<call>{{3, {1, 2}, {10}}});
  // Nothing changed since: nothing due.
  CHECK_FALSE(c.tick(3).has_value());
  CHECK_FALSE(c.busy());
  // The next one has only what changed since the last began.
  c.changed_user(3);
  c.sent(3);
  CHECK_FALSE(c.tick(6).has_value());
  out = tick_until_outcome(6);
  REQUIRE(out.has_value());
  CHECK(out->sequence == 6);
  CHECK(c.committed() == 6);
  CHECK(c.count() == 2);
  CHECK(writer.calls() == std::vector<call>{{3, {1, 2}, {10}}, {6, {3}, {}}});
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "a checkpoint is due once the interval has passed, if "
                 "anything changed",
                 "[actor][checkpointer]") {
  auto opts = never_due();
  opts.interval = 100ms;
  auto t0 = steady::now();
  auto& c = make(opts);
  c.changed_user(1);
  c.sent(1);
  c.tick(1);
  // Only a tick known to come before the interval ended proves anything.
  if (steady::now() - t0 < opts.interval)
    CHECK_FALSE(c.busy());
  std::this_thread::sleep_for(opts.interval + 10ms);
  c.tick(1);
  CHECK(c.busy());
  auto out = tick_until_outcome(1);
  REQUIRE(out.has_value());
  CHECK(out->sequence == 1);
  CHECK(out->error.empty());
  CHECK(c.committed() == 1);
  // Another interval with nothing changed: no write.
  std::this_thread::sleep_for(opts.interval + 10ms);
  CHECK_FALSE(c.tick(1).has_value());
  CHECK_FALSE(c.busy());
  CHECK(writer.started() == 1);
  CHECK(c.count() == 1);
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "a request starts a checkpoint at the next tick and its "
                 "callback gets the outcome on the ticking thread",
                 "[actor][checkpointer]") {
  auto& c = make(never_due(), 4);
  c.changed_user(1);
  c.changed_title(7);
  c.changed_title(8);
  c.sent(2);
  CHECK_FALSE(c.tick(6).has_value());
  CHECK_FALSE(c.busy());
  std::vector<outcome> got;
  std::thread::id called_on;
  // Requests come from any thread.
  std::thread requester{[&] {
    c.request([&](const outcome& out) {
      got.push_back(out);
      called_on = std::this_thread::get_id();
    });
  }};
  requester.join();
  CHECK(got.empty());
  CHECK(c.committed() == 4);
  CHECK_FALSE(c.tick(6).has_value());
  CHECK(c.busy());
  auto out = tick_until_outcome(6);
  REQUIRE(out.has_value());
  REQUIRE(got.size() == 1);
  CHECK(called_on == std::this_thread::get_id());
  CHECK(got[0].error.empty());
  CHECK(got[0].sequence == 6);
  CHECK(got[0].users == 1);
  CHECK(got[0].titles == 2);
  CHECK(out->sequence == 6);
  CHECK(c.committed() == 6);
  CHECK(c.count() == 1);
  CHECK(writer.calls() == std::vector<call>{{6, {1}, {7, 8}}});
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "a request when nothing changed is answered with the "
                 "committed sequence, without a write",
                 "[actor][checkpointer]") {
  std::vector<outcome> got;
  auto record = [&](const outcome& out) { got.push_back(out); };
  SECTION("since the process started") {
    auto& c = make(never_due(), 9);
    c.request(record);
    CHECK_FALSE(c.tick(9).has_value());
    REQUIRE(got.size() == 1);
    CHECK(got[0].error.empty());
    CHECK(got[0].sequence == 9);
    CHECK(got[0].users == 0);
    CHECK(got[0].titles == 0);
    CHECK_FALSE(c.busy());
    CHECK(c.committed() == 9);
    CHECK(c.count() == 0);
  }
  SECTION("since the last checkpoint") {
    auto& c = make(never_due(), 9);
    c.changed_user(1);
    c.sent(3);
    c.request(record);
    c.tick(12);
    REQUIRE(tick_until_outcome(12).has_value());
    REQUIRE(got.size() == 1);
    CHECK(got[0].sequence == 12);
    CHECK(got[0].users == 1);
    c.request(record);
    CHECK_FALSE(c.tick(12).has_value());
    REQUIRE(got.size() == 2);
    CHECK(got[1].error.empty());
    CHECK(got[1].sequence == 12);
    CHECK(got[1].users == 0);
    CHECK_FALSE(c.busy());
    CHECK(c.count() == 1);
  }
  // Give a wrongly begun write the time to show up.
  std::this_thread::sleep_for(20ms);
  CHECK(writer.started() == (got.size() == 1 ? 0u : 1u));
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "a failed write stores nothing, and its users and titles go "
                 "into the next write",
                 "[actor][checkpointer]") {
  auto& c = make(never_due(), 2);
  std::vector<outcome> got;
  auto record = [&](const outcome& out) { got.push_back(out); };
  c.changed_user(1);
  c.changed_user(2);
  c.changed_title(10);
  c.sent(3);
  writer.fail_next("disk full");
  c.request(record);
  c.tick(5);
  auto out = tick_until_outcome(5);
  REQUIRE(out.has_value());
  CHECK(out->error == "disk full");
  CHECK(out->sequence == 5);
  REQUIRE(got.size() == 1);
  CHECK(got[0].error == "disk full");
  CHECK(c.committed() == 2);
  CHECK(c.count() == 0);
  CHECK_FALSE(c.busy());
  c.changed_user(3);
  c.changed_title(11);
  c.sent(1);
  c.request(record);
  c.tick(6);
  out = tick_until_outcome(6);
  REQUIRE(out.has_value());
  CHECK(out->error.empty());
  CHECK(out->users == 3);
  CHECK(out->titles == 2);
  CHECK(c.committed() == 6);
  CHECK(c.count() == 1);
  CHECK(writer.calls() ==
        std::vector<call>{{5, {1, 2}, {10}}, {6, {1, 2, 3}, {10, 11}}});
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "ingest goes on while a checkpoint is written; one is in "
                 "flight at a time and what changes meanwhile goes into the "
                 "next",
                 "[actor][checkpointer]") {
  auto opts = never_due();
  opts.every_events = 2;
  auto& c = make(opts);
  writer.hold();
  c.changed_user(1);
  c.sent(2);
  CHECK_FALSE(c.tick(2).has_value());
  REQUIRE(writer.wait_started(1));
  // `tick` came back while the write is still held.
  CHECK(writer.returned() == 0);
  CHECK(c.busy());
  // Ingest goes on: more than enough events for the next checkpoint, and a
  // request; none begins while the first is in flight.
  c.changed_user(2);
  c.changed_title(20);
  c.sent(5);
  std::vector<outcome> got;
  c.request([&](const outcome& out) { got.push_back(out); });
  for (int i = 0; i < 20; ++i) {
    CHECK_FALSE(c.tick(7).has_value());
    std::this_thread::sleep_for(1ms);
  }
  CHECK(c.busy());
  CHECK(got.empty());
  CHECK(c.committed() == 0);
  CHECK(c.count() == 0);
  writer.release();
  auto first = tick_until_outcome(7);
  REQUIRE(first.has_value());
  CHECK(first->error.empty());
  CHECK(first->sequence == 2);
  CHECK(first->users == 1);
  CHECK(first->titles == 0);
  CHECK(c.committed() == 2);
  // The request was made after the first began: the second answers it.
  CHECK(got.empty());
  auto second = tick_until_outcome(7);
  REQUIRE(second.has_value());
  CHECK(second->sequence == 7);
  REQUIRE(got.size() == 1);
  CHECK(got[0].sequence == 7);
  CHECK(got[0].users == 1);
  CHECK(got[0].titles == 1);
  CHECK(c.committed() == 7);
  CHECK(c.count() == 2);
  CHECK(writer.calls() == std::vector<call>{{2, {1}, {}}, {7, {2}, {20}}});
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "finish waits for the checkpoint in flight, then takes a "
                 "last one",
                 "[actor][checkpointer]") {
  auto& c = make(never_due());
  writer.hold();
  c.changed_user(1);
  c.sent(3);
  c.request([](const outcome&) {});
  c.tick(3);
  REQUIRE(writer.wait_started(1));
  SECTION("with what changed meanwhile") {
    c.changed_user(2);
    c.changed_title(5);
    c.sent(1);
    auto done = std::async(std::launch::async, [&] { return c.finish(4); });
    // The write is held, so finish cannot be done.
    CHECK(done.wait_for(50ms) == std::future_status::timeout);
    writer.release();
    REQUIRE(done.wait_for(patience) == std::future_status::ready);
    auto outs = done.get();
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].error.empty());
    CHECK(outs[0].sequence == 3);
    CHECK(outs[0].users == 1);
    CHECK(outs[1].error.empty());
    CHECK(outs[1].sequence == 4);
    CHECK(outs[1].users == 1);
    CHECK(outs[1].titles == 1);
    CHECK(c.committed() == 4);
    CHECK(c.count() == 2);
    CHECK(writer.calls() == std::vector<call>{{3, {1}, {}}, {4, {2}, {5}}});
  }
  SECTION("when the one in flight fails, the last one has its users") {
    writer.fail_next("disk full");
    c.changed_user(2);
    c.sent(1);
    auto done = std::async(std::launch::async, [&] { return c.finish(4); });
    CHECK(done.wait_for(50ms) == std::future_status::timeout);
    writer.release();
    REQUIRE(done.wait_for(patience) == std::future_status::ready);
    auto outs = done.get();
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].error == "disk full");
    CHECK(outs[1].error.empty());
    CHECK(outs[1].sequence == 4);
    CHECK(outs[1].users == 2);
    CHECK(c.committed() == 4);
    CHECK(c.count() == 1);
    CHECK(writer.calls() == std::vector<call>{{3, {1}, {}}, {4, {1, 2}, {}}});
  }
  SECTION("with nothing changed meanwhile: no second write") {
    auto done = std::async(std::launch::async, [&] { return c.finish(3); });
    CHECK(done.wait_for(50ms) == std::future_status::timeout);
    writer.release();
    REQUIRE(done.wait_for(patience) == std::future_status::ready);
    auto outs = done.get();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].sequence == 3);
    CHECK(c.committed() == 3);
    CHECK(c.count() == 1);
    CHECK(writer.started() == 1);
  }
  CHECK_FALSE(c.busy());
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "finish with nothing in flight takes the last checkpoint at "
                 "once",
                 "[actor][checkpointer]") {
  auto& c = make(never_due(), 1);
  c.changed_title(3);
  c.sent(1);
  auto outs = c.finish(2);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].error.empty());
  CHECK(outs[0].sequence == 2);
  CHECK(outs[0].titles == 1);
  CHECK(c.committed() == 2);
  CHECK(c.count() == 1);
  CHECK(writer.calls() == std::vector<call>{{2, {}, {3}}});
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "after a commit idle users leave memory, except those "
                 "changed since the checkpoint began",
                 "[actor][checkpointer][passivation]") {
  auto opts = never_due();
  opts.passivation.idle_ms = 1;
  auto& c = make(opts);
  auto looked_up = look_up_in_order({1, 2, 3, 4, 5});
  REQUIRE(dir->user_count() == 5);
  c.changed_user(1);
  c.changed_user(2);
  c.sent(2);
  writer.hold();
  c.request([](const outcome&) {});
  c.tick(2);
  REQUIRE(writer.wait_started(1));
  // Changed after the checkpoint began: its new state is not stored.
  c.changed_user(3);
  c.sent(1);
  // Every user is idle by now.
  wait_past(looked_up + opts.passivation.idle_ms);
  SECTION("they go once the write commits") {
    CHECK(dir->user_count() == 5);
    writer.release();
    auto out = tick_until_outcome(3);
    REQUIRE(out.has_value());
    REQUIRE(out->error.empty());
    CHECK(dir->user_count() == 1);
    CHECK(dir->passivated() == 4);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<user_key>{3});
  }
  SECTION("nobody goes when the write fails") {
    writer.fail_next("disk full");
    writer.release();
    auto out = tick_until_outcome(3);
    REQUIRE(out.has_value());
    CHECK_FALSE(out->error.empty());
    CHECK(dir->user_count() == 5);
    CHECK(dir->passivated() == 0);
  }
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "more live users than the budget make a checkpoint due, "
                 "after which the least recently used unchanged users go",
                 "[actor][checkpointer][passivation]") {
  auto opts = never_due();
  opts.passivation.max_users = 2;
  auto& c = make(opts);
  look_up_in_order({1, 2, 3, 4});
  SECTION("with nothing changed, at once and without a write") {
    CHECK_FALSE(c.tick(0).has_value());
    CHECK_FALSE(c.busy());
    CHECK(dir->user_count() == 2);
    CHECK(dir->passivated() == 2);
    CHECK(writer.started() == 0);
    CHECK(live_of({1, 2, 3, 4}) == std::vector<user_key>{3, 4});
  }
  SECTION("with changes, after they are written") {
    c.changed_user(1);
    c.sent(1);
    writer.hold();
    CHECK_FALSE(c.tick(1).has_value());
    CHECK(c.busy());
    REQUIRE(writer.wait_started(1));
    // 2 is the least recently used left, but changed since the checkpoint
    // began: 1 and 3 go instead.
    c.changed_user(2);
    c.sent(1);
    writer.release();
    auto out = tick_until_outcome(2);
    REQUIRE(out.has_value());
    CHECK(out->error.empty());
    CHECK(out->sequence == 1);
    CHECK(dir->user_count() == 2);
    CHECK(dir->passivated() == 2);
    CHECK(live_of({1, 2, 3, 4}) == std::vector<user_key>{2, 4});
    CHECK(writer.calls() == std::vector<call>{{1, {1}, {}}});
  }
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "with nothing changed, idle users still leave memory once "
                 "the interval has passed",
                 "[actor][checkpointer][passivation]") {
  auto opts = never_due();
  opts.interval = 100ms;
  opts.passivation.idle_ms = 1;
  auto t0 = steady::now();
  auto& c = make(opts);
  auto looked_up = look_up_in_order({1, 2});
  wait_past(looked_up + opts.passivation.idle_ms);
  c.tick(0);
  if (steady::now() - t0 < opts.interval)
    CHECK(dir->user_count() == 2);
  std::this_thread::sleep_for(opts.interval + 10ms);
  CHECK_FALSE(c.tick(0).has_value());
  CHECK(dir->user_count() == 0);
  CHECK(dir->passivated() == 2);
  CHECK(writer.started() == 0);
  CHECK(c.count() == 0);
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "after a failed write the next waits a moment, even when "
                 "one is asked for",
                 "[actor][checkpointer]") {
  auto opts = never_due();
  opts.interval = 300ms; // the retry waits min(interval, 1 s)
  auto& c = make(opts);
  writer.fail_next("disk full");
  c.changed_user(1);
  std::vector<outcome> got;
  c.request([&](const outcome& out) { got.push_back(out); });
  auto failed = tick_until_outcome(1);
  REQUIRE(failed.has_value());
  CHECK(failed->error == "disk full");
  auto failed_at = steady::now();
  c.request([&](const outcome& out) { got.push_back(out); });
  // Ticks right after the failure start nothing.
  while (steady::now() - failed_at < 200ms) {
    CHECK_FALSE(c.tick(1).has_value());
    std::this_thread::sleep_for(1ms);
  }
  if (steady::now() - failed_at < 300ms)
    CHECK(writer.started() == 1);
  // Then the retry goes out and answers the request.
  auto retried = tick_until_outcome(1);
  REQUIRE(retried.has_value());
  CHECK(retried->error.empty());
  CHECK(steady::now() - failed_at >= 300ms);
  CHECK(writer.calls() == std::vector<call>{{1, {1}, {}}, {1, {1}, {}}});
  REQUIRE(got.size() == 2);
  CHECK(got[1].error.empty());
}

TEST_CASE_METHOD(checkpointer_fixture,
                 "requests made once finish has begun are refused; those "
                 "made before are answered by the last checkpoint",
                 "[actor][checkpointer]") {
  auto& c = make(never_due());
  c.changed_user(1);
  std::vector<outcome> got;
  CHECK(c.request([&](const outcome& out) { got.push_back(out); }));
  auto outs = c.finish(4);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].sequence == 4);
  REQUIRE(got.size() == 1);
  CHECK(got[0].sequence == 4);
  CHECK_FALSE(c.request([&](const outcome& out) { got.push_back(out); }));
  CHECK(got.size() == 1);
}
