#include "messages/applied.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace marquee {

struct applied_state {
  struct round {
    uint64_t sequence = 0;
    bool closed = false;
    bool done = false;
  };

  std::mutex mtx;
  /// Rounds not yet counted in `applied`, oldest first.
  std::deque<round> rounds;
  /// The number of the oldest round in `rounds`.
  uint64_t first = 0;
  std::atomic<uint64_t> applied{0};
  std::multimap<uint64_t, std::function<void()>> waiters;
  /// Signalled whenever `applied` advances (`wait_applied`).
  std::condition_variable advanced;

  /// Drops finished rounds from the front; returns the waiters now due.
  /// Requires `mtx`.
  std::vector<std::function<void()>> advance() {
    auto through = applied.load(std::memory_order_relaxed);
    while (!rounds.empty() && rounds.front().done) {
      // A round dropped without being closed (the ingest thread stopped)
      // tells nothing about its sequence.
      if (rounds.front().closed)
        through = std::max(through, rounds.front().sequence);
      rounds.pop_front();
      ++first;
    }
    if (through != applied.load(std::memory_order_relaxed)) {
      applied.store(through, std::memory_order_release);
      advanced.notify_all();
    }
    std::vector<std::function<void()>> due;
    auto last = waiters.upper_bound(through);
    for (auto i = waiters.begin(); i != last; ++i)
      due.push_back(std::move(i->second));
    waiters.erase(waiters.begin(), last);
    return due;
  }

  void finish(uint64_t number) {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard<std::mutex> guard{mtx};
      rounds[number - first].done = true;
      if (number == first)
        due = advance();
    }
    for (auto& fn : due)
      fn();
  }
};

applied_mark::~applied_mark() {
  state_->finish(round_);
}

applied_tracker::applied_tracker(uint64_t start)
  : state_(std::make_shared<applied_state>()) {
  state_->applied.store(start);
}

mark_ptr applied_tracker::open() {
  std::lock_guard<std::mutex> guard{state_->mtx};
  state_->rounds.emplace_back();
  auto number = state_->first + state_->rounds.size() - 1;
  return std::make_shared<const applied_mark>(state_, number);
}

void applied_tracker::close(const mark_ptr& mark, uint64_t sequence) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  // The caller still holds `mark`: its round is not done, so it is still
  // in the queue.
  auto& r = state_->rounds[mark->round_ - state_->first];
  r.sequence = sequence;
  r.closed = true;
}

uint64_t applied_tracker::applied() const {
  return state_->applied.load(std::memory_order_acquire);
}

bool applied_tracker::wait_applied(uint64_t sequence,
                                   std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard{state_->mtx};
  return state_->advanced.wait_for(guard, timeout, [this, sequence] {
    return state_->applied.load(std::memory_order_relaxed) >= sequence;
  });
}

bool applied_tracker::when_applied(uint64_t sequence,
                                   std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    if (state_->applied.load(std::memory_order_relaxed) < sequence) {
      if (state_->waiters.size() >= max_waiting)
        return false;
      state_->waiters.emplace(sequence, std::move(fn));
      return true;
    }
  }
  fn();
  return true;
}

} // namespace marquee
