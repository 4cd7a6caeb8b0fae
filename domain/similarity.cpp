#include "domain/similarity.hpp"

#include <algorithm>
#include <cmath>

namespace marquee {

double pair_weight(const similarity_params& p, uint32_t j) {
  if (j == 0 || j > p.window)
    return 0;
  return std::pow(p.position_decay, static_cast<double>(j - 1));
}

void co_play_table::add(title_key a, title_key b, float w) {
  if (a == b || w <= 0)
    return;
  auto& e = entries_[a];
  auto& pair = e.co[b];
  pair.weight += w;
  ++pair.support;
  e.dirty = true;
  mark(a);
  if (e.co.size() > 2 * static_cast<size_t>(p_->kept))
    prune(e);
}

void co_play_table::grow(title_key t) {
  if (t < plays_.size())
    return;
  auto n = static_cast<size_t>(t) + 1 + plays_.size() / 2;
  plays_.resize(n);
  norms_.resize(n, 1.0);
  neighbour_norms_.resize(n, 1.0);
}

void co_play_table::count_play(title_key t) {
  grow(t);
  ++plays_[t];
  norms_[t] = std::pow(static_cast<double>(plays_[t]), p_->popularity_exponent);
  neighbour_norms_[t] =
    std::pow(static_cast<double>(plays_[t]), p_->neighbour_exponent);
  mark(t);
  // Its own scores change with its play count. (Partners' counts change
  // its scores too; those are taken up at its next co-play.)
  if (auto i = entries_.find(t); i != entries_.end())
    i->second.dirty = true;
}

void co_play_table::set_plays(title_key t, uint32_t plays) {
  grow(t);
  plays_[t] = plays;
  norms_[t] = std::pow(std::max<double>(plays, 1.0), p_->popularity_exponent);
  neighbour_norms_[t] =
    std::pow(std::max<double>(plays, 1.0), p_->neighbour_exponent);
}

void co_play_table::prune(entry& e) const {
  std::vector<std::pair<float, title_key>> all;
  all.reserve(e.co.size());
  for (const auto& [t, pair] : e.co)
    all.emplace_back(pair.weight, t);
  auto keep = std::min<size_t>(p_->kept, all.size());
  std::nth_element(all.begin(), all.begin() + keep, all.end(),
                   [](const auto& x, const auto& y) {
                     return x.first != y.first ? x.first > y.first
                                               : x.second < y.second;
                   });
  std::unordered_map<title_key, pair_state> kept;
  kept.reserve(keep);
  for (size_t i = 0; i < keep; ++i)
    kept.emplace(all[i].second, e.co.at(all[i].second));
  e.co.swap(kept);
}

const std::vector<neighbour>& co_play_table::neighbours_of(title_key a) {
  auto i = entries_.find(a);
  if (i == entries_.end())
    return none_;
  auto& e = i->second;
  if (!e.dirty)
    return e.top;
  auto na = norm(a);
  e.top.clear();
  e.top.reserve(e.co.size());
  for (const auto& [t, pair] : e.co) {
    if (pair.support < p_->min_support)
      continue;
    double w = pair.weight;
    e.top.push_back({t, w / (na * neighbour_norm(t)) * (w / (w + p_->shrink))});
  }
  auto better = [](const neighbour& x, const neighbour& y) {
    return x.score != y.score ? x.score > y.score : x.title < y.title;
  };
  auto keep = std::min<size_t>(p_->neighbours, e.top.size());
  std::partial_sort(e.top.begin(), e.top.begin() + keep, e.top.end(), better);
  e.top.resize(keep);
  e.top.shrink_to_fit();
  e.dirty = false;
  return e.top;
}

std::vector<co_play> co_play_table::partners_of(title_key a) const {
  std::vector<co_play> out;
  auto i = entries_.find(a);
  if (i == entries_.end())
    return out;
  out.reserve(i->second.co.size());
  for (const auto& [t, pair] : i->second.co)
    out.push_back({t, pair.weight, pair.support});
  return out;
}

void co_play_table::set_partners(title_key a, std::vector<co_play> partners) {
  auto& e = entries_[a];
  e.co.clear();
  for (const auto& c : partners) {
    auto& pair = e.co[c.title];
    pair.weight += c.weight;
    pair.support += c.support;
  }
  e.dirty = true;
}

std::vector<title_key> co_play_table::take_changed() {
  std::vector<title_key> out;
  out.swap(changed_);
  for (auto t : out)
    is_changed_[t] = 0;
  return out;
}

size_t co_play_table::partners() const {
  size_t n = 0;
  for (const auto& [t, e] : entries_)
    n += e.co.size();
  return n;
}

} // namespace marquee
