#pragma once

/// Per experiment variant, since the start: the requests answered, the
/// titles recommended (rows other than `continue_watching`, to users with
/// state), and the plays of those titles within the attribution window
/// (domain/experiments.hpp). Recommenders count requests and titles; user
/// actors count plays; the admin `stats` verb reads them.
///
/// Thread-safe: relaxed atomic counters, one cache line apart per variant.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace marquee {

class variant_stats {
public:
  explicit variant_stats(size_t variants)
    : size_(variants), rows_(std::make_unique<row[]>(variants)) {
    // nop
  }

  size_t size() const { return size_; }

  void count_request(size_t v, size_t recommended) {
    if (v >= size_)
      return;
    rows_[v].requests.fetch_add(1, std::memory_order_relaxed);
    rows_[v].recommended.fetch_add(recommended, std::memory_order_relaxed);
  }

  void count_play(size_t v) {
    if (v < size_)
      rows_[v].plays.fetch_add(1, std::memory_order_relaxed);
  }

  struct counts {
    uint64_t requests = 0;
    uint64_t recommended = 0;
    uint64_t plays = 0;
  };

  counts read(size_t v) const {
    if (v >= size_)
      return {};
    const auto& r = rows_[v];
    return {r.requests.load(std::memory_order_relaxed),
            r.recommended.load(std::memory_order_relaxed),
            r.plays.load(std::memory_order_relaxed)};
  }

private:
  struct alignas(64) row {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> recommended{0};
    std::atomic<uint64_t> plays{0};
  };
  size_t size_;
  std::unique_ptr<row[]> rows_;
};

} // namespace marquee
