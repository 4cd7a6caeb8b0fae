#pragma once

/// Exactly-once application of an event batch, shared by the actors that
/// receive batches.

#include "messages/events.hpp"

#include <variant>

namespace marquee {

/// Whether the event at stream sequence `seq` is new to an actor that has
/// applied everything up to `applied_through`, which then advances. Events
/// without a sequence (0, core mode) are always new.
inline bool take_sequence(uint64_t seq, uint64_t& applied_through) {
  if (seq == 0)
    return true;
  if (seq <= applied_through)
    return false;
  applied_through = seq;
  return true;
}

/// Applies the events of `batch` in order through `apply`, skipping those
/// whose stream sequence is at or below `applied_through` (a replay or a
/// redelivery), and advances `applied_through`. Batches without sequences
/// (core mode) are applied whole.
template <class Apply>
void apply_batch(const event_batch& batch, uint64_t& applied_through,
                 Apply apply) {
  bool sequenced = batch.sequences.size() == batch.events.size();
  for (size_t i = 0; i < batch.events.size(); ++i)
    if (!sequenced || take_sequence(batch.sequences[i], applied_through))
      std::visit(apply, batch.events[i]);
}

} // namespace marquee
