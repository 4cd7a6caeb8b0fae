#include "domain/ids.hpp"

#include <algorithm>
#include <functional>
#include <limits>

namespace marquee {

bool is_valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_id_length)
    return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

interner::interner(uint32_t max_keys)
  : max_chunks_(static_cast<uint32_t>((uint64_t{max_keys} + chunk_size - 1) /
                                      chunk_size)),
    limit_(static_cast<uint32_t>(capacity())),
    chunks_(new std::atomic<std::string*>[max_chunks_]) {
  for (uint32_t i = 0; i < max_chunks_; ++i)
    chunks_[i].store(nullptr, std::memory_order_relaxed);
}

interner::~interner() {
  for (uint32_t i = 0; i < max_chunks_; ++i)
    delete[] chunks_[i].load(std::memory_order_relaxed);
}

std::string* interner::slot(uint32_t key) {
  auto& chunk = chunks_[key >> chunk_bits];
  auto* ptr = chunk.load(std::memory_order_acquire);
  if (ptr == nullptr) {
    std::lock_guard<std::mutex> guard{grow_mu_};
    ptr = chunk.load(std::memory_order_acquire);
    if (ptr == nullptr) {
      ptr = new std::string[chunk_size];
      chunk.store(ptr, std::memory_order_release);
    }
  }
  return ptr + (key & (chunk_size - 1));
}

uint64_t interner::capacity() const noexcept {
  // Never the largest key: `next_` must not wrap, and that key is the
  // `no_title` / `all_regions` sentinel.
  return std::min<uint64_t>(uint64_t{max_chunks_} * chunk_size,
                            std::numeric_limits<uint32_t>::max());
}

void interner::set_limit(uint32_t limit, known_fn known) {
  limit_ = static_cast<uint32_t>(std::min<uint64_t>(limit, capacity()));
  known_ = std::move(known);
}

std::optional<uint32_t> interner::reserve(uint64_t bound) {
  // Never past `bound`, even with other threads reserving at once.
  auto key = next_.load(std::memory_order_relaxed);
  do {
    if (key >= bound)
      return std::nullopt;
  } while (
    !next_.compare_exchange_weak(key, key + 1, std::memory_order_acq_rel));
  return key;
}

std::optional<uint32_t> interner::intern(std::string_view s) {
  return intern(s, false);
}

std::optional<uint32_t> interner::intern_known(std::string_view s) {
  return intern(s, true);
}

std::optional<uint32_t> interner::intern(std::string_view s, bool known) {
  auto& sh = shards_[std::hash<std::string_view>{}(s) % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  if (auto i = sh.keys.find(s); i != sh.keys.end())
    return i->second;
  auto key = reserve(known ? capacity() : limit_);
  // Past the limit, a string that exists elsewhere still comes in.
  if (!key && !known && known_ && known_(s))
    key = reserve(capacity());
  if (!key)
    return std::nullopt;
  auto* str = slot(*key);
  str->assign(s.data(), s.size());
  sh.keys.emplace(std::string_view{*str}, *key);
  return key;
}

bool interner::admits(std::string_view s) const {
  // Below the limit without a lock; at it, only known strings.
  return size() < limit_ || find(s) || (known_ && known_(s));
}

std::optional<uint32_t> interner::find(std::string_view s) const {
  auto& sh = shards_[std::hash<std::string_view>{}(s) % shard_count];
  std::lock_guard<std::mutex> guard{sh.mu};
  if (auto i = sh.keys.find(s); i != sh.keys.end())
    return i->second;
  return std::nullopt;
}

std::string_view interner::name(uint32_t key) const noexcept {
  auto* ptr = chunks_[key >> chunk_bits].load(std::memory_order_acquire);
  return ptr[key & (chunk_size - 1)];
}

} // namespace marquee
