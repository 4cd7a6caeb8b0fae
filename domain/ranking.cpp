#include "domain/ranking.hpp"

#include "domain/vectors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace marquee {

std::vector<seed> pick_seeds(const std::vector<play_record>& recent,
                             const std::vector<title_key>& thumbed_down,
                             const std::vector<title_key>& thumbed_up,
                             const ranking_params& p) {
  std::vector<seed> out;
  double w = 1.0;
  double taste = 1.0;
  for (const auto& r : recent) {
    if (out.size() >= p.seeds)
      break;
    auto dup = std::any_of(out.begin(), out.end(),
                           [&](const seed& s) { return s.title == r.title; });
    if (dup)
      continue;
    out.push_back({r.title, w, w, taste});
    w *= p.seed_decay;
    taste *= p.profile_decay;
  }
  if (p.thumbs_up_weight > 0) {
    size_t added = 0;
    for (auto t : thumbed_up) {
      auto i = std::find_if(out.begin(), out.end(),
                            [t](const seed& s) { return s.title == t; });
      if (i != out.end()) {
        i->weight += p.thumbs_up_weight;
        i->taste += p.thumbs_up_weight;
      } else if (added++ < p.seeds) {
        out.push_back({t, p.thumbs_up_weight, 0.0, p.thumbs_up_weight});
      }
    }
  }
  if (p.thumbs_down_weight > 0)
    for (size_t i = 0; i < thumbed_down.size() && i < p.negative_seeds; ++i)
      out.push_back({thumbed_down[i], -p.thumbs_down_weight, 0.0});
  return out;
}

double genre_affinity(const genre_profile& profile,
                      const std::vector<genre_key>& genres) {
  if (profile.empty() || genres.empty())
    return 0;
  double dot = 0;
  for (auto g : genres) {
    auto i = std::lower_bound(
      profile.begin(), profile.end(), g,
      [](const auto& entry, genre_key key) { return entry.first < key; });
    if (i != profile.end() && i->first == g)
      dot += i->second;
  }
  return dot / std::sqrt(static_cast<double>(genres.size()));
}

double genre_cosine(const std::vector<genre_key>& a,
                    const std::vector<genre_key>& b) {
  if (a.empty() || b.empty())
    return 0;
  size_t common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] == b[j]) {
      ++common;
      ++i;
      ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return static_cast<double>(common) /
         std::sqrt(static_cast<double>(a.size() * b.size()));
}

void rescore(std::vector<scored_title>& candidates, const ranking_params& p) {
  for (auto& c : candidates)
    c.score = c.similarity * (1.0 + p.genre_weight * c.affinity) *
              (1.0 + p.trending_weight * c.trending) /
              (1.0 + p.fatigue_weight * c.fatigue);
  std::sort(candidates.begin(), candidates.end(),
            [](const scored_title& a, const scored_title& b) {
              return a.score != b.score ? a.score > b.score : a.title < b.title;
            });
}

std::vector<scored_title>
score_candidates(const std::vector<seed>& seeds,
                 const std::vector<std::vector<neighbour>>& lists,
                 const user_view& view, size_t limit) {
  // Candidates by title key through a dense index kept per thread (title
  // keys are dense), reset after each call: no allocation per candidate.
  // Each candidate's parts are added in seed order, as they always were.
  constexpr uint32_t none = std::numeric_limits<uint32_t>::max();
  thread_local std::vector<uint32_t> slot_of;
  std::vector<scored_title> acc;
  for (size_t i = 0; i < seeds.size() && i < lists.size(); ++i)
    for (const auto& n : lists[i]) {
      cover_index(slot_of, n.title, none);
      auto& slot = slot_of[n.title];
      if (slot == none) {
        slot = static_cast<uint32_t>(acc.size());
        acc.emplace_back();
        acc.back().title = n.title;
      }
      auto part = seeds[i].weight * n.score;
      auto& c = acc[slot];
      c.score += part;
      if (part > c.source_part) {
        c.source_part = part;
        c.source = seeds[i].title;
        c.recency = seeds[i].recency;
      }
    }
  for (const auto& c : acc)
    slot_of[c.title] = none;
  std::vector<scored_title> out;
  out.reserve(acc.size());
  for (const auto& c : acc) {
    auto t = c.title;
    if (contains_sorted(view.watched, t) ||
        contains_sorted(view.thumbed_down, t) ||
        contains_sorted(view.exclude, t))
      continue;
    if (c.score <= 0 ||
        std::any_of(seeds.begin(), seeds.end(),
                    [t](const seed& s) { return s.title == t; }))
      continue;
    out.push_back(c);
    out.back().similarity = c.score;
  }
  auto better = [](const scored_title& a, const scored_title& b) {
    return a.score != b.score ? a.score > b.score : a.title < b.title;
  };
  auto n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + n, out.end(), better);
  out.resize(n);
  return out;
}

} // namespace marquee
