#pragma once

/// Ids of users and titles, and their interning into dense 32-bit keys.
///
/// An id is a string of 1 to 64 characters from [A-Za-z0-9_:-] (CONTRACT.md),
/// so that it is a valid NATS subject token. Inside the process every id is
/// interned once, at the edge, and travels as a key.

#include <atomic>
#include <cstdint>
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

/// Maps strings to dense keys 0, 1, 2, ... and back.
///
/// Thread-safe: `intern` and `find` lock one of several shards; `name` is
/// lock-free and valid for any key that `intern` returned before (keys reach
/// other threads through messages, which order the accesses). Keys are never
/// reused and names never move, so a `string_view` from `name` lives as long
/// as the interner.
class interner {
public:
  /// `max_keys` bounds the number of distinct strings (rounded up to whole
  /// chunks); `intern` returns nullopt once it is reached.
  explicit interner(uint32_t max_keys);
  ~interner();

  interner(const interner&) = delete;
  interner& operator=(const interner&) = delete;

  /// Returns the key of `s`, creating it on first sight.
  std::optional<uint32_t> intern(std::string_view s);

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

  uint32_t max_chunks_;
  std::unique_ptr<std::atomic<std::string*>[]> chunks_;
  std::mutex grow_mu_;
  std::atomic<uint32_t> next_{0};
  shard shards_[shard_count];
};

} // namespace marquee

namespace marquee {

/// The interners of one process: users, titles, regions, genres.
struct id_tables {
  interner users{1u << 28};
  interner titles{1u << 24};
  interner regions{1u << 16};
  interner genres{1u << 16};
};

} // namespace marquee
