#pragma once

/// How far the actors have applied the event stream: read-your-writes for
/// clients that know the stream sequence of their event (`"after"` on a
/// recommendation request), and the exact replay of `marquee replay`.
///
/// The ingest thread opens a mark for each round of messages it hands out
/// and closes it with the last stream sequence of the round. Every message
/// the round causes carries a copy of the mark: the batches to user and
/// title actors, catalog and profile events, and the messages those actors
/// send on (trending updates). When the last copy is gone, everything the
/// round caused has been applied; the applied sequence is the end of the
/// longest run of finished rounds from the start.
///
/// Thread-safe. One allocation and one lock per round, not per event.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace marquee {

struct applied_state;

/// One round of messages handed out by the ingest thread.
class applied_mark {
public:
  applied_mark(std::shared_ptr<applied_state> state, uint64_t round)
    : state_(std::move(state)), round_(round) {
    // nop
  }
  applied_mark(const applied_mark&) = delete;
  applied_mark& operator=(const applied_mark&) = delete;
  ~applied_mark();

private:
  friend class applied_tracker;
  std::shared_ptr<applied_state> state_;
  uint64_t round_;
};

/// Carried in messages; null where nobody tracks (core mode, tests).
using mark_ptr = std::shared_ptr<const applied_mark>;

class applied_tracker {
public:
  /// Everything through `start` counts as applied (a restored checkpoint).
  explicit applied_tracker(uint64_t start = 0);

  /// Opens the next round (ingest thread only).
  mark_ptr open();

  /// Closes `mark` at stream sequence `sequence`, the last one its round
  /// handed out (ingest thread only, which holds a copy until then).
  void close(const mark_ptr& mark, uint64_t sequence);

  /// Every event through this stream sequence has been applied.
  uint64_t applied() const;

  /// Runs `fn` once `applied() >= sequence`: at once on this thread if it
  /// is, else on the thread that applies the last message of the round.
  /// `fn` must be cheap and must not call back into the tracker. Returns
  /// false, without keeping `fn`, when `max_waiting` callbacks wait already.
  bool when_applied(uint64_t sequence, std::function<void()> fn);

  /// Blocks until `applied() >= sequence` or `timeout` has passed; returns
  /// whether it got there. For a thread of marquee's own (the checkpoint
  /// writer), never for one that applies messages.
  bool wait_applied(uint64_t sequence, std::chrono::milliseconds timeout) const;

  /// Callbacks waiting at most (a sequence far ahead may never come).
  static constexpr size_t max_waiting = 10'000;

private:
  std::shared_ptr<applied_state> state_;
};

} // namespace marquee
