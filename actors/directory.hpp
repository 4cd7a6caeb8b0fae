#pragma once

/// The directory: user and title key -> actor handle, activating actors on
/// first use.
///
/// Thread-safe: called from NATS callback threads and from actors. Each key
/// hashes to one of several shards, each under its own mutex, held only for
/// a lookup, a spawn or a sweep.
///
/// Passivation: `passivate_users` and `passivate_titles` drop the handles
/// of actors that are idle or beyond a live budget. The directory's handle is
/// the only lasting reference to an actor, so a dropped actor still answers
/// whatever was sent to it before (senders hold a reference while they send)
/// and then leaves memory; the next lookup activates it again from stored
/// state. Only the caller knows which actors have state not yet stored; it
/// names them as pinned. `clear` drops every handle at shutdown.

#include "actors/title_actor.hpp"
#include "actors/trending_actor.hpp"
#include "actors/user_actor.hpp"
#include "domain/params.hpp"
#include "messages/actors.hpp"
#include "messages/state_source.hpp"

#include <caf/actor_system.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace marquee {

class directory {
public:
  /// A clock of last-use times, in milliseconds.
  using clock_fn = std::function<int64_t()>;

  /// `catalog` is the trending cell: its catalog entries are the titles'
  /// metadata (see `catalog`), and title actors write their counts into it.
  /// `source` (may be null) holds the state stored for users and titles; an
  /// actor is activated with it. `clock` (null: `clock_ms`) stamps each lookup;
  /// tests pass their own.
  directory(caf::actor_system& sys, std::shared_ptr<const service_params> p,
            std::shared_ptr<trending_cell> catalog,
            std::shared_ptr<state_source> source = nullptr,
            clock_fn clock = nullptr);

  directory(const directory&) = delete;
  directory& operator=(const directory&) = delete;

  /// The actor of `user`, spawned if it is not live.
  user_actor user(user_key user);
  /// The actor of `user` if it is live or has stored state (then it is
  /// activated with it): a user with data is never taken for a stranger.
  std::optional<user_actor> find_user(user_key user);

  /// The same, with the cell the actor shares with readers (ADR 23): the
  /// request path reads a user through it, without a message.
  struct user_handles {
    user_actor actor;
    std::shared_ptr<user_cell> cell;
  };
  std::optional<user_handles> find_user_cell(user_key user);

  /// The key of the user with id `id` if this process knows it or state is
  /// stored for it (then the id is interned): what requests use, so that a
  /// user with stored data is never taken for a stranger.
  std::optional<user_key> known_user(std::string_view id, interner& users);

  /// The cell of `user` if it is live, without counting as a use (for
  /// checkpoints, which read users through their cells).
  std::shared_ptr<user_cell> live_user_cell(user_key user) const;

  /// The actor of `title` if it is live, without counting as a use (for
  /// checkpoints: being stored does not keep a title in memory).
  std::optional<title_actor> live_title(title_key title) const;

  /// The actor of `title`, spawned if it is not live.
  title_actor title(title_key title);
  /// The actor of `title` if it is live, has stored state or a catalog
  /// entry.
  std::optional<title_actor> find_title(title_key title);

  /// Takes a catalog event: into the catalog at once, and to the title's
  /// actor if it is live. A title with nothing but a catalog entry has no
  /// actor (memory per title); an actor activated later starts from the
  /// catalog's entry, which is newer than any stored one. Both happen under
  /// the title's shard lock, so no entry is lost between them.
  void catalog(const catalog_event& ev);

  /// What a checkpoint stores of a title that has no actor: its stored
  /// state (if any) with the catalog's entry, as an activation would start
  /// from; nullopt when there is neither. Not an activation: `restored` and
  /// `refused` do not count it, and the catalog learns nothing from it.
  std::optional<stored_title> stored_title_to_store(title_key title);

  /// The key of the title with id `id` if this process knows it or state is
  /// stored for it (then the id is interned, whatever the limit): what
  /// requests use, so that a passivated title is never taken as unseen.
  std::optional<title_key> known_title(std::string_view id, interner& titles);

  /// Live users and titles.
  size_t user_count() const { return live_users_.load(); }
  size_t title_count() const { return live_titles_.load(); }

  /// What `passivate_users` and `passivate_titles` drop.
  struct passivation {
    /// Users and titles not looked up for this long (milliseconds).
    int64_t idle_ms = 0;
    /// Beyond this many live users, the least recently used go too.
    size_t max_users = 0;
    /// Beyond this many live titles, the least recently used go too.
    size_t max_titles = 0;
  };

  /// Drops every live user for which `pinned(key)` is false and that is
  /// idle per `p` at `now_ms` (a `clock_ms()` reading), then the least
  /// recently used unpinned ones while more than `p.max_users` are live.
  /// Returns how many were dropped.
  size_t passivate_users(const std::function<bool(user_key)>& pinned,
                         const passivation& p, int64_t now_ms);

  /// Users dropped by `passivate_users` so far.
  uint64_t passivated() const { return passivated_.load(); }

  /// The same for titles, with `p.max_titles` as the budget. A title comes
  /// back from the store with its counters and trending state, and writes
  /// its counts into the trending cell again (which changes nothing there).
  size_t passivate_titles(const std::function<bool(title_key)>& pinned,
                          const passivation& p, int64_t now_ms);

  /// Titles dropped by `passivate_titles` so far.
  uint64_t titles_passivated() const { return titles_passivated_.load(); }

  /// The clock of last-use times this directory stamps lookups with.
  const clock_fn& clock() const { return clock_; }

  /// The default clock of last-use times: steady, in milliseconds.
  static int64_t clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }

  /// Actors activated with stored state so far.
  uint64_t restored() const { return restored_.load(); }
  /// Stored states refused as inconsistent (they start empty instead).
  uint64_t refused() const { return refused_.load(); }
  /// Stored values that could not be read at all (damaged, newer format).
  uint64_t unreadable() const { return source_ ? source_->unreadable() : 0; }

  /// Drops every handle; actors end once their mailboxes are done.
  void clear();

  /// The requests, recommended titles and plays per experiment variant,
  /// counted by the recommenders and the user actors this directory spawns.
  const std::shared_ptr<variant_stats>& experiment_stats() const {
    return stats_;
  }

private:
  static constexpr size_t shard_count = 64;

  template <class Handle>
  struct entry {
    Handle actor;
    /// The state the actor shares with readers (users only).
    std::shared_ptr<user_cell> cell;
    /// `clock_ms()` at the last lookup.
    int64_t used_ms = 0;
  };

  template <class Handle>
  struct shard {
    mutable std::mutex mu;
    std::unordered_map<uint32_t, entry<Handle>> actors;
  };

  template <class Handle>
  using shards = std::array<shard<Handle>, shard_count>;

  /// The actor of `key`, whose entry `spawn` makes (an `entry<Handle>`
  /// without its time) if it is not live.
  template <class Handle, class Spawn>
  Handle get_or_spawn(shards<Handle>& xs, std::atomic<size_t>& live,
                      uint32_t key, Spawn spawn);

  /// The live entry of `key`, or one activated from stored state by
  /// `restore` (returning nullopt when there is none).
  template <class Handle, class Restore>
  std::optional<entry<Handle>> find(shards<Handle>& xs,
                                    std::atomic<size_t>& live, uint32_t key,
                                    Restore restore);

  entry<user_actor> spawn_user(user_key user,
                               std::optional<stored_user> stored);

  /// `part` of the entry of `key` (a copy) if it is live; no use is
  /// counted.
  template <class Handle, class Part>
  static auto live(const shards<Handle>& xs, uint32_t key, Part part);

  template <class Handle, class Key>
  static size_t passivate(shards<Handle>& xs, std::atomic<size_t>& live_count,
                          std::atomic<uint64_t>& passivated,
                          const std::function<bool(Key)>& pinned,
                          int64_t idle_ms, size_t max_live, int64_t now_ms);

  /// The stored state `load` reads, put back together by `restore`. An
  /// activation counts it in `restored` (or `refused`); a checkpoint's
  /// read does not.
  template <class Stored, class Load, class Restore>
  std::optional<Stored> stored_of(Load load, Restore restore,
                                  bool activation = true);

  std::optional<stored_user> stored_user_of(user_key user);
  std::optional<stored_title> stored_title_of(title_key title,
                                              bool activation = true);
  /// What a title's actor starts from: its stored state (if any) with the
  /// catalog's entry; nullopt when there is neither. For an activation
  /// (under the title's shard lock, so that no catalog event slips in), the
  /// catalog learns a stored entry it lacked, and the read is counted.
  std::optional<stored_title> title_start(title_key title,
                                          bool activation = true);

  caf::actor_system& sys_;
  std::shared_ptr<const service_params> params_;
  std::shared_ptr<variant_stats> stats_;
  std::shared_ptr<trending_cell> catalog_;
  std::shared_ptr<state_source> source_;
  clock_fn clock_;
  std::atomic<uint64_t> restored_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> passivated_{0};
  std::atomic<uint64_t> titles_passivated_{0};
  std::atomic<size_t> live_users_{0};
  std::atomic<size_t> live_titles_{0};
  shards<user_actor> users_;
  shards<title_actor> titles_;
};

} // namespace marquee
