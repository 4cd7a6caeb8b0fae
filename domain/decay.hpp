#pragma once

/// Exponentially decayed sums: the EMA of CONTRACT.md.
///
/// The value of a decayed sum at time `now` is
///   sum over events i of alpha ^ ((now - ts_i) / W),
/// with `alpha` in (0, 1) and window `W` (so with alpha = 0.5, W is the
/// half-life). The sum is kept as one number at a reference time, the newest
/// event seen; events may arrive out of order. Pure: time is an argument.

#include <cmath>
#include <cstdint>
#include <limits>

namespace marquee {

/// The decay of one window: alpha ^ (dt / W) = exp(rate * dt).
struct decay_rate {
  double per_ms = 0; // ln(alpha) / W, negative

  static decay_rate of(double alpha, int64_t window_ms) {
    return decay_rate{std::log(alpha) / static_cast<double>(window_ms)};
  }

  /// The factor alpha ^ (dt / W).
  double factor(int64_t dt_ms) const {
    return std::exp(per_ms * static_cast<double>(dt_ms));
  }
};

/// Adds one event at `ts` to `value`, kept at reference time `ref` (the
/// newest event time, updated here). The caller keeps `ref` shared between
/// several windows, so it passes the old and the new reference.
inline double decayed_add(double value, int64_t old_ref, int64_t new_ref,
                          int64_t ts, decay_rate r) {
  // Bring the value to the new reference, then add this event's share.
  return value * r.factor(new_ref - old_ref) + r.factor(new_ref - ts);
}

/// A decayed sum with its own reference time.
class decayed_sum {
public:
  /// The sum with `raw_value()` `value` at reference `ref()` `ref`, as read
  /// back from a snapshot; `ref` INT64_MIN is the empty sum.
  static decayed_sum restore(double value, int64_t ref) {
    decayed_sum s;
    s.value_ = value;
    s.ref_ = ref;
    return s;
  }

  /// Adds one event at `ts`.
  void add(int64_t ts, decay_rate r) {
    int64_t new_ref = ts > ref_ || empty() ? ts : ref_;
    value_ = empty() ? 1.0 : decayed_add(value_, ref_, new_ref, ts, r);
    ref_ = new_ref;
  }

  /// The value at `now`; `now` should not be before `ref()`.
  double value_at(int64_t now, decay_rate r) const {
    return empty() ? 0.0 : value_ * r.factor(now - ref_);
  }

  /// A key that orders sums by value at any common time: ln(value) brought
  /// to time zero. It only grows with new events.
  double log_key(decay_rate r) const {
    return empty() ? -std::numeric_limits<double>::infinity()
                   : std::log(value_) - r.per_ms * static_cast<double>(ref_);
  }

  bool empty() const { return ref_ == no_ref; }
  double raw_value() const { return value_; }
  int64_t ref() const { return ref_; }

private:
  static constexpr int64_t no_ref = std::numeric_limits<int64_t>::min();
  double value_ = 0;
  int64_t ref_ = no_ref;
};

} // namespace marquee
