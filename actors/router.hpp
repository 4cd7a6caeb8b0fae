#pragma once

/// Hands each decoded event to every actor it concerns.
///
/// Thread-safe (the directory is); called on NATS callback threads. Events
/// of one user sent from one thread reach that user's actor in order.

#include "actors/directory.hpp"
#include "messages/actors.hpp"

#include <memory>

namespace marquee {

class event_router {
public:
  event_router(std::shared_ptr<directory> dir, trending_actor trending)
    : dir_(std::move(dir)), trending_(std::move(trending)) {
    // nop
  }

  /// To the user (history) and the title (counters, trending).
  void route(const play_event& ev);
  /// To the user (EMAs) and the title (counter).
  void route(const impression_event& ev);
  /// To the user (thumbs) and the title (counters).
  void route(const feedback_event& ev);
  /// To the title and the trending actor's catalog.
  void route(const catalog_event& ev);
  /// To the user.
  void route(const profile_event& ev);

private:
  std::shared_ptr<directory> dir_;
  trending_actor trending_;
};

} // namespace marquee
