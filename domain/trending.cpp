#include "domain/trending.hpp"

#include <algorithm>

namespace marquee {

trending_params trending_params::make(double alpha,
                                      std::vector<int64_t> windows_ms,
                                      uint32_t capacity) {
  std::sort(windows_ms.begin(), windows_ms.end());
  windows_ms.erase(std::unique(windows_ms.begin(), windows_ms.end()),
                   windows_ms.end());
  trending_params p;
  p.alpha = alpha;
  p.windows_ms = std::move(windows_ms);
  for (auto w : p.windows_ms)
    p.rates.push_back(decay_rate::of(alpha, w));
  p.capacity = capacity;
  return p;
}

int trending_params::window_index(int64_t window_ms) const {
  auto i = std::find(windows_ms.begin(), windows_ms.end(), window_ms);
  return i == windows_ms.end() ? -1 : static_cast<int>(i - windows_ms.begin());
}

void play_counts::add(int64_t ts, const trending_params& p) {
  decayed.resize(p.windows_ms.size());
  ++plays;
  for (size_t w = 0; w < decayed.size(); ++w)
    decayed[w].add(ts, p.rates[w]);
}

void title_trending::add_play(int64_t ts, region_key region,
                              const trending_params& p) {
  global_.add(ts, p);
  if (region == all_regions)
    return;
  auto i = std::lower_bound(
    regions_.begin(), regions_.end(), region,
    [](const auto& entry, region_key r) { return entry.first < r; });
  if (i == regions_.end() || i->first != region)
    i = regions_.emplace(i, region, play_counts{});
  i->second.add(ts, p);
}

const play_counts* title_trending::find(region_key region) const {
  if (region == all_regions)
    return &global_;
  auto i = std::lower_bound(
    regions_.begin(), regions_.end(), region,
    [](const auto& entry, region_key r) { return entry.first < r; });
  return i != regions_.end() && i->first == region ? &i->second : nullptr;
}

void trending_list::update(title_key title, const decayed_sum& score,
                           uint64_t plays, decay_rate rate, uint32_t capacity) {
  ranked now{score.log_key(rate), title};
  auto i = by_title_.find(title);
  if (i != by_title_.end()) {
    auto at = std::lower_bound(order_.begin(), order_.end(),
                               ranked{i->second.key, title}, by_rank{});
    // Move the title to its new place, shifting those it passes by one.
    if (before(now, *at)) {
      auto to = std::lower_bound(order_.begin(), at, now, by_rank{});
      std::rotate(to, at, at + 1);
      *to = now;
    } else {
      auto to = std::lower_bound(at + 1, order_.end(), now, by_rank{});
      std::rotate(at, at + 1, to);
      *(to - 1) = now;
    }
    i->second = slot{score, plays, now.key};
    return;
  }
  if (by_title_.size() >= capacity) {
    if (capacity == 0 || !(order_.back().key < now.key))
      return;
    by_title_.erase(order_.back().title);
    order_.pop_back();
  }
  by_title_.emplace(title, slot{score, plays, now.key});
  order_.insert(std::lower_bound(order_.begin(), order_.end(), now, by_rank{}),
                now);
}

namespace {

uint64_t list_id(size_t w, region_key region) {
  return (static_cast<uint64_t>(w) << 32) | region;
}

} // namespace

void trending_board::update(title_key title, region_key region,
                            const play_counts& counts) {
  for (size_t w = 0; w < counts.decayed.size(); ++w)
    lists_[list_id(w, region)].update(title, counts.decayed[w], counts.plays,
                                      params_->rates[w], params_->capacity);
}

const trending_list* trending_board::list(size_t w, region_key region) const {
  auto i = lists_.find(list_id(w, region));
  return i == lists_.end() ? nullptr : &i->second;
}

} // namespace marquee
