#pragma once

/// Ids of users and titles, and their interning into dense 32-bit keys.
///
/// An id is a string of 1 to 64 characters from [A-Za-z0-9_:-] (CONTRACT.md),
/// so that it is a valid NATS subject token. Inside the process every id is
/// interned once, at the edge, and travels as a key.

#include "domain/vectors.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace marquee {

using user_key = uint32_t;
using title_key = uint32_t;
using region_key = uint32_t;
using genre_key = uint32_t;

/// Longest id the contract allows.
constexpr size_t max_id_length = 64;

/// Returns whether `id` is a valid user or title id.
bool is_valid_id(std::string_view id) noexcept;

/// A set of dense keys (interned ids): a flag per key and the keys in the
/// order they came. Adding a key costs a load and, the first time, a push:
/// no node per key as in a hash set (the ingest thread adds every event's
/// user and title). Memory: a byte per key up to the largest added.
class key_set {
public:
  /// Adds `key`; returns whether it was new.
  bool insert(uint32_t key) {
    cover_index(flags_, key);
    if (flags_[key] != 0)
      return false;
    flags_[key] = 1;
    keys_.push_back(key);
    return true;
  }

  template <class Iterator>
  void insert(Iterator first, Iterator last) {
    for (; first != last; ++first)
      insert(*first);
  }

  bool contains(uint32_t key) const {
    return key < flags_.size() && flags_[key] != 0;
  }

  bool empty() const noexcept { return keys_.empty(); }
  size_t size() const noexcept { return keys_.size(); }

  /// The keys, in the order they were first added.
  const std::vector<uint32_t>& keys() const noexcept { return keys_; }

  /// Empties the set, keeping its memory.
  void clear() noexcept {
    for (auto k : keys_)
      flags_[k] = 0;
    keys_.clear();
  }

  /// The keys, in the order they were first added, leaving the set empty.
  std::vector<uint32_t> take() {
    for (auto k : keys_)
      flags_[k] = 0;
    std::vector<uint32_t> out;
    out.swap(keys_);
    return out;
  }

private:
  std::vector<uint8_t> flags_;
  std::vector<uint32_t> keys_;
};

/// Whether a string not interned yet names something that exists anyway
/// (e.g. an id with stored state): such a string is interned past the limit.
using known_fn = std::function<bool(std::string_view)>;

/// Maps strings to dense keys 0, 1, 2, ... and back.
///
/// Two bounds: the capacity (`max_keys`, rounded up to whole chunks), which
/// no key ever passes, and the limit (`set_limit`, the capacity unless set),
/// the operators' cap on distinct strings: past it `intern` takes only
/// strings that `known` says exist elsewhere (stored ids), and
/// `intern_known` takes any string (ids read back from the store).
///
/// Thread-safe: `intern` and `find` lock one of several shards; `name` is
/// lock-free and valid for any key that `intern` returned before (keys reach
/// other threads through messages, which order the accesses). Keys are never
/// reused and names never move, so a `string_view` from `name` lives as long
/// as the interner. `set_limit` only before other threads use it.
class interner {
public:
  /// `max_keys` bounds the number of distinct strings (rounded up to whole
  /// chunks); `intern` returns nullopt once it is reached.
  explicit interner(uint32_t max_keys);
  ~interner();

  interner(const interner&) = delete;
  interner& operator=(const interner&) = delete;

  /// Sets the limit on new strings (at most the capacity) and what is known
  /// to exist past it (may be null: nothing).
  void set_limit(uint32_t limit, known_fn known = nullptr);

  /// The limit on new strings.
  uint32_t limit() const noexcept { return limit_; }

  /// Returns the key of `s`, creating it on first sight while fewer than
  /// `limit()` keys exist, or past that if `s` is known to exist; nullopt
  /// otherwise (or at the capacity).
  std::optional<uint32_t> intern(std::string_view s);

  /// Returns the key of `s`, creating it on first sight up to the capacity,
  /// whatever the limit: for strings that exist (read from the store).
  std::optional<uint32_t> intern_known(std::string_view s);

  /// Whether `intern(s)` would give a key now: `s` is interned, there is
  /// room below the limit, or it is known. A later `intern` can still fail
  /// when other threads take the last room first.
  bool admits(std::string_view s) const;

  /// Returns the key of `s` if it was interned before.
  std::optional<uint32_t> find(std::string_view s) const;

  /// Returns the string of `key`; `key` must come from `intern`.
  std::string_view name(uint32_t key) const noexcept;

  /// Number of keys handed out so far.
  uint32_t size() const noexcept {
    return next_.load(std::memory_order_acquire);
  }

private:
  static constexpr uint32_t chunk_bits = 12;
  static constexpr uint32_t chunk_size = 1u << chunk_bits;
  static constexpr size_t shard_count = 16;

  struct shard {
    mutable std::mutex mu;
    std::unordered_map<std::string_view, uint32_t> keys;
  };

  std::string* slot(uint32_t key);
  std::optional<uint32_t> intern(std::string_view s, bool known);
  /// Reserves the next key below `bound`, or nullopt.
  std::optional<uint32_t> reserve(uint64_t bound);
  uint64_t capacity() const noexcept;

  uint32_t max_chunks_;
  uint32_t limit_;
  known_fn known_;
  std::unique_ptr<std::atomic<std::string*>[]> chunks_;
  std::mutex grow_mu_;
  std::atomic<uint32_t> next_{0};
  shard shards_[shard_count];
};

} // namespace marquee

namespace marquee {

/// Caps on the distinct ids of each kind (`limits.max_*`); the defaults
/// are the configuration's (ADR 0021).
struct id_limits {
  uint32_t users = 20'000'000;
  uint32_t titles = 1'000'000;
  uint32_t regions = 10'000;
  uint32_t genres = 65'536;
};

/// The largest value each limit may take: half the capacity, leaving room
/// for stored ids that come back past the limit.
constexpr id_limits max_id_limits{1u << 28, 1u << 24, 1u << 16, 1u << 16};

/// The interners of one process: users, titles, regions, genres. Without
/// `set_limit`, each holds up to its capacity.
struct id_tables {
  interner users{max_id_limits.users * 2};
  interner titles{max_id_limits.titles * 2};
  interner regions{max_id_limits.regions * 2};
  interner genres{max_id_limits.genres * 2};
};

} // namespace marquee
