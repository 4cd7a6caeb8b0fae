#include "actors/directory.hpp"

#include <caf/send.hpp>

#include <algorithm>
#include <vector>

namespace marquee {

directory::directory(caf::actor_system& sys,
                     std::shared_ptr<const service_params> p,
                     std::shared_ptr<trending_cell> catalog,
                     std::shared_ptr<state_source> source, clock_fn clock)
  : sys_(sys), params_(std::move(p)), stats_(std::make_shared<variant_stats>(
                                        params_->experiments.variants.size())),
    catalog_(std::move(catalog)), source_(std::move(source)),
    clock_(clock ? std::move(clock) : clock_fn{&directory::clock_ms}) {
  // nop
}

template <class Handle, class Spawn>
Handle directory::get_or_spawn(shards<Handle>& xs, std::atomic<size_t>& live,
                               uint32_t key, Spawn spawn) {
  auto now = clock_();
  auto& sh = xs[key % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  auto i = sh.actors.find(key);
  if (i != sh.actors.end()) {
    i->second.used_ms = now;
    // The handle alone: the ingest thread asks for every event's actors.
    return i->second.actor;
  }
  entry<Handle> e = spawn();
  e.used_ms = now;
  auto actor = e.actor;
  sh.actors.emplace(key, std::move(e));
  live.fetch_add(1);
  return actor;
}

template <class Handle, class Restore>
std::optional<directory::entry<Handle>>
directory::find(shards<Handle>& xs, std::atomic<size_t>& live, uint32_t key,
                Restore restore) {
  auto now = clock_();
  auto& sh = xs[key % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  auto i = sh.actors.find(key);
  if (i != sh.actors.end()) {
    i->second.used_ms = now;
    return i->second;
  }
  std::optional<entry<Handle>> e = restore();
  if (e) {
    e->used_ms = now;
    sh.actors.emplace(key, *e);
    live.fetch_add(1);
  }
  return e;
}

template <class Handle, class Part>
auto directory::live(const shards<Handle>& xs, uint32_t key, Part part) {
  using result = std::optional<decltype(part(std::declval<entry<Handle>>()))>;
  auto& sh = xs[key % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  auto i = sh.actors.find(key);
  if (i == sh.actors.end())
    return result{};
  // Only the part asked for: copying an actor handle is an atomic add on a
  // counter that the actor's senders touch too (the checkpoint writer asks
  // for every changed user's cell).
  return result{part(i->second)};
}

std::shared_ptr<user_cell> directory::live_user_cell(user_key user) const {
  auto cell = live(users_, user, [](const auto& e) { return e.cell; });
  return cell ? std::move(*cell) : nullptr;
}

std::optional<title_actor> directory::live_title(title_key title) const {
  return live(titles_, title, [](const auto& e) { return e.actor; });
}

template <class Stored, class Load, class Restore>
std::optional<Stored> directory::stored_of(Load load, Restore restore,
                                           bool activation) {
  if (!source_)
    return std::nullopt;
  auto snap = load(*source_);
  if (!snap)
    return std::nullopt;
  auto state = restore(*snap);
  if (!state) {
    if (activation)
      refused_.fetch_add(1);
    return std::nullopt;
  }
  if (activation)
    restored_.fetch_add(1);
  return Stored{std::move(*state), snap->last_sequence};
}

std::optional<stored_user> directory::stored_user_of(user_key user) {
  return stored_of<stored_user>(
    [user](state_source& src) { return src.load_user(user); },
    [this](const user_snapshot_data& s) {
      return restore_user(s, params_->user);
    });
}

std::optional<stored_title> directory::stored_title_of(title_key title,
                                                       bool activation) {
  return stored_of<stored_title>(
    [title](state_source& src) { return src.load_title(title); },
    [this](const title_snapshot_data& s) {
      return restore_title(s, params_->trending);
    },
    activation);
}

directory::entry<user_actor>
directory::spawn_user(user_key user, std::optional<stored_user> stored) {
  auto cell =
    std::make_shared<user_cell>(user, params_, std::move(stored), stats_);
  auto actor = spawn_user_actor(sys_, cell);
  return {std::move(actor), std::move(cell)};
}

user_actor directory::user(user_key user) {
  return get_or_spawn(users_, live_users_, user,
                      [&] { return spawn_user(user, stored_user_of(user)); });
}

std::optional<directory::user_handles>
directory::find_user_cell(user_key user) {
  auto e =
    find(users_, live_users_, user, [&]() -> std::optional<entry<user_actor>> {
      auto stored = stored_user_of(user);
      if (!stored)
        return std::nullopt;
      return spawn_user(user, std::move(stored));
    });
  if (!e)
    return std::nullopt;
  return user_handles{std::move(e->actor), std::move(e->cell)};
}

std::optional<user_actor> directory::find_user(user_key user) {
  if (auto h = find_user_cell(user))
    return std::move(h->actor);
  return std::nullopt;
}

std::optional<user_key> directory::known_user(std::string_view id,
                                              interner& users) {
  if (auto key = users.find(id))
    return key;
  if (source_ && source_->has_user(id))
    return users.intern_known(id);
  return std::nullopt;
}

std::optional<title_key> directory::known_title(std::string_view id,
                                                interner& titles) {
  if (auto key = titles.find(id))
    return key;
  if (source_ && source_->has_title(id))
    return titles.intern_known(id);
  return std::nullopt;
}

std::optional<stored_title> directory::title_start(title_key title,
                                                   bool activation) {
  auto stored = stored_title_of(title, activation);
  if (auto meta = catalog_->meta_of(title)) {
    if (!stored)
      stored = stored_title{};
    stored->state.apply_catalog(std::move(*meta));
  } else if (activation && stored && stored->state.meta()) {
    catalog_->catalog(catalog_event{title, *stored->state.meta()});
  }
  return stored;
}

title_actor directory::title(title_key title) {
  return get_or_spawn(titles_, live_titles_, title, [&] {
    return entry<title_actor>{
      spawn_title_actor(sys_, title, params_, catalog_, title_start(title)),
      nullptr};
  });
}

std::optional<title_actor> directory::find_title(title_key title) {
  auto e = find(
    titles_, live_titles_, title, [&]() -> std::optional<entry<title_actor>> {
      auto start = title_start(title);
      if (!start)
        return std::nullopt;
      return entry<title_actor>{
        spawn_title_actor(sys_, title, params_, catalog_, std::move(start)),
        nullptr};
    });
  if (!e)
    return std::nullopt;
  return std::move(e->actor);
}

void directory::catalog(const catalog_event& ev) {
  auto& sh = titles_[ev.title % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  catalog_->catalog(ev);
  if (auto i = sh.actors.find(ev.title); i != sh.actors.end())
    caf::anon_send(i->second.actor, ev);
}

std::optional<stored_title> directory::stored_title_to_store(title_key title) {
  return title_start(title, false);
}

template <class Handle, class Key>
size_t directory::passivate(shards<Handle>& xs, std::atomic<size_t>& live_count,
                            std::atomic<uint64_t>& passivated,
                            const std::function<bool(Key)>& pinned,
                            int64_t idle_ms, size_t max_live, int64_t now_ms) {
  // Handles are released when no shard lock is held: an actor that goes
  // with its handle is destroyed outside the locks.
  std::vector<entry<Handle>> released;
  size_t dropped = 0;
  // Counted as passivated before it stops counting as live, so that a
  // reader who sees the live count fall sees every passivation behind it
  // (releasing the handles below can take a while).
  auto drop = [&](auto& sh, auto i) {
    released.push_back(std::move(i->second));
    sh.actors.erase(i);
    passivated.fetch_add(1);
    live_count.fetch_sub(1);
    ++dropped;
  };
  // Idle ones first, shard by shard.
  if (idle_ms > 0) {
    for (auto& sh : xs) {
      std::lock_guard<std::mutex> guard{sh.mu};
      for (auto i = sh.actors.begin(); i != sh.actors.end();) {
        auto next = std::next(i);
        if (now_ms - i->second.used_ms >= idle_ms && !pinned(i->first))
          drop(sh, i);
        i = next;
      }
    }
    released.clear();
  }
  // Then the least recently used beyond the budget. Lookups between the
  // two passes only make an entry more recent, so the cut stays sound.
  auto live = live_count.load();
  if (max_live > 0 && live > max_live) {
    std::vector<std::pair<int64_t, Key>> candidates;
    candidates.reserve(live);
    for (auto& sh : xs) {
      std::lock_guard<std::mutex> guard{sh.mu};
      for (const auto& [key, e] : sh.actors)
        if (!pinned(key))
          candidates.emplace_back(e.used_ms, key);
    }
    auto excess = std::min(live - max_live, candidates.size());
    std::nth_element(candidates.begin(), candidates.begin() + excess,
                     candidates.end());
    candidates.resize(excess);
    for (const auto& [used, key] : candidates) {
      auto& sh = xs[key % shard_count];
      std::lock_guard<std::mutex> guard{sh.mu};
      auto i = sh.actors.find(key);
      // Skip an actor looked up since the scan: it is in use again.
      if (i != sh.actors.end() && i->second.used_ms == used)
        drop(sh, i);
    }
    released.clear();
  }
  return dropped;
}

size_t directory::passivate_users(const std::function<bool(user_key)>& pinned,
                                  const passivation& p, int64_t now_ms) {
  return passivate(users_, live_users_, passivated_, pinned, p.idle_ms,
                   p.max_users, now_ms);
}

size_t directory::passivate_titles(const std::function<bool(title_key)>& pinned,
                                   const passivation& p, int64_t now_ms) {
  return passivate(titles_, live_titles_, titles_passivated_, pinned, p.idle_ms,
                   p.max_titles, now_ms);
}

void directory::clear() {
  for (auto& sh : users_) {
    std::lock_guard<std::mutex> guard{sh.mu};
    sh.actors.clear();
  }
  for (auto& sh : titles_) {
    std::lock_guard<std::mutex> guard{sh.mu};
    sh.actors.clear();
  }
  live_users_.store(0);
  live_titles_.store(0);
}

} // namespace marquee
