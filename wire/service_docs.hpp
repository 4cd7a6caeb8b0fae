#pragma once

/// The NATS service API documents (ADR-32, `io.nats.micro.v1.*`) and the
/// per-endpoint counters behind `$SRV.STATS`.
///
/// Thread-safe: counters are atomics, the last error is under a mutex.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace marquee {

/// The endpoints of CONTRACT.md, plus the admin verbs (not listed in $SRV).
enum class endpoint_id : uint8_t {
  recommend,
  similar,
  trending,
  impressions,
  admin
};

constexpr size_t endpoint_count = 5;
/// Endpoints listed in `$SRV.INFO` and `$SRV.STATS`.
constexpr size_t listed_endpoints = 4;

class service_stats {
public:
  service_stats(std::string id, std::string version);

  /// Counts one request that took `ns`; `error` is null on success, else
  /// the error line (`<code>:<sentence>`).
  void record(endpoint_id ep, int64_t ns, const std::string* error);

  std::string ping_json() const;
  std::string info_json(const std::string& prefix) const;
  std::string stats_json(const std::string& prefix) const;
  /// The `endpoints` array of the stats document.
  std::string endpoints_json(const std::string& prefix) const;

  const std::string& id() const { return id_; }

private:
  struct counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<int64_t> processing_ns{0};
  };

  std::string header(const char* type) const;

  std::string id_;
  std::string version_;
  std::string started_; // RFC 3339
  counters counters_[endpoint_count];
  mutable std::mutex mu_;
  std::string last_error_[endpoint_count];
};

} // namespace marquee
