#include "domain/co_play_round.hpp"

#include <algorithm>

namespace marquee {

void play_rings::ensure(user_key user) {
  if (user < sizes_.size())
    return;
  // Half again as many users: reserved exactly, since `resize` alone would
  // double the capacity (a quarter more memory per user on average).
  auto n = static_cast<size_t>(user) + 1 + sizes_.size() / 2;
  sizes_.reserve(n);
  loaded_.reserve(n);
  titles_.reserve(n * window_);
  sizes_.resize(n);
  loaded_.resize(n);
  titles_.resize(n * window_);
}

std::vector<title_key> play_rings::get(user_key user) const {
  if (user >= sizes_.size())
    return {};
  auto first = titles_.begin() + static_cast<ptrdiff_t>(user) * window_;
  return {first, first + sizes_[user]};
}

void play_rings::set(user_key user, const std::vector<title_key>& titles) {
  ensure(user);
  auto n = std::min<size_t>(titles.size(), window_);
  std::copy_n(titles.begin(), n,
              titles_.begin() + static_cast<ptrdiff_t>(user) * window_);
  sizes_[user] = static_cast<uint8_t>(n);
  loaded_[user] = 1;
}

bool play_rings::play(user_key user, title_key title,
                      std::vector<title_key>& out) {
  ensure(user);
  loaded_[user] = 1;
  auto first = titles_.begin() + static_cast<ptrdiff_t>(user) * window_;
  auto size = sizes_[user];
  auto last = first + size;
  auto found = std::find(first, last, title);
  if (found != last) {
    std::rotate(first, found, found + 1); // to the front
    return false;
  }
  out.insert(out.end(), first, last);
  if (window_ == 0)
    return true;
  if (size < window_)
    ++sizes_[user];
  // Shift right by one (dropping the oldest when full), then the front.
  std::copy_backward(first, first + std::min<size_t>(size, window_ - 1),
                     first + std::min<size_t>(size + 1, window_));
  *first = title;
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
