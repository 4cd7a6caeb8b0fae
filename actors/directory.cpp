#include "actors/directory.hpp"

namespace marquee {

directory::directory(caf::actor_system& sys,
                     std::shared_ptr<const service_params> p,
                     trending_actor trending,
                     std::shared_ptr<state_source> source)
  : sys_(sys), params_(std::move(p)), trending_(std::move(trending)),
    source_(std::move(source)) {
  // nop
}

template <class Handle, class Spawn>
Handle directory::get_or_spawn(shards<Handle>& xs, uint32_t key, Spawn spawn) {
  auto& sh = xs[key % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  auto i = sh.actors.find(key);
  if (i != sh.actors.end())
    return i->second;
  auto hdl = spawn();
  sh.actors.emplace(key, hdl);
  return hdl;
}

template <class Handle, class Restore>
std::optional<Handle> directory::find(shards<Handle>& xs, uint32_t key,
                                      Restore restore) {
  auto& sh = xs[key % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  auto i = sh.actors.find(key);
  if (i != sh.actors.end())
    return i->second;
  auto hdl = restore();
  if (hdl)
    sh.actors.emplace(key, *hdl);
  return hdl;
}

template <class Stored, class Load, class Restore>
std::optional<Stored> directory::stored_of(Load load, Restore restore) {
  if (!source_)
    return std::nullopt;
  auto snap = load(*source_);
  if (!snap)
    return std::nullopt;
  auto state = restore(*snap);
  if (!state) {
    refused_.fetch_add(1);
    return std::nullopt;
  }
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

std::optional<stored_title> directory::stored_title_of(title_key title) {
  return stored_of<stored_title>(
    [title](state_source& src) { return src.load_title(title); },
    [this](const title_snapshot_data& s) {
      return restore_title(s, params_->trending);
    });
}

template <class Handle>
size_t directory::count(const shards<Handle>& xs) {
  size_t n = 0;
  for (auto& sh : xs) {
    std::lock_guard<std::mutex> guard{sh.mu};
    n += sh.actors.size();
  }
  return n;
}

user_actor directory::user(user_key user) {
  return get_or_spawn(users_, user, [&] {
    return spawn_user_actor(sys_, user, params_, stored_user_of(user));
  });
}

std::optional<user_actor> directory::find_user(user_key user) {
  return find(users_, user, [&]() -> std::optional<user_actor> {
    auto stored = stored_user_of(user);
    if (!stored)
      return std::nullopt;
    return spawn_user_actor(sys_, user, params_, std::move(stored));
  });
}

std::optional<user_key> directory::known_user(std::string_view id,
                                              interner& users) {
  if (auto key = users.find(id))
    return key;
  if (source_ && source_->has_user(id))
    return users.intern(id);
  return std::nullopt;
}

title_actor directory::title(title_key title) {
  return get_or_spawn(titles_, title, [&] {
    return spawn_title_actor(sys_, title, params_, trending_,
                             stored_title_of(title));
  });
}

std::optional<title_actor> directory::find_title(title_key title) {
  return find(titles_, title, [&]() -> std::optional<title_actor> {
    auto stored = stored_title_of(title);
    if (!stored)
      return std::nullopt;
    return spawn_title_actor(sys_, title, params_, trending_,
                             std::move(stored));
  });
}

size_t directory::user_count() const {
  return count(users_);
}

size_t directory::title_count() const {
  return count(titles_);
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
}

} // namespace marquee
