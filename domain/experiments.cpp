#include "domain/experiments.hpp"

#include <algorithm>

namespace marquee {

size_t experiment_params::find(std::string_view name) const {
  for (size_t i = 0; i < variants.size(); ++i)
    if (variants[i].name == name)
      return i;
  return npos;
}

size_t experiment_params::assign(std::string_view user) const {
  uint64_t total = 0;
  for (const auto& v : variants)
    total += v.share;
  if (total == 0)
    return 0;
  auto bucket = stable_hash(salt, user) % total;
  for (size_t i = 0; i < variants.size(); ++i) {
    if (bucket < variants[i].share)
      return i;
    bucket -= variants[i].share;
  }
  return 0; // unreachable: bucket < total
}

std::string experiment_params::names() const {
  std::string out;
  for (const auto& v : variants)
    out += (out.empty() ? "" : ", ") + v.name;
  return out;
}

uint64_t stable_hash(std::string_view salt, std::string_view user) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix_in = [&h](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ULL;
  };
  for (unsigned char c : salt)
    mix_in(c);
  mix_in(0xff);
  for (unsigned char c : user)
    mix_in(c);
  // splitmix64's finaliser.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

void recommended_titles::remember(const std::vector<title_key>& titles,
                                  int64_t at, uint32_t variant,
                                  uint32_t capacity) {
  // Best-ranked last, so that it is the newest: when the list is longer
  // than the capacity, its top is what stays.
  for (auto t = titles.rbegin(); t != titles.rend(); ++t) {
    auto i = std::find_if(entries_.begin(), entries_.end(),
                          [t](const entry& e) { return e.title == *t; });
    if (i != entries_.end())
      entries_.erase(i);
    entries_.push_back({*t, variant, at});
  }
  if (entries_.size() > capacity)
    entries_.erase(entries_.begin(),
                   entries_.end() - static_cast<std::ptrdiff_t>(capacity));
}

std::optional<uint32_t> recommended_titles::take(title_key title, int64_t ts,
                                                 int64_t window) {
  auto i = std::find_if(entries_.begin(), entries_.end(),
                        [title](const entry& e) { return e.title == title; });
  if (i == entries_.end() || i->at > ts)
    return std::nullopt;
  auto variant = i->variant;
  auto counts = ts - i->at <= window;
  entries_.erase(i);
  if (!counts)
    return std::nullopt;
  return variant;
}

} // namespace marquee
