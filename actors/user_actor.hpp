#pragma once

/// The actor of one user: a shell over `user_state` (domain/user_state.hpp).
///
/// The state lives in a `user_cell` that the actor shares with the request
/// path (ADR 23): the actor applies events to it, and a request reads what
/// it needs from it on the thread that received the request, without a
/// message. Both hold the cell's lock, for one batch or one read.

#include "domain/experiments.hpp"
#include "domain/params.hpp"
#include "domain/user_state.hpp"
#include "messages/actors.hpp"
#include "messages/variant_stats.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <mutex>
#include <optional>

namespace marquee {

/// A user's state as stored, with the last stream sequence it covers.
struct stored_user {
  user_state state;
  uint64_t applied_through = 0;
};

/// The live state of one user. The actor writes it; readers on other
/// threads call the const members, which take the lock themselves.
class user_cell {
public:
  /// Plays of titles recommended shortly before count in `stats` (if any).
  user_cell(user_key user, std::shared_ptr<const service_params> p,
            std::optional<stored_user> stored = std::nullopt,
            std::shared_ptr<variant_stats> stats = nullptr);

  user_cell(const user_cell&) = delete;
  user_cell& operator=(const user_cell&) = delete;

  user_key user() const { return user_; }
  const service_params& params() const { return *params_; }

  /// What a recommendation needs of this user, with the impression fatigue
  /// at `at`.
  user_snapshot view(int64_t at) const;

  /// The state to store, with the last stream sequence it covers.
  user_snapshot_data snapshot() const;

  /// Remembers titles just recommended, to count the plays that follow.
  void remember(const recommended_list& r);

  // -- for the actor, which holds the lock around each call ------------------

  std::mutex& mutex() const { return mu_; }
  void apply(const play_event& ev);
  void apply(const impression_event& ev);
  void apply(const feedback_event& ev);
  user_state& state() { return state_; }
  const user_state& state() const { return state_; }
  /// Stream sequence of the last event applied (0: none, or core mode).
  uint64_t& applied_through() { return applied_through_; }

private:
  mutable std::mutex mu_;
  user_key user_;
  std::shared_ptr<const service_params> params_;
  user_state state_;
  uint64_t applied_through_ = 0;
  /// Titles recently recommended (not stored: the count is since start).
  recommended_titles recommended_;
  std::shared_ptr<variant_stats> stats_;
};

/// Spawns the actor of the user in `cell`.
user_actor spawn_user_actor(caf::actor_system& sys,
                            std::shared_ptr<user_cell> cell);

/// Spawns the actor of `user` with a cell of its own, with its stored
/// state if any, else empty; plays of titles recommended shortly before
/// count in `stats` (if any).
user_actor spawn_user_actor(caf::actor_system& sys, user_key user,
                            std::shared_ptr<const service_params> p,
                            std::optional<stored_user> stored = std::nullopt,
                            std::shared_ptr<variant_stats> stats = nullptr);

} // namespace marquee
