#pragma once

/// The directory: user and title key -> actor handle, activating actors on
/// first use.
///
/// Thread-safe: called from NATS callback threads and from actors. Each key
/// hashes to one of several shards, each under its own mutex, held only for
/// a lookup or a spawn. Handles are kept until `clear`, which the service
/// calls on shutdown so that actors can terminate. Passivation (issue 3)
/// will remove idle entries here.

#include "actors/title_actor.hpp"
#include "actors/user_actor.hpp"
#include "domain/params.hpp"
#include "messages/actors.hpp"
#include "messages/state_source.hpp"

#include <caf/actor_system.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace marquee {

class directory {
public:
  /// `source` (may be null) holds the state stored for users and titles;
  /// an actor is activated with it.
  directory(caf::actor_system& sys, std::shared_ptr<const service_params> p,
            trending_actor trending,
            std::shared_ptr<state_source> source = nullptr);

  directory(const directory&) = delete;
  directory& operator=(const directory&) = delete;

  /// The actor of `user`, spawned if it is not live.
  user_actor user(user_key user);
  /// The actor of `user` if it is live or has stored state (then it is
  /// activated with it): a user with data is never taken for a stranger.
  std::optional<user_actor> find_user(user_key user);

  /// The key of the user with id `id` if this process knows it or state is
  /// stored for it (then the id is interned): what requests use, so that a
  /// user with stored data is never taken for a stranger.
  std::optional<user_key> known_user(std::string_view id, interner& users);

  /// The actor of `title`, spawned if it is not live.
  title_actor title(title_key title);
  /// The actor of `title` if it is live or has stored state.
  std::optional<title_actor> find_title(title_key title);

  size_t user_count() const;
  size_t title_count() const;

  /// Actors activated with stored state so far.
  uint64_t restored() const { return restored_.load(); }
  /// Stored states refused as inconsistent (they start empty instead).
  uint64_t refused() const { return refused_.load(); }
  /// Stored values that could not be read at all (damaged, newer format).
  uint64_t unreadable() const { return source_ ? source_->unreadable() : 0; }

  /// Calls `f(key, actor)` for every live user; `f` must not call back into
  /// the directory.
  template <class F>
  void for_each_user(F f) const {
    for_each(users_, f);
  }

  /// The same for titles.
  template <class F>
  void for_each_title(F f) const {
    for_each(titles_, f);
  }

  /// Drops every handle; actors end once their mailboxes are done.
  void clear();

private:
  static constexpr size_t shard_count = 64;

  template <class Handle>
  struct shard {
    mutable std::mutex mu;
    std::unordered_map<uint32_t, Handle> actors;
  };

  template <class Handle>
  using shards = std::array<shard<Handle>, shard_count>;

  template <class Handle, class Spawn>
  static Handle get_or_spawn(shards<Handle>& xs, uint32_t key, Spawn spawn);

  /// The live actor of `key`, or one activated from stored state by
  /// `restore` (returning nullopt when there is none).
  template <class Handle, class Restore>
  static std::optional<Handle> find(shards<Handle>& xs, uint32_t key,
                                    Restore restore);

  template <class Stored, class Load, class Restore>
  std::optional<Stored> stored_of(Load load, Restore restore);

  std::optional<stored_user> stored_user_of(user_key user);
  std::optional<stored_title> stored_title_of(title_key title);

  template <class Handle>
  static size_t count(const shards<Handle>& xs);

  template <class Handle, class F>
  static void for_each(const shards<Handle>& xs, F& f) {
    for (auto& sh : xs) {
      std::lock_guard<std::mutex> guard{sh.mu};
      for (const auto& [key, hdl] : sh.actors)
        f(key, hdl);
    }
  }

  caf::actor_system& sys_;
  std::shared_ptr<const service_params> params_;
  trending_actor trending_;
  std::shared_ptr<state_source> source_;
  std::atomic<uint64_t> restored_{0};
  std::atomic<uint64_t> refused_{0};
  shards<user_actor> users_;
  shards<title_actor> titles_;
};

} // namespace marquee
