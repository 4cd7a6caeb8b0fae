#pragma once

/// The LMDB environment of one data directory: checkpoints in, values out.
///
/// A checkpoint is one write transaction that stores every changed actor's
/// value and the stream sequence it covers, so what is on disk is always
/// one whole checkpoint (LMDB commits atomically; a crash mid-transaction
/// leaves the previous one). Keys are put in sorted order (random order
/// made writes 20x slower and files 60% larger here). When the map is
/// full it doubles, up to `max_map_bytes`, and the transaction is retried.
///
/// One writer: the store holds an exclusive lock on `<dir>/marquee.lock`
/// for its lifetime, so a second process opening the same directory fails
/// at once with `persistence_errc::locked`.
///
/// Thread rules: checkpoints are written from one thread (the checkpoint
/// writer's, actors/checkpointer.hpp); `get` and `checkpoint_sequence` may be
/// called from any thread, concurrently with a write (read transactions,
/// MDB_NOTLS). Errors are `std::error_code`s (persistence/errors.hpp) with a
/// one-line detail for operators.

#include "persistence/errors.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace marquee {

struct store_options {
  /// The directory of data.mdb, lock.mdb and marquee.lock; created if
  /// missing.
  std::string dir;
  /// Map size at first open (default 64 MiB); an existing larger map keeps
  /// its size.
  size_t initial_map_bytes = size_t{64} << 20;
  /// The map never grows past this (default 1 TiB).
  size_t max_map_bytes = size_t{1} << 40;
};

/// One stored key and its (framed) value.
struct store_record {
  std::string key;
  std::string value;
};

class lmdb_store {
public:
  /// Opens (or creates) the store. On failure returns null, sets `ec` and a
  /// one-line `detail` (e.g. which process holds the lock).
  static std::unique_ptr<lmdb_store>
  open(const store_options& opts, std::error_code& ec, std::string& detail);

  lmdb_store(const lmdb_store&) = delete;
  lmdb_store& operator=(const lmdb_store&) = delete;

  /// Closes the environment and releases the lock.
  ~lmdb_store();

  /// Stores `records` and `sequence` in one transaction.
  std::error_code write_checkpoint(std::vector<store_record> records,
                                   uint64_t sequence);

  /// Stores one value; the bytes are copied at once (a buffer may be
  /// reused for the next value). An error ends the checkpoint with it.
  using put_fn = std::function<std::error_code(std::string_view key,
                                               std::string_view value)>;

  /// Stores what `produce` puts, and `sequence`, in one transaction, with no
  /// value held longer than its put. Puts in key order write the fewest
  /// pages. When the map is full, it grows and the transaction starts
  /// again: `produce` may run more than once, and must put the same keys
  /// each time. An error it returns ends the checkpoint with it.
  std::error_code
  write_checkpoint(const std::function<std::error_code(const put_fn&)>& produce,
                   uint64_t sequence);

  /// The stored value of `key` (`persistence_errc::not_found` if none).
  std::error_code get(std::string_view key, std::string& out) const;

  /// Every stored key that starts with `prefix`, in order.
  std::error_code keys_with_prefix(std::string_view prefix,
                                   std::vector<std::string>& out) const;

  /// The sequence of the last committed checkpoint; 0 before the first.
  std::error_code checkpoint_sequence(uint64_t& out) const;

  /// The current map size in bytes.
  size_t map_bytes() const;

  /// Test hook: runs inside each checkpoint transaction after the puts and
  /// before the commit (a crash test can hold the commit open there).
  void set_before_commit(std::function<void()> hook);

  struct impl;

private:
  explicit lmdb_store(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// The key under which the last checkpoint's sequence is kept.
constexpr std::string_view checkpoint_key = "m/checkpoint";

} // namespace marquee
