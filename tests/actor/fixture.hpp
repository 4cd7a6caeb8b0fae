#pragma once

/// A deterministic actor system for the actor tests: CAF's test coordinator
/// runs every actor on the calling thread, one message at a time, only when
/// a test calls `run()`. No network, no wall-clock waits.
///
/// Not thread-safe; one fixture per test case. Without
/// `caf/test/dsl.hpp`, which needs CAF's own unit-test framework.

#include "actors/directory.hpp"
#include "domain/params.hpp"
#include "domain/window.hpp"
#include "messages/actors.hpp"
#include "messages/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace marquee::test {

/// A fixed point in time for events: 2023-11-14T22:13:20Z.
constexpr int64_t base_ts = 1'700'000'000'000;

/// The params of every actor test: impression windows 1d and 7d, raw
/// retention 1d, 128 raw impressions; trending windows 1h, 1d and 7d with
/// room for 100 titles per list; the trending row uses 1d. Experiment
/// variants `control` and `b` (share 0: only when forced), plays attributed
/// within an hour.
inline std::shared_ptr<const service_params> test_params() {
  service_params p;
  p.user.recent_max = 50;
  p.user.in_progress_max = 50;
  p.user.impressions =
    impression_params::make(0.5, {ms_per_day, 7 * ms_per_day}, ms_per_day, 128);
  p.trending =
    trending_params::make(0.5, {ms_per_hour, ms_per_day, 7 * ms_per_day}, 100);
  p.rec.trending_window = 1;
  p.rec.budget_ms = 100;
  p.experiments.variants = {{"control", 1, p.rec.ranking},
                            {"b", 0, p.rec.ranking}};
  p.experiments.attribution_ms = ms_per_hour;
  return std::make_shared<const service_params>(std::move(p));
}

/// A title's catalog entry in one line.
inline title_meta meta_of(std::vector<genre_key> genres,
                          std::vector<region_key> regions = {},
                          int32_t min_age = 0, bool available = true) {
  title_meta m;
  m.name = "title";
  m.genres = std::move(genres);
  m.regions = std::move(regions);
  m.min_age = min_age;
  m.available = available;
  return m;
}

/// The sum of alpha ^ ((at - ts) / W) over `ts`: the contract's EMA,
/// written out literally to check the incremental one against.
inline double literal_ema(const std::vector<int64_t>& ts, int64_t at,
                          int64_t window_ms, double alpha = 0.5) {
  double sum = 0;
  for (auto t : ts)
    sum += std::pow(alpha, static_cast<double>(at - t) /
                             static_cast<double>(window_ms));
  return sum;
}

template <class T>
std::vector<title_key> titles_of(const std::vector<T>& xs) {
  std::vector<title_key> out;
  for (const auto& x : xs)
    out.push_back(x.title);
  return out;
}

struct fixture {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    return cfg;
  }

  fixture()
    : sys(init(cfg)), self(sys, true),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      params(test_params()) {
    // nop
  }

  ~fixture() {
    run();
    // Request timeouts still pending hold their actors: without this the
    // actor system waits for them forever at teardown (DESIGN.md, traps).
    sched.clock().cancel_all();
    run();
  }

  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  /// Lets every actor handle every message, until nothing is left. Timeouts
  /// are never triggered: the clock stands still.
  size_t run() {
    size_t total = 0;
    while (auto n = sched.run())
      total += n;
    return total;
  }

  /// Sends a request from `self` with no timeout, runs the system and
  /// returns the reply, or the error that came back instead.
  template <class T, class Handle, class... Ts>
  caf::expected<T> request(const Handle& hdl, Ts... xs) {
    auto reply = self->request(hdl, caf::infinite, std::move(xs)...);
    run();
    // With nothing left to run, an empty mailbox means no reply will ever
    // come: on the stopped test clock that is a timeout, and it beats
    // blocking in `receive` forever.
    if (self->mailbox().empty())
      return caf::make_error(caf::sec::request_timeout,
                             "no reply after running every actor");
    caf::expected<T> result{caf::make_error(caf::sec::unexpected_response)};
    reply.receive([&](T& x) { result = std::move(x); },
                  [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Like `request`, but the test fails unless a value comes back.
  template <class T, class Handle, class... Ts>
  T ask(const Handle& hdl, Ts... xs) {
    return value_of(request<T>(hdl, std::move(xs)...));
  }

  /// Runs the system, then reads with `f` as the request path does, from a
  /// cell (ADR 23); an error that comes back instead fails the test.
  template <class F>
  auto read(F f) {
    run();
    return value_of(f());
  }

  /// The value in `x`; an error fails the test. A plain value passes.
  template <class T>
  T value_of(caf::expected<T> x) {
    if (!x)
      FAIL("expected a value, got error: " << sys.render(x.error()) << " ("
                                           << describe(x.error()).message
                                           << ")");
    return std::move(*x);
  }

  template <class T>
  T value_of(T x) {
    return x;
  }

  /// Like `request`, but the test fails unless an error comes back.
  template <class T, class Handle, class... Ts>
  error_info ask_error(const Handle& hdl, Ts... xs) {
    auto res = request<T>(hdl, std::move(xs)...);
    if (res)
      FAIL("expected an error, got a reply");
    return describe(res.error());
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<const service_params> params;
};

} // namespace marquee::test
