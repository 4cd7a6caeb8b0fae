#pragma once

/// The directory: user and title key -> actor handle, activating actors on
/// first use.
///
/// Thread-safe: called from NATS callback threads and from actors. Each key
/// hashes to one of several shards, each under its own mutex, held only for
/// a lookup or a spawn. Handles are kept until `clear`, which the service
/// calls on shutdown so that actors can terminate. Passivation (issue 3)
/// will remove idle entries here.

#include "domain/params.hpp"
#include "messages/actors.hpp"

#include <caf/actor_system.hpp>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace marquee {

class directory {
public:
  directory(caf::actor_system& sys, std::shared_ptr<const service_params> p,
            trending_actor trending);

  directory(const directory&) = delete;
  directory& operator=(const directory&) = delete;

  /// The actor of `user`, spawned if it is not live.
  user_actor user(user_key user);
  /// The actor of `user` if it is live.
  std::optional<user_actor> find_user(user_key user) const;

  /// The actor of `title`, spawned if it is not live.
  title_actor title(title_key title);
  /// The actor of `title` if it is live.
  std::optional<title_actor> find_title(title_key title) const;

  size_t user_count() const;
  size_t title_count() const;

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

  template <class Handle>
  static std::optional<Handle> find(const shards<Handle>& xs, uint32_t key);

  template <class Handle>
  static size_t count(const shards<Handle>& xs);

  caf::actor_system& sys_;
  std::shared_ptr<const service_params> params_;
  trending_actor trending_;
  shards<user_actor> users_;
  shards<title_actor> titles_;
};

} // namespace marquee
