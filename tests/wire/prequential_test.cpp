// The prequential protocol of `marquee replay`: the same sample as
// ../shared/eval/prequential.py, metrics and baselines against their
// definitions.

#include "tools/prequential.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace marquee::prequential;

TEST_CASE("the sample is Python's random.Random(seed).sample",
          "[tools][prequential]") {
  // Printed by python3 (3.11) for the same calls.
  SECTION("first outputs of random.Random(0).getrandbits(32)") {
    py_random r{0};
    CHECK(r.next_u32() == 3626764237u);
    CHECK(r.next_u32() == 1654615998u);
    CHECK(r.next_u32() == 3255389356u);
  }
  SECTION("a large population: the set-based draw") {
    auto s = python_sample(80000, 5000, 7);
    REQUIRE(s.size() == 5000);
    CHECK(std::vector<uint32_t>(s.begin(), s.begin() + 5) ==
          std::vector<uint32_t>{42445, 19772, 51750, 6328, 9494});
    std::sort(s.begin(), s.end());
    CHECK(std::vector<uint32_t>(s.begin(), s.begin() + 8) ==
          std::vector<uint32_t>{20, 23, 30, 46, 52, 105, 122, 123});
    CHECK(std::adjacent_find(s.begin(), s.end()) == s.end());
  }
  SECTION("a small population: the pool-based draw") {
    CHECK(python_sample(30, 10, 123) ==
          std::vector<uint32_t>{1, 8, 2, 24, 13, 28, 3, 29, 12, 17});
  }
  SECTION("a seed wider than 32 bits") {
    CHECK(python_sample(1000, 3, (uint64_t{1} << 40) + 5) ==
          std::vector<uint32_t>{516, 529, 275});
  }
  SECTION("query positions follow the warm-up, sorted") {
    // ml-100k: 100,000 events, the first 20,000 are warm-up.
    auto q = query_positions(100000, 0.2, 5000, 7);
    REQUIRE(q.size() == 5000);
    CHECK(q[0] == 20020);
    CHECK(q[1] == 20023);
    CHECK(q[2] == 20030);
    CHECK(std::is_sorted(q.begin(), q.end()));
    CHECK(query_positions(10, 0.5, 5000, 7).size() == 5);
  }
}

TEST_CASE("hit rate and NDCG count the rank of the played title",
          "[tools][prequential]") {
  scores s;
  s.add({5, 6, 7}, 5); // rank 0: 1
  s.add({5, 6, 7}, 7); // rank 2: 1/log2(4) = 0.5
  s.add({5, 6, 7}, 9); // miss
  s.add({}, 9);        // empty list: a miss, still a query
  CHECK(s.queries == 4);
  CHECK(s.hits == 2);
  CHECK(s.hit_rate() == Approx(0.5));
  CHECK(s.mean_ndcg() == Approx((1.0 + 0.5) / 4));
}

TEST_CASE("intra-list diversity is the mean pairwise genre distance",
          "[tools][prequential]") {
  genre_distance d;
  d.set(0, {1, 2});
  d.set(1, {2, 1, 1}); // the same set, written otherwise
  d.set(2, {3});
  d.set(3, {1, 3});
  CHECK(d(0, 1) == Approx(0.0));
  CHECK(d(0, 2) == Approx(1.0));
  CHECK(d(0, 3) == Approx(1.0 - 1.0 / 2.0)); // cosine 1/sqrt(2*2)
  CHECK(d(2, 3) == Approx(1.0 - 1.0 / std::sqrt(2.0)));
  CHECK(d(0, 9) == Approx(1.0)); // no genres known
  CHECK(d.of_list({0, 1, 2}) == Approx((0.0 + 1.0 + 1.0) / 3));
  CHECK(d.of_list({0}) == 0.0);
}

TEST_CASE("the baselines score as their definitions", "[tools][prequential]") {
  // Three users' plays, in order; titles 0..4.
  baselines b{5};
  std::vector<std::vector<uint32_t>> hist(3);
  auto play = [&](int u, uint32_t t) {
    b.apply(hist[u], t);
    if (std::find(hist[u].begin(), hist[u].end(), t) == hist[u].end())
      hist[u].push_back(t);
  };
  play(0, 0);
  play(0, 1);
  play(0, 2);
  play(1, 0);
  play(1, 1);
  play(2, 3);
  play(2, 0);
  play(2, 3); // a repeat counts as a play, not as a co-play
  // plays: t0 3, t1 2, t2 1, t3 2, t4 0
  CHECK(b.popularity(3, {}) == std::vector<uint32_t>{0, 1, 3});
  CHECK(b.popularity(2, {0}) == std::vector<uint32_t>{1, 3});
  // Brute force: sim(t) = sum over r in recent co(r,t)/sqrt(p_r) / sqrt(p_t)
  // For a user who played {0}: co(0,1)=2, co(0,2)=1, co(0,3)=1.
  auto sim = [](double co, double pr, double pt) {
    return co / std::sqrt(pr) / std::sqrt(pt);
  };
  double s1 = sim(2, 3, 2), s2 = sim(1, 3, 1), s3 = sim(1, 3, 2);
  REQUIRE(s1 > s2);
  REQUIRE(s2 > s3);
  CHECK(b.item_knn({0}, 5, 3, {0}) == std::vector<uint32_t>{1, 2, 3});
  // Only the last `recent` plays count: {3, 0} with recent 1 is {0}.
  CHECK(b.item_knn({3, 0}, 1, 2, {3, 0}) == std::vector<uint32_t>{1, 2});
  // Titles without co-plays follow, by popularity (t4 never played):
  // co(2,1)/sqrt(1*2) > co(2,0)/sqrt(1*3).
  CHECK(b.item_knn({2}, 5, 4, {2}) == std::vector<uint32_t>{1, 0, 3, 4});
}
