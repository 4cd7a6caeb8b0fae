#include "persistence/lmdb_state_source.hpp"

#include "persistence/state_codec.hpp"

namespace marquee {

lmdb_state_source::lmdb_state_source(std::shared_ptr<const lmdb_store> store,
                                     std::shared_ptr<id_tables> ids)
  : store_(std::move(store)), ids_(std::move(ids)) {
  // nop
}

std::optional<user_snapshot_data> lmdb_state_source::load_user(user_key user) {
  if (user >= ids_->users.size())
    return std::nullopt; // not an interned key (e.g. `no_user`)
  std::string raw;
  auto ec = store_->get(user_store_key(ids_->users.name(user)), raw);
  if (ec == persistence_errc::not_found)
    return std::nullopt;
  user_snapshot_data out;
  if (ec || decode_user_value(raw, *ids_, out)) {
    unreadable_.fetch_add(1);
    return std::nullopt;
  }
  return out;
}

bool lmdb_state_source::has_user(std::string_view id) {
  std::string raw;
  return !store_->get(user_store_key(id), raw);
}

bool lmdb_state_source::has_title(std::string_view id) {
  std::string raw;
  return !store_->get(title_store_key(id), raw);
}

std::optional<title_snapshot_data>
lmdb_state_source::load_title(title_key title) {
  if (title >= ids_->titles.size())
    return std::nullopt; // not an interned key (e.g. `no_title`)
  std::string raw;
  auto ec = store_->get(title_store_key(ids_->titles.name(title)), raw);
  if (ec == persistence_errc::not_found)
    return std::nullopt;
  title_snapshot_data out;
  if (ec || decode_title_value(raw, *ids_, out)) {
    unreadable_.fetch_add(1);
    return std::nullopt;
  }
  return out;
}

} // namespace marquee
