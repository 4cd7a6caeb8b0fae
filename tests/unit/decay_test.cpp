#include "domain/decay.hpp"
#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace marquee;

namespace {

constexpr int64_t base_ts = 1'700'000'000'000;

const std::vector<double> alphas{0.3, 0.5, 0.9};

const std::vector<int64_t> windows{
  ms_per_minute,  15 * ms_per_minute, ms_per_hour,      ms_per_day,
  7 * ms_per_day, 30 * ms_per_day,    180 * ms_per_day, 365 * ms_per_day};

/// sum over events i of alpha ^ ((now - ts_i) / W), term by term.
double literal_sum(const std::vector<int64_t>& ts, int64_t now, double alpha,
                   int64_t window_ms) {
  double sum = 0;
  for (auto t : ts)
    sum += std::pow(alpha, static_cast<double>(now - t) /
                             static_cast<double>(window_ms));
  return sum;
}

double rel_err(double got, double want) {
  return std::abs(got - want) /
         std::max(std::abs(want), std::numeric_limits<double>::min());
}

/// `n` times spread over `spread_windows` windows after base_ts, unsorted.
std::vector<int64_t> random_times(std::mt19937_64& rng, size_t n,
                                  int64_t window_ms, double spread_windows) {
  auto spread =
    static_cast<int64_t>(spread_windows * static_cast<double>(window_ms));
  std::uniform_int_distribution<int64_t> offset(0, spread);
  std::vector<int64_t> out(n);
  for (auto& t : out)
    t = base_ts + offset(rng);
  return out;
}

/// Adds `ts` in the given order, checking every prefix against the literal
/// sum at the newest time so far and the whole against later times; returns
/// the worst relative error.
double worst_error(const std::vector<int64_t>& ts, double alpha,
                   int64_t window_ms) {
  auto r = decay_rate::of(alpha, window_ms);
  decayed_sum s;
  std::vector<int64_t> seen;
  double worst = 0;
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (auto t : ts) {
    s.add(t, r);
    seen.push_back(t);
    newest = std::max(newest, t);
    if (s.ref() != newest)
      return std::numeric_limits<double>::infinity();
    worst =
      std::max(worst, rel_err(s.value_at(newest, r),
                              literal_sum(seen, newest, alpha, window_ms)));
  }
  for (auto later : {int64_t{0}, window_ms / 3, window_ms, 3 * window_ms}) {
    auto now = newest + later;
    worst = std::max(worst, rel_err(s.value_at(now, r),
                                    literal_sum(seen, now, alpha, window_ms)));
  }
  return worst;
}

} // namespace

TEST_CASE("a decayed sum of one event halves every window with alpha 0.5",
          "[domain][decay]") {
  auto r = decay_rate::of(0.5, 1000);
  decayed_sum s;
  s.add(5000, r);
  CHECK(s.value_at(5000, r) == Approx(1.0));
  CHECK(s.value_at(6000, r) == Approx(0.5));
  CHECK(s.value_at(8000, r) == Approx(0.125));
}

TEST_CASE("an empty decayed sum is zero at any time and has no reference",
          "[domain][decay]") {
  auto r = decay_rate::of(0.5, ms_per_day);
  decayed_sum s;
  CHECK(s.empty());
  CHECK(s.value_at(base_ts, r) == 0.0);
  CHECK(s.log_key(r) == -std::numeric_limits<double>::infinity());
  s.add(base_ts, r);
  CHECK_FALSE(s.empty());
  CHECK(s.ref() == base_ts);
}

TEST_CASE("a decayed sum equals the literal sum for events in time order",
          "[domain][decay]") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng{seed};
    for (auto alpha : alphas)
      for (auto w : windows)
        for (double spread : {0.5, 2.0, 6.0}) {
          auto ts = random_times(rng, 80, w, spread);
          std::sort(ts.begin(), ts.end());
          INFO("seed " << seed << ", alpha " << alpha << ", window "
                       << format_window(w) << ", spread " << spread);
          CHECK(worst_error(ts, alpha, w) <= 1e-9);
        }
  }
}

TEST_CASE("a decayed sum equals the literal sum for events out of order",
          "[domain][decay]") {
  for (uint64_t seed : {11u, 12u, 13u}) {
    std::mt19937_64 rng{seed};
    for (auto alpha : alphas)
      for (auto w : windows)
        for (double spread : {0.5, 2.0, 6.0}) {
          auto ts = random_times(rng, 80, w, spread);
          std::shuffle(ts.begin(), ts.end(), rng);
          // Make sure the newest event is not the last one applied.
          if (ts.back() == *std::max_element(ts.begin(), ts.end()))
            std::swap(ts.front(), ts.back());
          INFO("seed " << seed << ", alpha " << alpha << ", window "
                       << format_window(w) << ", spread " << spread);
          CHECK(worst_error(ts, alpha, w) <= 1e-9);
        }
  }
}

TEST_CASE("events at the same time add up to their count", "[domain][decay]") {
  auto r = decay_rate::of(0.5, ms_per_hour);
  decayed_sum s;
  for (int i = 0; i < 7; ++i)
    s.add(base_ts, r);
  CHECK(s.value_at(base_ts, r) == Approx(7.0).epsilon(1e-12));
  CHECK(s.value_at(base_ts + ms_per_hour, r) == Approx(3.5).epsilon(1e-12));
}

TEST_CASE("the log key orders two sums as their values at a later time",
          "[domain][decay]") {
  std::mt19937_64 rng{42};
  size_t compared = 0;
  size_t later_ref_is_smaller = 0;
  for (auto alpha : alphas)
    for (auto w : windows) {
      auto r = decay_rate::of(alpha, w);
      for (int pair = 0; pair < 60; ++pair) {
        std::uniform_int_distribution<size_t> count(1, 25);
        std::uniform_real_distribution<double> spread(0.0, 4.0);
        std::uniform_int_distribution<int64_t> shift(-2 * w, 2 * w);
        auto a_ts = random_times(rng, count(rng), w, spread(rng));
        auto b_ts = random_times(rng, count(rng), w, spread(rng));
        auto b_shift = shift(rng);
        for (auto& t : b_ts)
          t += b_shift;
        decayed_sum a;
        decayed_sum b;
        for (auto t : a_ts)
          a.add(t, r);
        for (auto t : b_ts)
          b.add(t, r);
        std::uniform_int_distribution<int64_t> later(0, 3 * w);
        auto now = std::max(a.ref(), b.ref()) + later(rng);
        auto va = a.value_at(now, r);
        auto vb = b.value_at(now, r);
        if (rel_err(va, vb) < 1e-9)
          continue; // a tie within rounding says nothing about order
        ++compared;
        auto newer_is_less = a.ref() > b.ref() ? va < vb : vb < va;
        if (newer_is_less)
          ++later_ref_is_smaller;
        INFO("alpha " << alpha << ", window " << format_window(w) << ", a "
                      << va << ", b " << vb);
        CHECK((a.log_key(r) < b.log_key(r)) == (va < vb));
      }
    }
  // The pairs must not be ordered by their newest event alone.
  CHECK(compared > 1000);
  CHECK(later_ref_is_smaller > 100);
}

TEST_CASE("the log key only grows as events are added, in or out of order",
          "[domain][decay]") {
  std::mt19937_64 rng{7};
  for (auto alpha : alphas)
    for (auto w : windows) {
      auto r = decay_rate::of(alpha, w);
      auto ts = random_times(rng, 50, w, 5.0);
      decayed_sum s;
      double previous = s.log_key(r);
      for (auto t : ts) {
        s.add(t, r);
        auto key = s.log_key(r);
        INFO("alpha " << alpha << ", window " << format_window(w));
        CHECK(key > previous);
        previous = key;
      }
    }
}
