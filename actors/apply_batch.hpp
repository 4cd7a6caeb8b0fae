#pragma once

/// Exactly-once application of an event batch, shared by the actors that
/// receive batches.

#include "messages/events.hpp"

#include <variant>

namespace marquee {

/// Applies the events of `batch` in order through `apply`, skipping those
/// whose stream sequence is at or below `applied_through` (a replay or a
/// redelivery), and advances `applied_through`. Batches without sequences
/// (core mode) are applied whole.
template <class Apply>
void apply_batch(const event_batch& batch, uint64_t& applied_through,
                 Apply apply) {
  bool sequenced = batch.sequences.size() == batch.events.size();
  for (size_t i = 0; i < batch.events.size(); ++i) {
    if (sequenced) {
      auto seq = batch.sequences[i];
      if (seq <= applied_through)
        continue;
      applied_through = seq;
    }
    std::visit(apply, batch.events[i]);
  }
}

} // namespace marquee
