#pragma once

/// The state source of the actors (messages/state_source.hpp) backed by the
/// LMDB store: reads `u/<id>` and `t/<id>` and decodes them.
///
/// Thread-safe: LMDB read transactions (MDB_NOTLS) and the interners may be
/// used from any thread, concurrently with the checkpoint writer.

#include "messages/state_source.hpp"
#include "persistence/lmdb_store.hpp"

#include <atomic>
#include <memory>

namespace marquee {

class lmdb_state_source : public state_source {
public:
  lmdb_state_source(std::shared_ptr<const lmdb_store> store,
                    std::shared_ptr<id_tables> ids);

  std::optional<user_snapshot_data> load_user(user_key user) override;
  std::optional<title_snapshot_data> load_title(title_key title) override;
  bool has_user(std::string_view id) override;
  bool has_title(std::string_view id) override;
  uint64_t unreadable() const override { return unreadable_.load(); }

private:
  std::shared_ptr<const lmdb_store> store_;
  std::shared_ptr<id_tables> ids_;
  std::atomic<uint64_t> unreadable_{0};
};

} // namespace marquee
