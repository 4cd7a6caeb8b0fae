#include "domain/co_play_round.hpp"

#include "domain/vectors.hpp"

#include <algorithm>

namespace marquee {

play_rings::ring& play_rings::at(user_key user) {
  cover_index(rings_, user);
  return rings_[user];
}

void play_rings::reserve(ring& r, size_t n) const {
  if (n <= r.capacity)
    return;
  auto grown = std::max<size_t>(n, r.capacity + r.capacity / 4 + 4);
  auto capacity = std::min<size_t>(grown, window_);
  auto titles = std::make_unique<title_key[]>(capacity);
  std::copy_n(r.titles.get(), r.size, titles.get());
  r.titles = std::move(titles);
  r.capacity = static_cast<uint8_t>(capacity);
}

std::vector<title_key> play_rings::get(user_key user) const {
  if (user >= rings_.size())
    return {};
  const auto& r = rings_[user];
  return {r.titles.get(), r.titles.get() + r.size};
}

void play_rings::set(user_key user, const std::vector<title_key>& titles) {
  auto& r = at(user);
  auto n = std::min<size_t>(titles.size(), window_);
  reserve(r, n);
  std::copy_n(titles.begin(), n, r.titles.get());
  r.size = static_cast<uint8_t>(n);
  r.loaded = true;
}

bool play_rings::play(user_key user, title_key title,
                      std::vector<title_key>& out) {
  auto& r = at(user);
  r.loaded = true;
  auto first = r.titles.get();
  auto last = first + r.size;
  auto found = std::find(first, last, title);
  if (found != last) {
    std::rotate(first, found, found + 1); // to the front
    return false;
  }
  out.insert(out.end(), first, last);
  if (window_ == 0)
    return true;
  // Shift right by one (dropping the oldest when full), then the front.
  auto size = std::min<size_t>(r.size + size_t{1}, window_);
  reserve(r, size);
  first = r.titles.get();
  std::copy_backward(first, first + size - 1, first + size);
  *first = title;
  r.size = static_cast<uint8_t>(size);
  return true;
}

void co_play_pairer::add(user_key user, title_key title, uint64_t sequence) {
  co_play_round::play pl{title, sequence,
                         static_cast<uint32_t>(round_.pairs.size()), 0};
  earlier_.clear();
  if (rings_.play(user, title, earlier_)) {
    for (size_t j = 0; j < earlier_.size(); ++j) {
      auto w = pair_weight(*p_, static_cast<uint32_t>(j + 1));
      if (w > 0)
        round_.pairs.push_back({earlier_[j], static_cast<float>(w)});
    }
    pl.pair_count = static_cast<uint32_t>(round_.pairs.size()) - pl.first_pair;
  }
  round_.plays.push_back(pl);
  changed_.insert(user);
}

co_play_round co_play_pairer::take() {
  co_play_round out;
  std::swap(out, round_);
  return out;
}

std::vector<std::pair<user_key, std::vector<title_key>>>
co_play_pairer::take_changed() {
  std::vector<std::pair<user_key, std::vector<title_key>>> out;
  out.reserve(changed_.size());
  for (auto u : changed_.take())
    out.emplace_back(u, rings_.get(u));
  return out;
}

} // namespace marquee
