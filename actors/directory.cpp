#include "actors/directory.hpp"

#include "actors/title_actor.hpp"
#include "actors/user_actor.hpp"

namespace marquee {

directory::directory(caf::actor_system& sys,
                     std::shared_ptr<const service_params> p,
                     trending_actor trending)
  : sys_(sys), params_(std::move(p)), trending_(std::move(trending)) {
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

template <class Handle>
std::optional<Handle> directory::find(const shards<Handle>& xs, uint32_t key) {
  auto& sh = xs[key % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  auto i = sh.actors.find(key);
  if (i == sh.actors.end())
    return std::nullopt;
  return i->second;
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
  return get_or_spawn(users_, user,
                      [&] { return spawn_user_actor(sys_, user, params_); });
}

std::optional<user_actor> directory::find_user(user_key user) const {
  return find(users_, user);
}

title_actor directory::title(title_key title) {
  return get_or_spawn(titles_, title, [&] {
    return spawn_title_actor(sys_, title, params_, trending_);
  });
}

std::optional<title_actor> directory::find_title(title_key title) const {
  return find(titles_, title);
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
