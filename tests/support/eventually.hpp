#pragma once

/// A bounded wait for tests: polls a predicate until it holds or a timeout
/// passes. Never waits longer than asked.

#include <chrono>
#include <functional>
#include <thread>

namespace marquee::testing {

/// Polls `pred` every `poll` until it holds or `timeout` passes; returns
/// whether it held (tested once more at the deadline).
inline bool
eventually(const std::function<bool()>& pred,
           std::chrono::milliseconds timeout = std::chrono::milliseconds{5000},
           std::chrono::milliseconds poll = std::chrono::milliseconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

} // namespace marquee::testing
