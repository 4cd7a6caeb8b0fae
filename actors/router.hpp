#pragma once

/// Hands each decoded event to every actor it concerns.
///
/// Thread-safe (the directory is); called on NATS callback threads. Events
/// of one user sent from one thread reach that user's actor in order.

#include "actors/directory.hpp"
#include "messages/actors.hpp"

#include <memory>
#include <vector>

namespace marquee {

class event_router {
public:
  explicit event_router(std::shared_ptr<directory> dir) : dir_(std::move(dir)) {
    // nop
  }

  /// To the user (history) and the title (counters, trending).
  void route(const play_event& ev);
  /// To the user (EMAs) and the title (counter).
  void route(const impression_event& ev);
  /// To the user (thumbs) and the title (counters).
  void route(const feedback_event& ev);
  /// Into the catalog, and to the title if it is live
  /// (`directory::catalog`).
  void route(const catalog_event& ev);
  /// To the user.
  void route(const profile_event& ev);

private:
  std::shared_ptr<directory> dir_;
};

/// Groups members' events per actor and sends each actor one `event_batch`
/// per flush: under load one message carries many events, and a title
/// actor sends one trending update per batch instead of one per play.
///
/// Not thread-safe: one per ingest thread. The caller flushes when nothing
/// more is waiting (so an idle stream adds no delay) or at `max_events`.
/// Events of one user keep their order; so do those of one title.
class event_batcher {
public:
  event_batcher(std::shared_ptr<directory> dir, size_t max_events);

  /// Adds an event with its stream sequence (0 in core mode); returns true
  /// when the batch is full and must be flushed.
  bool add(const member_event& ev, uint64_t sequence = 0);

  /// Events added since the last flush.
  size_t size() const { return size_; }

  /// Sends every pending batch to its actor, each carrying `mark`.
  void flush(const mark_ptr& mark = nullptr);

private:
  template <class Handle>
  struct pending {
    uint32_t key;
    Handle actor;
    event_batch batch;
  };

  template <class Handle>
  struct group {
    std::vector<pending<Handle>> batches;
    /// Key -> 1 + its position in `batches`, 0 for none: dense, as keys
    /// are (no node per key and round, as a hash map had).
    std::vector<uint32_t> slot;
  };

  template <class Handle, class Lookup>
  static void add_to(group<Handle>& g, uint32_t key, const member_event& ev,
                     uint64_t sequence, Lookup lookup);

  template <class Handle>
  static void send_all(group<Handle>& g, const mark_ptr& mark);

  std::shared_ptr<directory> dir_;
  size_t max_events_;
  size_t size_ = 0;
  group<user_actor> users_;
  group<title_actor> titles_;
};

} // namespace marquee
