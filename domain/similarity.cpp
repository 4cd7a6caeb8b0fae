#include "domain/similarity.hpp"

#include "domain/vectors.hpp"

#include <algorithm>
#include <cmath>

namespace marquee {

double pair_weight(const similarity_params& p, uint32_t j) {
  if (j == 0 || j > p.window)
    return 0;
  return std::pow(p.position_decay, static_cast<double>(j - 1));
}

namespace {

/// A function object, not a function: passed by pointer, a comparison
/// was a call per step of every partner lookup (a tenth of the scheduler
/// threads' samples in a profile of core-mode plays).
struct by_title_t {
  bool operator()(const co_play& x, const co_play& y) const {
    return x.title < y.title;
  }
};
constexpr by_title_t by_title{};

/// The first of the `n` partners from `base` (sorted by title, n > 0) whose
/// title is not below `t`, or `base + n`. Branchless, the step a
/// conditional move instead of a jump mispredicted half the time, and both
/// possible next probes fetched ahead, since a title's list is seldom in
/// the cache: 100-110 ns per co-play added where std::lower_bound took
/// 125-145 (3 x 4 million Zipf pairs over 2,000 titles; it was a fifth of
/// the scheduler threads' time). Without the prefetch it was slower.
const co_play* lower_bound_title(const co_play* base, size_t n, title_key t) {
  while (n > 1) {
    auto half = n / 2;
    __builtin_prefetch(base + half / 2);
    __builtin_prefetch(base + half + half / 2);
    base = base[half].title < t ? base + half : base;
    n -= half;
  }
  return base + (base->title < t ? 1 : 0);
}

} // namespace

void partner_list::add(title_key b, float w) {
  auto sorted_end = items_.begin() + sorted_;
  auto i = sorted_end;
  if (sorted_ > 0)
    i = items_.begin() +
        (lower_bound_title(items_.data(), sorted_, b) - items_.data());
  if (i == sorted_end || i->title != b)
    i = std::find_if(sorted_end, items_.end(),
                     [b](const co_play& c) { return c.title == b; });
  if (i == items_.end()) {
    if (items_.size() - sorted_ >= tail_max)
      merge_tail();
    reserve_more(items_, 1);
    items_.push_back({b, w, 1});
    return;
  }
  i->weight += w;
  ++i->support;
}

void partner_list::merge_tail() {
  auto mid = items_.begin() + sorted_;
  std::sort(mid, items_.end(), by_title);
  std::inplace_merge(items_.begin(), mid, items_.end(), by_title);
  sorted_ = static_cast<uint32_t>(items_.size());
}

void partner_list::assign(std::vector<co_play> partners) {
  std::sort(partners.begin(), partners.end(), by_title);
  items_.clear();
  items_.reserve(partners.size());
  for (const auto& c : partners)
    if (!items_.empty() && items_.back().title == c.title) {
      items_.back().weight += c.weight;
      items_.back().support += c.support;
    } else {
      items_.push_back(c);
    }
  items_.shrink_to_fit();
  sorted_ = static_cast<uint32_t>(items_.size());
}

void partner_list::keep_strongest(size_t keep) {
  if (keep < items_.size()) {
    std::nth_element(items_.begin(), items_.begin() + keep, items_.end(),
                     [](const co_play& x, const co_play& y) {
                       return x.weight != y.weight ? x.weight > y.weight
                                                   : x.title < y.title;
                     });
    items_.resize(keep);
  }
  std::sort(items_.begin(), items_.end(), by_title);
  items_.shrink_to_fit();
  sorted_ = static_cast<uint32_t>(items_.size());
}

co_play_table::entry& co_play_table::at(title_key t) {
  if (auto* e = find(t))
    return *e;
  cover_index(slot_, t);
  entries_.emplace_back();
  slot_[t] = static_cast<uint32_t>(entries_.size());
  return entries_.back();
}

void co_play_table::add(title_key a, title_key b, float w) {
  if (a == b || w <= 0)
    return;
  auto& e = at(a);
  e.co.add(b, w);
  e.dirty = true;
  mark(a);
  if (e.co.size() > 2 * static_cast<size_t>(p_->kept))
    e.co.keep_strongest(p_->kept);
}

void co_play_table::grow(title_key t) {
  cover_index(plays_, t);
  cover_index(norms_, t, 1.0);
  cover_index(neighbour_norms_, t, 1.0);
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
  if (auto* e = find(t))
    e->dirty = true;
}

void co_play_table::set_plays(title_key t, uint32_t plays) {
  grow(t);
  plays_[t] = plays;
  norms_[t] = std::pow(std::max<double>(plays, 1.0), p_->popularity_exponent);
  neighbour_norms_[t] =
    std::pow(std::max<double>(plays, 1.0), p_->neighbour_exponent);
}

const std::vector<neighbour>& co_play_table::neighbours_of(title_key a) {
  auto* found = find(a);
  if (found == nullptr)
    return none_;
  auto& e = *found;
  if (!e.dirty)
    return e.top;
  auto na = norm(a);
  e.top.clear();
  e.top.reserve(e.co.size());
  for (const auto& c : e.co.items()) {
    if (c.support < p_->min_support)
      continue;
    double w = c.weight;
    e.top.push_back(
      {c.title, w / (na * neighbour_norm(c.title)) * (w / (w + p_->shrink))});
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
  const auto* e = find(a);
  if (e == nullptr)
    return {};
  return e->co.items();
}

void co_play_table::set_partners(title_key a, std::vector<co_play> partners) {
  auto& e = at(a);
  e.co.assign(std::move(partners));
  e.dirty = true;
}

std::vector<title_key> co_play_table::take_changed() {
  return changed_.take();
}

size_t co_play_table::partners() const {
  size_t n = 0;
  for (const auto& e : entries_)
    n += e.co.size();
  return n;
}

} // namespace marquee
