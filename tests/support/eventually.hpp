#pragma once

/// A bounded wait for tests: polls a predicate until it holds or a timeout
/// passes. Never waits longer than asked, times the time scale.

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

namespace marquee::testing {

/// How many times longer every bounded wait of the tests may take:
/// `MARQUEE_TEST_TIME_SCALE` (a whole number, default 1). The sanitizer
/// suites set it, as instrumented code runs several times slower
/// (scripts/sanitize.sh, docs/testing.md). A wait that succeeds returns as
/// early as before; only a failure takes longer to be declared.
inline int time_scale() {
  static const int scale = [] {
    const char* text = std::getenv("MARQUEE_TEST_TIME_SCALE");
    int n = text != nullptr ? std::atoi(text) : 1;
    return n > 0 ? n : 1;
  }();
  return scale;
}

/// Polls `pred` every `poll` until it holds or `timeout` (times
/// `time_scale()`) passes; returns whether it held (tested once more at the
/// deadline).
inline bool
eventually(const std::function<bool()>& pred,
           std::chrono::milliseconds timeout = std::chrono::milliseconds{5000},
           std::chrono::milliseconds poll = std::chrono::milliseconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + timeout * time_scale();
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

} // namespace marquee::testing
