#include "tools/prequential.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

namespace marquee::prequential {

namespace {

/// MT19937's `init_by_array`, which Python's `seed(int)` uses (the key is
/// the seed's 32-bit digits, least significant first). std::seed_seq
/// seeds differently, so the state is built here and loaded through the
/// engine's stream operator, which takes the 624 words and the position.
std::mt19937 python_engine(uint64_t seed) {
  std::vector<uint32_t> key;
  do {
    key.push_back(static_cast<uint32_t>(seed & 0xffffffffu));
    seed >>= 32;
  } while (seed != 0);
  constexpr int n = 624;
  uint32_t mt[n];
  mt[0] = 19650218u;
  for (int i = 1; i < n; ++i)
    mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i;
  int i = 1;
  size_t j = 0;
  for (int k = std::max<int>(n, static_cast<int>(key.size())); k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] +
            static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= n) {
      mt[0] = mt[n - 1];
      i = 1;
    }
    if (j >= key.size())
      j = 0;
  }
  for (int k = n - 1; k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - i;
    ++i;
    if (i >= n) {
      mt[0] = mt[n - 1];
      i = 1;
    }
  }
  mt[0] = 0x80000000u;
  // libstdc++ reads the words and treats the state as freshly twisted
  // when the position is n, which is where init_by_array leaves it.
  std::mt19937 engine;
  std::string text;
  for (int w = 0; w < n; ++w)
    text += std::to_string(mt[w]) + ' ';
  text += std::to_string(n);
  std::istringstream in{text};
  in >> engine;
  return engine;
}

int bit_length(uint32_t n) {
  int bits = 0;
  while (n != 0) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

/// The best `k` titles by `score` (higher first, then lower index), not
/// in `seen`.
template <class Score>
std::vector<uint32_t> top_k(size_t titles, size_t k,
                            const std::unordered_set<uint32_t>& seen,
                            Score score) {
  std::vector<std::pair<double, uint32_t>> all;
  all.reserve(titles);
  for (uint32_t t = 0; t < titles; ++t)
    if (seen.count(t) == 0)
      all.emplace_back(score(t), t);
  auto by_score = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  auto n = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end(), by_score);
  std::vector<uint32_t> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(all[i].second);
  return out;
}

} // namespace

py_random::py_random(uint64_t seed) : mt_(python_engine(seed)) {
  // nop
}

uint32_t py_random::below(uint32_t n) {
  if (n == 0)
    return 0;
  auto k = bit_length(n);
  uint32_t r;
  do
    r = next_u32() >> (32 - k);
  while (r >= n);
  return r;
}

std::vector<uint32_t> python_sample(uint32_t n, uint32_t k, uint64_t seed) {
  py_random rng{seed};
  std::vector<uint32_t> result(k);
  // random.sample picks a pool when the population is small, else a set of
  // chosen indices; the threshold is computed as Python does.
  double setsize = 21;
  if (k > 5)
    setsize += std::pow(4.0, std::ceil(std::log(k * 3.0) / std::log(4.0)));
  if (n <= setsize) {
    std::vector<uint32_t> pool(n);
    for (uint32_t i = 0; i < n; ++i)
      pool[i] = i;
    for (uint32_t i = 0; i < k; ++i) {
      auto j = rng.below(n - i);
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    std::unordered_set<uint32_t> selected;
    for (uint32_t i = 0; i < k; ++i) {
      auto j = rng.below(n);
      while (selected.count(j) != 0)
        j = rng.below(n);
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

std::vector<size_t> query_positions(size_t events, double warmup,
                                    uint32_t queries, uint64_t seed) {
  auto start = static_cast<size_t>(static_cast<double>(events) * warmup);
  auto candidates = static_cast<uint32_t>(events - start);
  auto picked = python_sample(candidates, std::min(queries, candidates), seed);
  std::vector<size_t> out;
  out.reserve(picked.size());
  for (auto j : picked)
    out.push_back(start + j);
  std::sort(out.begin(), out.end());
  return out;
}

void scores::add(const std::vector<uint32_t>& top, uint32_t target) {
  ++queries;
  for (size_t i = 0; i < top.size(); ++i)
    if (top[i] == target) {
      ++hits;
      ndcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
      break;
    }
}

void genre_distance::set(uint32_t title, std::vector<uint32_t> genres) {
  if (title >= genres_.size())
    genres_.resize(title + 1);
  std::sort(genres.begin(), genres.end());
  genres.erase(std::unique(genres.begin(), genres.end()), genres.end());
  genres_[title] = std::move(genres);
}

double genre_distance::operator()(uint32_t a, uint32_t b) const {
  if (a >= genres_.size() || b >= genres_.size() || genres_[a].empty() ||
      genres_[b].empty())
    return 1.0;
  const auto& x = genres_[a];
  const auto& y = genres_[b];
  size_t common = 0;
  for (size_t i = 0, j = 0; i < x.size() && j < y.size();) {
    if (x[i] == y[j]) {
      ++common;
      ++i;
      ++j;
    } else if (x[i] < y[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return 1.0 - static_cast<double>(common) /
                 std::sqrt(static_cast<double>(x.size() * y.size()));
}

double genre_distance::of_list(const std::vector<uint32_t>& top) const {
  if (top.size() < 2)
    return 0;
  double sum = 0;
  size_t pairs = 0;
  for (size_t i = 0; i < top.size(); ++i)
    for (size_t j = i + 1; j < top.size(); ++j) {
      sum += (*this)(top[i], top[j]);
      ++pairs;
    }
  return sum / static_cast<double>(pairs);
}

baselines::baselines(size_t titles) : plays_(titles), co_(titles) {
  // nop
}

void baselines::apply(const std::vector<uint32_t>& history, uint32_t title) {
  if (std::find(history.begin(), history.end(), title) == history.end())
    for (auto h : history) {
      co_[title][h] += 1.0f;
      co_[h][title] += 1.0f;
    }
  plays_[title] += 1;
}

std::vector<uint32_t>
baselines::popularity(size_t k,
                      const std::unordered_set<uint32_t>& seen) const {
  return top_k(plays_.size(), k, seen,
               [this](uint32_t t) { return plays_[t]; });
}

std::vector<uint32_t>
baselines::item_knn(const std::vector<uint32_t>& history, size_t recent,
                    size_t k, const std::unordered_set<uint32_t>& seen) const {
  auto norm = [this](uint32_t t) {
    return std::sqrt(std::max(plays_[t], 1.0));
  };
  std::vector<double> sim(plays_.size());
  auto first = history.size() > recent ? history.size() - recent : 0;
  for (auto i = first; i < history.size(); ++i) {
    auto r = history[i];
    for (const auto& [t, count] : co_[r])
      sim[t] += count / norm(r);
  }
  return top_k(plays_.size(), k, seen,
               [&](uint32_t t) { return sim[t] / norm(t) + 1e-9 * plays_[t]; });
}

} // namespace marquee::prequential
