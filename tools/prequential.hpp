#pragma once

/// The prequential (test-then-train) protocol of `marquee replay`, as in
/// ../shared/eval/prequential.py: every rating is a play, in time order;
/// after a warm-up share of the stream, a sample of events become queries,
/// each asked before its event is applied; a hit is the event's title in
/// the top-k of titles the user has not played.
///
/// The sample is drawn exactly as the script draws it (Python's Mersenne
/// Twister and `random.sample`), so both score the same queries. The
/// baselines of the script that the tool reports next to marquee are here
/// too: popularity and item-kNN over the user's last plays.

#include <cstddef>
#include <cstdint>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace marquee::prequential {

/// Python's `random.Random(seed)` for non-negative integer seeds: the same
/// 32-bit outputs, `getrandbits` up to 32 bits and `_randbelow`.
class py_random {
public:
  explicit py_random(uint64_t seed);

  uint32_t next_u32() { return static_cast<uint32_t>(mt_()); }

  /// A uniform integer in [0, n), n < 2^32, as Python's `_randbelow`.
  uint32_t below(uint32_t n);

private:
  std::mt19937 mt_;
};

/// `random.Random(seed).sample(range(n), k)`, in the order Python returns
/// it. Requires k <= n < 2^32.
std::vector<uint32_t> python_sample(uint32_t n, uint32_t k, uint64_t seed);

/// The query positions of a stream of `events`: the sample of the events
/// after the first `warmup` share, as the script draws it (sorted).
std::vector<size_t> query_positions(size_t events, double warmup,
                                    uint32_t queries, uint64_t seed);

/// Hit rate and NDCG at k, and intra-list diversity, summed over queries.
struct scores {
  size_t queries = 0;
  size_t hits = 0;
  double ndcg = 0;
  /// Mean pairwise dissimilarity of each list, summed (lists of >= 2).
  double diversity = 0;
  size_t diverse_lists = 0;

  /// Counts one answer: `top` best first, `target` the title played.
  void add(const std::vector<uint32_t>& top, uint32_t target);

  double hit_rate() const { return queries ? double(hits) / queries : 0; }
  double mean_ndcg() const { return queries ? ndcg / queries : 0; }
  double mean_diversity() const {
    return diverse_lists ? diversity / diverse_lists : 0;
  }
};

/// Genre sets of titles (dense title indices), for intra-list diversity:
/// 1 - the cosine of the genre vectors of two titles, averaged over the
/// pairs of a list. Titles without genres count as unlike every title.
class genre_distance {
public:
  void set(uint32_t title, std::vector<uint32_t> genres);
  double operator()(uint32_t a, uint32_t b) const;
  /// Mean pairwise distance of `top` (0 for fewer than 2 titles).
  double of_list(const std::vector<uint32_t>& top) const;

private:
  std::vector<std::vector<uint32_t>> genres_; // sorted per title
};

/// The script's baselines, trained event by event on dense indices.
class baselines {
public:
  explicit baselines(size_t titles);

  /// Applies a play of `title` by a user whose earlier distinct plays are
  /// `history` (oldest first), before `title` is added to it.
  void apply(const std::vector<uint32_t>& history, uint32_t title);

  /// The `k` most played titles not in `seen`.
  std::vector<uint32_t>
  popularity(size_t k, const std::unordered_set<uint32_t>& seen) const;

  /// Item-kNN over the last `recent` titles of `history`: the sum of their
  /// co-play counts divided by sqrt(plays) of both titles, ties broken by
  /// popularity; the `k` best not in `seen`.
  std::vector<uint32_t>
  item_knn(const std::vector<uint32_t>& history, size_t recent, size_t k,
           const std::unordered_set<uint32_t>& seen) const;

private:
  std::vector<double> plays_;
  /// Co-play counts, both directions.
  std::vector<std::unordered_map<uint32_t, float>> co_;
};

} // namespace marquee::prequential
