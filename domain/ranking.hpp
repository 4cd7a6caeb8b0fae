#pragma once

/// Ranking of personalised rows from item similarity: the user's recent
/// plays are seeds, each weighted by how recent it is, and a candidate's
/// score is the weighted sum of its similarity to the seeds:
///
///     score(c) = sum over seeds s_j (j = 0 newest) of
///                seed_decay^j * sim(s_j, c)
///
/// Candidates the user may never be shown as far as the user's own state
/// tells (watched, thumbed down, excluded) are dropped here; the catalog
/// filters follow in the trending cell.
///
/// Pure: no clocks, no I/O.

#include "domain/catalog.hpp"
#include "domain/similarity.hpp"
#include "domain/user_state.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace marquee {

struct ranking_params {
  /// Recent distinct plays used as seeds (default 20).
  uint32_t seeds = 20;
  /// Weight factor per seed further back (default 0.8).
  double seed_decay = 0.8;
  /// Weight of each thumbed-down title as a negative seed: titles similar
  /// to it sink (default 0.5; 0: off).
  double thumbs_down_weight = 0.5;
  /// Thumbed-down titles used as negative seeds, at most (default 20).
  uint32_t negative_seeds = 20;
  /// Weight a thumbs up adds to its title as a seed (default 0.5; 0: off).
  double thumbs_up_weight = 0.5;
  /// g in score * (1 + g * genre affinity) (default 0.3; 0: off).
  double genre_weight = 0.3;
  /// Weight factor per seed further back in the user's genre profile
  /// (default 1: the recent plays count alike, a taste being steadier than
  /// what to watch next; seed_decay: as in the score).
  double profile_decay = 1.0;
  /// f in score / (1 + f * impression EMA) for titles shown and never
  /// played (default 0.5; 0: off).
  double fatigue_weight = 0.5;
  /// The configured impression window whose EMA measures fatigue (index;
  /// the config names it, default 7d).
  uint32_t fatigue_window = 1;
  /// Most-shown titles considered per user (default 200).
  uint32_t fatigue_titles = 200;
  /// d in the diversity re-ranking (see `diversify`; default 0.1; 0: off).
  double diversity = 0.1;
  /// t in score * (1 + t * trending), trending the title's decayed play
  /// count over the best one's (default 0.3; 0: off).
  double trending_weight = 0.3;
  /// The trending window of that feature: an index into the trending
  /// windows, which this struct does not know; the config sets the longest
  /// (7d) unless `rec.trending_feature_window` names another.
  uint32_t trending_window = 0;
};

struct seed {
  title_key title = 0;
  double weight = 0;
  /// seed_decay^j for the j-th recent play (j = 0 newest); 0 for a seed
  /// that is no recent play (a thumb only).
  double recency = 0;
  /// Its weight in the user's genre profile: profile_decay^j for the j-th
  /// recent play, plus thumbs_up_weight if thumbed up; 0 for a negative
  /// seed.
  double taste = 0;
};

/// The seeds of `recent` (newest first): its first `p.seeds` distinct
/// titles, weighted `seed_decay^j` (their taste `profile_decay^j`); each of
/// `thumbed_up` adds `thumbs_up_weight` to its seed's weight and taste (a
/// new seed if it is not one, up to `p.seeds` more); then up to
/// `p.negative_seeds` of `thumbed_down`, weighted `-thumbs_down_weight`.
std::vector<seed> pick_seeds(const std::vector<play_record>& recent,
                             const std::vector<title_key>& thumbed_down,
                             const std::vector<title_key>& thumbed_up,
                             const ranking_params& p);

/// A candidate with its score and the seed that contributed most.
struct scored_title {
  title_key title = 0;
  double score = 0;
  title_key source = 0;
  double source_part = 0;
  /// The score from similarity alone, before other features.
  double similarity = 0;
  /// The recency weight of the source seed (see `seed::recency`).
  double recency = 0;
  /// Cosine of the user's genre profile and the title's genres.
  double affinity = 0;
  /// The impression EMA of a title shown to the user and never played.
  double fatigue = 0;
  /// The title's trending score over the best one's, in [0, 1].
  double trending = 0;
};

/// A user's taste in genres: the genres of the seeds, each seed counting
/// its taste (seeds without taste do not count), as a unit vector (sorted
/// by genre; empty when no seed has genres).
using genre_profile = std::vector<std::pair<genre_key, double>>;

/// `genres_of(title)` returns the sorted genres of a title (empty if
/// unknown), by value or by reference to storage that outlives the call.
template <class GenresOf>
genre_profile make_genre_profile(const std::vector<seed>& seeds,
                                 GenresOf genres_of) {
  genre_profile out;
  for (const auto& s : seeds) {
    if (s.taste <= 0)
      continue;
    const auto& genres = genres_of(s.title);
    for (auto g : genres) {
      auto i = std::lower_bound(
        out.begin(), out.end(), g,
        [](const auto& entry, genre_key key) { return entry.first < key; });
      if (i == out.end() || i->first != g)
        i = out.insert(i, {g, 0.0});
      i->second += s.taste;
    }
  }
  double norm = 0;
  for (const auto& [g, w] : out)
    norm += w * w;
  norm = std::sqrt(norm);
  for (auto& entry : out)
    entry.second /= norm;
  return out;
}

/// The cosine of `profile` and a title's sorted `genres` (as a 0/1
/// vector); 0 when either is empty.
double genre_affinity(const genre_profile& profile,
                      const std::vector<genre_key>& genres);

/// Sets each candidate's score to
///
///     similarity * (1 + genre_weight * affinity)
///                * (1 + trending_weight * trending)
///                / (1 + fatigue_weight * fatigue)
///
/// and orders them again, best first (ties: lower key first).
void rescore(std::vector<scored_title>& candidates, const ranking_params& p);

/// The cosine of two titles' sorted genre lists (0/1 vectors); 0 when
/// either is empty.
double genre_cosine(const std::vector<genre_key>& a,
                    const std::vector<genre_key>& b);

/// Maximal marginal relevance over genres: picks the first `k` of
/// `ranked` (best first) greedily, each time the candidate with the
/// highest `score / best score - d * (its highest genre cosine with a
/// title picked already)`. With d = 0 the order is unchanged. The
/// candidates not picked follow in their order.
template <class GenresOf>
void diversify(std::vector<scored_title>& ranked, size_t k, double d,
               GenresOf genres_of) {
  if (d <= 0 || ranked.size() < 2)
    return;
  auto best = ranked.front().score;
  if (best <= 0)
    return;
  // Each candidate's genres: pointers where `genres_of` returns a
  // reference (to storage that outlives the call), else copies.
  using given = decltype(genres_of(title_key{}));
  constexpr bool by_reference = std::is_lvalue_reference_v<given>;
  std::vector<std::conditional_t<by_reference, const std::vector<genre_key>*,
                                 std::vector<genre_key>>>
    genres;
  genres.reserve(ranked.size());
  for (const auto& c : ranked) {
    if constexpr (by_reference)
      genres.push_back(&genres_of(c.title));
    else
      genres.push_back(genres_of(c.title));
  }
  auto genres_at = [&genres](size_t i) -> const std::vector<genre_key>& {
    if constexpr (by_reference)
      return *genres[i];
    else
      return genres[i];
  };
  // Highest cosine of each remaining candidate with the picked ones.
  std::vector<double> overlap(ranked.size(), 0.0);
  auto n = std::min(k, ranked.size());
  for (size_t slot = 0; slot < n; ++slot) {
    size_t pick = slot;
    double pick_value = -1e300;
    for (size_t i = slot; i < ranked.size(); ++i) {
      auto value = ranked[i].score / best - d * overlap[i];
      if (value > pick_value) {
        pick_value = value;
        pick = i;
      }
    }
    // Move the pick to `slot`, keeping the others in order.
    std::rotate(ranked.begin() + slot, ranked.begin() + pick,
                ranked.begin() + pick + 1);
    std::rotate(genres.begin() + slot, genres.begin() + pick,
                genres.begin() + pick + 1);
    std::rotate(overlap.begin() + slot, overlap.begin() + pick,
                overlap.begin() + pick + 1);
    for (size_t i = slot + 1; i < ranked.size(); ++i)
      overlap[i] =
        std::max(overlap[i], genre_cosine(genres_at(i), genres_at(slot)));
  }
}

/// Scores the neighbours of the seeds (`lists[i]` the neighbours of
/// `seeds[i]`) and returns the best `limit` with a positive score, best
/// first (ties: lower key first), leaving out seeds and what `view` rules
/// out by the user's own state (watched, thumbed down, excluded). The
/// `source` of a candidate is the positive seed that contributed most.
std::vector<scored_title>
score_candidates(const std::vector<seed>& seeds,
                 const std::vector<std::vector<neighbour>>& lists,
                 const user_view& view, size_t limit);

} // namespace marquee
