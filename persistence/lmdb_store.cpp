#include "persistence/lmdb_store.hpp"

#include "persistence/value_codec.hpp"

#include <lmdb.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

namespace marquee {

namespace {

constexpr uint16_t meta_version = 1;

/// Aborts a transaction unless it was committed.
class txn_guard {
public:
  explicit txn_guard(MDB_txn* txn) : txn_(txn) {
    // nop
  }
  txn_guard(const txn_guard&) = delete;
  txn_guard& operator=(const txn_guard&) = delete;
  ~txn_guard() {
    if (txn_ != nullptr)
      mdb_txn_abort(txn_);
  }
  MDB_txn* get() const { return txn_; }
  int commit() {
    auto rc = mdb_txn_commit(txn_);
    txn_ = nullptr; // committed or freed by LMDB either way
    return rc;
  }

private:
  MDB_txn* txn_;
};

MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string encode_sequence(uint64_t sequence) {
  std::string payload(8, '\0');
  for (size_t i = 0; i < 8; ++i)
    payload[i] = static_cast<char>((sequence >> (8 * i)) & 0xff);
  return frame_value(value_kind::meta, meta_version, payload);
}

} // namespace

struct lmdb_store::impl {
  store_options opts;
  int lock_fd = -1;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::function<void()> before_commit;
  /// Shared by read transactions, exclusive while the map grows: LMDB
  /// forbids resizing while this process has a transaction open.
  mutable std::shared_mutex resize_mu;

  ~impl() {
    if (env != nullptr)
      mdb_env_close(env);
    if (lock_fd >= 0)
      close(lock_fd); // releases the flock
  }

  size_t map_bytes() const {
    MDB_envinfo info;
    mdb_env_info(env, &info);
    return info.me_mapsize;
  }

  /// One attempt at a checkpoint transaction: an LMDB code, or -1 when
  /// `produce` failed with `failed`.
  int try_write(
    const std::function<std::error_code(const lmdb_store::put_fn&)>& produce,
    const std::string& meta, std::error_code& failed) {
    MDB_txn* raw = nullptr;
    if (auto rc = mdb_txn_begin(env, nullptr, 0, &raw); rc != 0)
      return rc;
    txn_guard txn{raw};
    int lmdb_rc = 0;
    failed = produce([&](std::string_view key, std::string_view value) {
      auto k = as_val(key);
      auto v = as_val(value);
      lmdb_rc = mdb_put(txn.get(), dbi, &k, &v, 0);
      return lmdb_rc == 0 ? std::error_code{} : lmdb_error(lmdb_rc);
    });
    if (lmdb_rc != 0)
      return lmdb_rc;
    if (failed)
      return -1;
    auto k = as_val(checkpoint_key);
    auto v = as_val(meta);
    if (auto rc = mdb_put(txn.get(), dbi, &k, &v, 0); rc != 0)
      return rc;
    if (before_commit)
      before_commit();
    return txn.commit();
  }
};

std::unique_ptr<lmdb_store> lmdb_store::open(const store_options& opts,
                                             std::error_code& ec,
                                             std::string& detail) {
  auto ptr = std::make_unique<impl>();
  ptr->opts = opts;
  std::filesystem::create_directories(opts.dir, ec);
  if (ec) {
    detail = "cannot create " + opts.dir + ": " + ec.message();
    return nullptr;
  }
  // One writer per directory: an exclusive lock held for the store's life.
  auto lock_path = (std::filesystem::path{opts.dir} / "marquee.lock").string();
  ptr->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (ptr->lock_fd < 0) {
    ec = std::error_code{errno, std::generic_category()};
    detail = "cannot open " + lock_path + ": " + ec.message();
    return nullptr;
  }
  if (flock(ptr->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    auto n = pread(ptr->lock_fd, buf, sizeof(buf) - 1, 0);
    std::string holder = n > 0 ? std::string{buf, static_cast<size_t>(n)} : "";
    holder.erase(std::remove(holder.begin(), holder.end(), '\n'), holder.end());
    ec = persistence_errc::locked;
    detail = "data directory " + opts.dir +
             " is in use by another marquee process" +
             (holder.empty() ? "" : " (pid " + holder + ")");
    return nullptr;
  }
  auto pid = std::to_string(getpid()) + "\n";
  if (ftruncate(ptr->lock_fd, 0) != 0 ||
      pwrite(ptr->lock_fd, pid.data(), pid.size(), 0) !=
        static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; only the message loses detail.
  }
  auto fail = [&](int rc, const char* what) {
    ec = lmdb_error(rc);
    detail = std::string{what} + " " + opts.dir + ": " + mdb_strerror(rc);
    return nullptr;
  };
  if (auto rc = mdb_env_create(&ptr->env); rc != 0)
    return fail(rc, "cannot create the LMDB environment for");
  if (auto rc = mdb_env_set_mapsize(ptr->env, opts.initial_map_bytes); rc != 0)
    return fail(rc, "cannot size the LMDB map of");
  // MDB_NOTLS: read transactions are not tied to the thread that began them.
  // No MDB_WRITEMAP: a commit writes its pages with write(2), and the map
  // stays read-only (ADR 28).
  if (auto rc = mdb_env_open(ptr->env, opts.dir.c_str(), MDB_NOTLS, 0644);
      rc != 0)
    return fail(rc, "cannot open the LMDB environment in");
  MDB_txn* raw = nullptr;
  if (auto rc = mdb_txn_begin(ptr->env, nullptr, 0, &raw); rc != 0)
    return fail(rc, "cannot begin a transaction in");
  txn_guard txn{raw};
  if (auto rc = mdb_dbi_open(txn.get(), nullptr, 0, &ptr->dbi); rc != 0)
    return fail(rc, "cannot open the database in");
  if (auto rc = txn.commit(); rc != 0)
    return fail(rc, "cannot commit the first transaction in");
  return std::unique_ptr<lmdb_store>{new lmdb_store(std::move(ptr))};
}

lmdb_store::lmdb_store(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

lmdb_store::~lmdb_store() = default;

std::error_code lmdb_store::write_checkpoint(std::vector<store_record> records,
                                             uint64_t sequence) {
  std::sort(records.begin(), records.end(),
            [](const auto& x, const auto& y) { return x.key < y.key; });
  return write_checkpoint(
    [&records](const put_fn& put) {
      for (const auto& r : records)
        if (auto ec = put(r.key, r.value))
          return ec;
      return std::error_code{};
    },
    sequence);
}

std::error_code lmdb_store::write_checkpoint(
  const std::function<std::error_code(const put_fn&)>& produce,
  uint64_t sequence) {
  auto meta = encode_sequence(sequence);
  for (;;) {
    std::error_code failed;
    auto rc = impl_->try_write(produce, meta, failed);
    if (rc == -1)
      return failed;
    if (rc != MDB_MAP_FULL)
      return lmdb_error(rc);
    // Grow and retry; no transaction is open here, as LMDB requires.
    auto size = impl_->map_bytes();
    if (size >= impl_->opts.max_map_bytes)
      return persistence_errc::map_limit;
    auto next = std::min(size * 2, impl_->opts.max_map_bytes);
    std::unique_lock<std::shared_mutex> no_readers{impl_->resize_mu};
    if (auto grow = mdb_env_set_mapsize(impl_->env, next); grow != 0)
      return lmdb_error(grow);
  }
}

std::error_code lmdb_store::get(std::string_view key, std::string& out) const {
  std::shared_lock<std::shared_mutex> reading{impl_->resize_mu};
  MDB_txn* raw = nullptr;
  if (auto rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &raw); rc != 0)
    return lmdb_error(rc);
  txn_guard txn{raw};
  auto k = as_val(key);
  MDB_val v;
  auto rc = mdb_get(txn.get(), impl_->dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return persistence_errc::not_found;
  if (rc != 0)
    return lmdb_error(rc);
  out.assign(static_cast<const char*>(v.mv_data), v.mv_size);
  return {};
}

std::error_code
lmdb_store::keys_with_prefix(std::string_view prefix,
                             std::vector<std::string>& out) const {
  std::shared_lock<std::shared_mutex> reading{impl_->resize_mu};
  MDB_txn* raw = nullptr;
  if (auto rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &raw); rc != 0)
    return lmdb_error(rc);
  txn_guard txn{raw};
  MDB_cursor* cursor = nullptr;
  if (auto rc = mdb_cursor_open(txn.get(), impl_->dbi, &cursor); rc != 0)
    return lmdb_error(rc);
  auto k = as_val(prefix);
  MDB_val v;
  auto rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key{static_cast<const char*>(k.mv_data), k.mv_size};
    if (key.substr(0, prefix.size()) != prefix)
      break;
    out.emplace_back(key);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  return rc == 0 || rc == MDB_NOTFOUND ? std::error_code{} : lmdb_error(rc);
}

std::error_code lmdb_store::checkpoint_sequence(uint64_t& out) const {
  std::string value;
  auto ec = get(checkpoint_key, value);
  if (ec == persistence_errc::not_found) {
    out = 0;
    return {};
  }
  if (ec)
    return ec;
  framed_value framed;
  if (auto err = unframe_value(value, value_kind::meta, meta_version, framed))
    return err;
  if (framed.payload.size() != 8)
    return persistence_errc::undecodable;
  out = 0;
  for (size_t i = 0; i < 8; ++i)
    out |= static_cast<uint64_t>(static_cast<uint8_t>(framed.payload[i]))
           << (8 * i);
  return {};
}

size_t lmdb_store::map_bytes() const {
  return impl_->map_bytes();
}

void lmdb_store::set_before_commit(std::function<void()> hook) {
  impl_->before_commit = std::move(hook);
}

} // namespace marquee
