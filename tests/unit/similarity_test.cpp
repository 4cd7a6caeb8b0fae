// Item similarity and ranking against their definitions, computed by brute
// force over random play streams.

#include "domain/co_play_round.hpp"
#include "domain/ranking.hpp"
#include "domain/similarity.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

using namespace marquee;

namespace {

/// The literal definition: every first play (within the window) of a title
/// pairs with the user's previous distinct plays, j-th back weighted
/// decay^(j-1), each pairing one more co-play of the pair (its support);
/// sim = co / (plays^e plays^f) * co / (co + shrink) for the pairs with a
/// support of at least min_support.
struct brute_force {
  similarity_params p;
  std::map<user_key, std::vector<title_key>> rings; // most recent first
  std::map<std::pair<title_key, title_key>, double> co;
  std::map<std::pair<title_key, title_key>, uint32_t> support;
  std::map<title_key, double> plays;

  void play(user_key u, title_key t) {
    plays[t] += 1;
    auto& r = rings[u];
    auto found = std::find(r.begin(), r.end(), t);
    if (found != r.end()) {
      r.erase(found);
      r.insert(r.begin(), t);
      return;
    }
    for (size_t j = 0; j < r.size() && j < p.window; ++j) {
      auto w = std::pow(p.position_decay, static_cast<double>(j));
      co[{t, r[j]}] += w;
      co[{r[j], t}] += w;
      ++support[{t, r[j]}];
      ++support[{r[j], t}];
    }
    r.insert(r.begin(), t);
    if (r.size() > p.window)
      r.resize(p.window);
  }

  std::vector<neighbour> neighbours(title_key a) const {
    std::vector<neighbour> out;
    auto norm = [&](title_key t, double exponent) {
      auto i = plays.find(t);
      double n = i == plays.end() ? 0.0 : i->second;
      return std::pow(std::max(n, 1.0), exponent);
    };
    for (const auto& [key, w] : co)
      if (key.first == a && support.at(key) >= p.min_support)
        out.push_back({key.second, w /
                                     (norm(a, p.popularity_exponent) *
                                      norm(key.second, p.neighbour_exponent)) *
                                     w / (w + p.shrink)});
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
      return x.score != y.score ? x.score > y.score : x.title < y.title;
    });
    if (out.size() > p.neighbours)
      out.resize(p.neighbours);
    return out;
  }
};

} // namespace

TEST_CASE("pair weights decay per position and stop at the window",
          "[similarity]") {
  similarity_params p;
  p.window = 3;
  p.position_decay = 0.5;
  CHECK(pair_weight(p, 0) == 0.0);
  CHECK(pair_weight(p, 1) == 1.0);
  CHECK(pair_weight(p, 2) == 0.5);
  CHECK(pair_weight(p, 3) == 0.25);
  CHECK(pair_weight(p, 4) == 0.0);
}

TEST_CASE("rings keep the last distinct plays, most recent first",
          "[similarity]") {
  play_rings rings{3};
  std::vector<title_key> earlier;
  CHECK_FALSE(rings.has(7));
  CHECK(rings.play(7, 1, earlier));
  CHECK(earlier.empty());
  CHECK(rings.play(7, 2, earlier));
  CHECK(earlier == std::vector<title_key>{1});
  earlier.clear();
  CHECK(rings.play(7, 3, earlier));
  CHECK(earlier == std::vector<title_key>{2, 1});
  earlier.clear();
  CHECK_FALSE(rings.play(7, 1, earlier)); // a repeat moves to the front
  CHECK(earlier.empty());
  CHECK(rings.get(7) == std::vector<title_key>{1, 3, 2});
  CHECK(rings.play(7, 4, earlier)); // the oldest (2) drops out
  CHECK(earlier == std::vector<title_key>{1, 3, 2});
  CHECK(rings.get(7) == std::vector<title_key>{4, 1, 3});
  CHECK(rings.has(7));
  CHECK(rings.get(8).empty()); // another user, untouched
  rings.set(8, {9, 8, 7, 6});  // cut to the window
  CHECK(rings.get(8) == std::vector<title_key>{9, 8, 7});
}

TEST_CASE("rings that grow as users play hold what a plain list holds",
          "[similarity]") {
  auto window = GENERATE(1u, 3u, 64u);
  play_rings rings{window};
  // The definition: most recent first, a repeat moves to the front, the
  // oldest drops out past the window.
  std::vector<std::vector<title_key>> expected(5);
  std::mt19937 rng{window};
  std::uniform_int_distribution<title_key> title{0, 150};
  std::uniform_int_distribution<user_key> user{0, 4};
  std::vector<title_key> earlier;
  for (int i = 0; i < 3000; ++i) {
    auto u = user(rng);
    auto t = title(rng);
    auto& list = expected[u];
    auto found = std::find(list.begin(), list.end(), t);
    bool fresh = found == list.end();
    std::vector<title_key> before = fresh ? list : std::vector<title_key>{};
    if (!fresh)
      list.erase(found);
    list.insert(list.begin(), t);
    if (list.size() > window)
      list.pop_back();
    earlier.clear();
    REQUIRE(rings.play(u, t, earlier) == fresh);
    REQUIRE(earlier == before);
    REQUIRE(rings.get(u) == list);
  }
  // A restored ring takes the stored titles, cut to the window, and goes on
  // growing from there.
  std::vector<title_key> stored(70);
  std::iota(stored.begin(), stored.end(), title_key{1000});
  rings.set(9, {stored.begin(), stored.begin() + 2});
  CHECK(rings.get(9) ==
        std::vector<title_key>(stored.begin(),
                               stored.begin() + std::min<size_t>(2, window)));
  earlier.clear();
  CHECK(rings.play(9, 7, earlier));
  CHECK(rings.get(9).size() == std::min<size_t>(3, window));
  rings.set(9, stored);
  CHECK(rings.get(9) ==
        std::vector<title_key>(stored.begin(), stored.begin() + window));
}

TEST_CASE("shards fed by the pairer hold the brute-force similarities",
          "[similarity]") {
  similarity_params p;
  p.window = 5;
  p.position_decay = 0.8;
  p.neighbours = 6;
  p.kept = 100000; // no pruning: the definition keeps everything
  p.popularity_exponent = GENERATE(0.5, 0.3);
  p.neighbour_exponent = GENERATE(0.5, 0.2);
  p.shrink = GENERATE(0.0, 2.0);
  p.min_support = GENERATE(0u, 2u, 3u);
  brute_force bf{p, {}, {}, {}, {}};
  co_play_pairer pairer{&p};
  // Two shards, as two tables owning even and odd titles.
  co_play_table even{&p};
  co_play_table odd{&p};
  uint64_t even_through = 0;
  uint64_t odd_through = 0;
  std::mt19937 rng{42};
  uint64_t sequence = 0;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 25; ++i) {
      auto u = static_cast<user_key>(rng() % 12);
      auto t = static_cast<title_key>(rng() % 30);
      bf.play(u, t);
      pairer.add(u, t, ++sequence);
    }
    auto r = pairer.take();
    apply_round(r, even, even_through, [](title_key t) { return t % 2 == 0; });
    apply_round(r, odd, odd_through, [](title_key t) { return t % 2 == 1; });
    // A round delivered twice (a replay) changes nothing.
    if (round % 7 == 0)
      apply_round(r, even, even_through,
                  [](title_key t) { return t % 2 == 0; });
  }
  for (title_key a = 0; a < 30; ++a) {
    auto& table = a % 2 == 0 ? even : odd;
    auto expected = bf.neighbours(a);
    const auto& got = table.neighbours_of(a);
    INFO("title " << a);
    REQUIRE(got.size() == expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].title == expected[i].title);
      CHECK(got[i].score == Approx(expected[i].score).epsilon(1e-5));
    }
    CHECK(table.plays(a) == static_cast<uint32_t>(bf.plays[a]));
    // The partners as stored: weights and supports.
    for (const auto& c : table.partners_of(a)) {
      CHECK(c.weight == Approx(bf.co.at({a, c.title})).epsilon(1e-5));
      CHECK(c.support == bf.support.at({a, c.title}));
    }
  }
  // The rings the pairer reports as changed are the brute force's.
  for (const auto& [u, ring] : pairer.take_changed())
    CHECK(ring == bf.rings[u]);
  CHECK(pairer.take_changed().empty());
}

TEST_CASE("a partner list holds what a map of the same adds holds",
          "[similarity]") {
  std::mt19937 rng{7};
  for (int round = 0; round < 20; ++round) {
    partner_list list;
    std::map<title_key, std::pair<float, uint32_t>> model;
    // Few titles make repeats (found in the sorted part and in the tail);
    // many make long lists (merges of the tail).
    std::uniform_int_distribution<title_key> title{0, round % 2 == 0 ? 40u
                                                                     : 5000u};
    std::uniform_int_distribution<int> weight{1, 8};
    auto adds = 50 + round * 150;
    for (int i = 0; i < adds; ++i) {
      auto t = title(rng);
      auto w = static_cast<float>(weight(rng)) / 4.0f;
      list.add(t, w);
      auto& m = model[t];
      m.first += w;
      ++m.second;
      if (i % 97 == 0 || i == adds - 1) {
        auto items = list.items();
        std::sort(items.begin(), items.end(), [](const auto& x, const auto& y) {
          return x.title < y.title;
        });
        REQUIRE(items.size() == model.size());
        size_t k = 0;
        for (const auto& [key, value] : model) {
          CHECK(items[k].title == key);
          CHECK(items[k].weight == value.first);
          CHECK(items[k].support == value.second);
          ++k;
        }
      }
    }
    // The strongest, by weight then lower title, are those kept.
    std::vector<std::pair<float, title_key>> ranked;
    for (const auto& [key, value] : model)
      ranked.emplace_back(-value.first, key);
    std::sort(ranked.begin(), ranked.end());
    auto keep = model.size() / 3;
    list.keep_strongest(keep);
    REQUIRE(list.size() == keep);
    std::vector<title_key> want;
    for (size_t i = 0; i < keep; ++i)
      want.push_back(ranked[i].second);
    std::sort(want.begin(), want.end());
    std::vector<title_key> got;
    for (const auto& c : list.items())
      got.push_back(c.title);
    std::sort(got.begin(), got.end());
    CHECK(got == want);
    // Adds after a cut find the kept partners and append new ones.
    list.add(want.front(), 1.0f);
    list.add(100000, 1.0f);
    CHECK(list.size() == keep + 1);
  }
  // Assigning sums a title named twice.
  partner_list list;
  list.assign({{3, 1.0f, 1}, {1, 2.0f, 2}, {3, 0.5f, 4}});
  REQUIRE(list.size() == 2);
  list.add(3, 1.0f);
  auto items = list.items();
  std::sort(items.begin(), items.end(),
            [](const auto& x, const auto& y) { return x.title < y.title; });
  CHECK(items[0].title == 1);
  CHECK(items[1].title == 3);
  CHECK(items[1].weight == 2.5f);
  CHECK(items[1].support == 6);
}

TEST_CASE("a title keeps its strongest co-play partners", "[similarity]") {
  similarity_params p;
  p.kept = 3;
  p.neighbours = 3;
  co_play_table table{&p};
  // Partner t gets weight t (6 in two co-plays of 3); 7 partners pass
  // 2 * kept, so it prunes.
  for (title_key t = 1; t <= 7; ++t)
    if (t == 6) {
      table.add(0, t, 3.0f);
      table.add(0, t, 3.0f);
    } else {
      table.add(0, t, static_cast<float>(t));
    }
  auto kept = table.partners_of(0);
  std::sort(kept.begin(), kept.end(),
            [](const auto& x, const auto& y) { return x.title < y.title; });
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].title == 5);
  CHECK(kept[1].title == 6);
  CHECK(kept[2].title == 7);
  // Each keeps its support.
  CHECK(kept[0].support == 1);
  CHECK(kept[1].support == 2);
  CHECK(kept[1].weight == 6.0f);
  CHECK(kept[2].support == 1);
  // A title never pairs with itself; non-positive weights are ignored.
  table.add(1, 1, 5.0f);
  table.add(1, 2, 0.0f);
  CHECK(table.neighbours_of(1).empty());
}

TEST_CASE("a pair seen together by fewer users than min_support is no "
          "neighbour",
          "[similarity]") {
  similarity_params p;
  p.min_support = 2;
  co_play_table table{&p};
  table.add(0, 1, 1.0f); // one co-play
  table.add(0, 2, 0.5f); // two, lighter in all
  table.add(0, 2, 0.25f);
  auto got = table.neighbours_of(0);
  REQUIRE(got.size() == 1);
  CHECK(got[0].title == 2);
  p.min_support = 1;
  table.add(0, 3, 0.1f); // marks the list for recomputation
  got = table.neighbours_of(0);
  REQUIRE(got.size() == 3);
  CHECK(got[0].title == 1);
  // The supports are stored with the partners and come back on restore.
  co_play_table restored{&p};
  restored.set_partners(0, table.partners_of(0));
  auto partners = restored.partners_of(0);
  std::sort(partners.begin(), partners.end(),
            [](const auto& x, const auto& y) { return x.title < y.title; });
  REQUIRE(partners.size() == 3);
  CHECK(partners[0].support == 1);
  CHECK(partners[1].support == 2);
  CHECK(partners[2].support == 1);
}

TEST_CASE("seeds are the recent distinct plays, weighted by recency",
          "[ranking]") {
  ranking_params p;
  p.seeds = 3;
  p.seed_decay = 0.5;
  std::vector<play_record> recent = {
    {4, 0, 1.0}, {4, 0, 0.3}, {9, 0, 1.0}, {2, 0, 1.0}, {1, 0, 1.0}};
  p.thumbs_up_weight = 0; // see below
  auto seeds = pick_seeds(recent, {30, 31, 32}, {}, p);
  REQUIRE(seeds.size() == 6);
  CHECK(seeds[0].title == 4);
  CHECK(seeds[0].weight == 1.0);
  CHECK(seeds[1].title == 9);
  CHECK(seeds[1].weight == 0.5);
  CHECK(seeds[2].title == 2);
  CHECK(seeds[2].weight == 0.25);
  CHECK(seeds[2].recency == 0.25);
  // In the genre profile the plays count alike (profile_decay 1).
  CHECK(seeds[0].taste == 1.0);
  CHECK(seeds[2].taste == 1.0);
  // Thumbed-down titles follow as negative seeds, at most negative_seeds.
  CHECK(seeds[3].title == 30);
  CHECK(seeds[3].weight == -0.5);
  CHECK(seeds[3].recency == 0.0);
  CHECK(seeds[3].taste == 0.0);
  p.profile_decay = 0.5;
  auto decayed = pick_seeds(recent, {}, {}, p);
  REQUIRE(decayed.size() == 3);
  CHECK(decayed[1].taste == 0.5);
  CHECK(decayed[2].taste == 0.25);
  p.profile_decay = 1.0;
  p.negative_seeds = 1;
  CHECK(pick_seeds(recent, {30, 31, 32}, {}, p).size() == 4);
  p.thumbs_down_weight = 0;
  CHECK(pick_seeds(recent, {30, 31, 32}, {}, p).size() == 3);
  // A thumbs up adds to its seed, or becomes one.
  p.thumbs_up_weight = 0.5;
  auto up = pick_seeds(recent, {}, {9, 40}, p);
  REQUIRE(up.size() == 4);
  CHECK(up[1].title == 9);
  CHECK(up[1].weight == Approx(1.0)); // 0.5 from recency + 0.5
  CHECK(up[1].recency == Approx(0.5));
  CHECK(up[1].taste == Approx(1.5)); // 1 from the play + 0.5
  CHECK(up[3].title == 40);
  CHECK(up[3].weight == Approx(0.5));
  CHECK(up[3].recency == 0.0);
  CHECK(up[3].taste == Approx(0.5));
}

TEST_CASE("titles similar to a thumbed-down one sink, and drop out when "
          "nothing else recommends them",
          "[ranking]") {
  // Seed 1 (played) and seed 2 (thumbed down). Title 10 is close to both,
  // 11 only to the played one, 12 only to the thumbed-down one.
  std::vector<seed> seeds = {{1, 1.0}, {2, -0.5}};
  std::vector<std::vector<neighbour>> lists = {{{10, 0.9}, {11, 0.5}},
                                               {{10, 0.9}, {12, 0.8}}};
  auto got = score_candidates(seeds, lists, user_view{}, 10);
  REQUIRE(got.size() == 2);
  CHECK(got[0].title == 11); // 0.5 beats 0.9 - 0.45
  CHECK(got[0].source == 1);
  CHECK(got[1].title == 10);
  CHECK(got[1].score == Approx(0.45));
  CHECK(got[1].source == 1);
}

TEST_CASE("candidates score the weighted sum of their similarities, without "
          "what the user's state rules out",
          "[ranking]") {
  std::mt19937 rng{7};
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<seed> seeds;
    std::vector<std::vector<neighbour>> lists;
    for (title_key s = 0; s < 4; ++s) {
      seeds.push_back({s, std::pow(0.8, s), std::pow(0.8, s)});
      lists.emplace_back();
      for (int n = 0; n < 8; ++n)
        lists.back().push_back({static_cast<title_key>(rng() % 20),
                                static_cast<double>(rng() % 100) / 100.0});
    }
    user_view view;
    view.watched = {5, 6};
    view.thumbed_down = {7};
    view.exclude = {8};
    // Brute force; the source is the seed of the largest part.
    std::map<title_key, double> total;
    std::map<title_key, std::pair<double, size_t>> largest;
    for (size_t i = 0; i < seeds.size(); ++i)
      for (const auto& n : lists[i]) {
        auto part = seeds[i].weight * n.score;
        total[n.title] += part;
        auto& l = largest[n.title];
        if (part > l.first)
          l = {part, i};
      }
    std::vector<std::pair<double, title_key>> expected;
    for (const auto& [t, s] : total)
      if (t > 8) // seeds 0..3 and 5..8 are ruled out; 4 is allowed
        expected.emplace_back(-s, t);
      else if (t == 4)
        expected.emplace_back(-s, t);
    std::sort(expected.begin(), expected.end());
    auto got = score_candidates(seeds, lists, view, 5);
    REQUIRE(got.size() == std::min<size_t>(5, expected.size()));
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].title == expected[i].second);
      CHECK(got[i].score == Approx(-expected[i].first));
      const auto& l = largest[got[i].title];
      CHECK(got[i].source == seeds[l.second].title);
      CHECK(got[i].recency == Approx(seeds[l.second].recency));
    }
  }
}

TEST_CASE("genre affinity is the cosine of the seeds' weighted genres and "
          "the title's genres",
          "[ranking]") {
  // Seed titles 1 (genres 0, 1), 2 (genre 1), 3 (thumbed down, genre 2).
  std::map<title_key, std::vector<genre_key>> genres = {
    {1, {0, 1}}, {2, {1}}, {3, {2}}, {10, {1, 2}}, {11, {}}};
  auto genres_of = [&](title_key t) {
    auto i = genres.find(t);
    return i == genres.end() ? std::vector<genre_key>{} : i->second;
  };
  std::vector<seed> seeds = {{1, 1.0, 1.0, 1.0}, {2, 0.5, 0.5, 0.5}, {3, -0.5}};
  auto profile = make_genre_profile(seeds, genres_of);
  // Brute force: tastes g0 = 1, g1 = 1.5 (negative seeds do not count).
  double norm = std::sqrt(1.0 + 1.5 * 1.5);
  REQUIRE(profile.size() == 2);
  CHECK(profile[0].first == 0);
  CHECK(profile[0].second == Approx(1.0 / norm));
  CHECK(profile[1].first == 1);
  CHECK(profile[1].second == Approx(1.5 / norm));
  // Title 10 has genres {1, 2}: cosine = (1.5 / norm) / sqrt(2).
  CHECK(genre_affinity(profile, genres_of(10)) ==
        Approx(1.5 / norm / std::sqrt(2.0)));
  CHECK(genre_affinity(profile, genres_of(11)) == 0.0);
  CHECK(genre_affinity({}, genres_of(10)) == 0.0);
  // The affinity lifts a candidate: 10 (affinity ~0.59) passes 12 (none).
  std::vector<scored_title> c(2);
  c[0].title = 12;
  c[0].similarity = 1.0;
  c[1].title = 10;
  c[1].similarity = 0.95;
  c[1].affinity = genre_affinity(profile, genres_of(10));
  ranking_params rp;
  rp.genre_weight = 0.15;
  rp.fatigue_weight = 0.5;
  rescore(c, rp);
  CHECK(c[0].title == 10);
  CHECK(c[0].score == Approx(0.95 * (1 + 0.15 * c[0].affinity)));
  CHECK(c[1].score == Approx(1.0));
  // Fatigue: a title shown often and never played sinks.
  c[0].fatigue = 2.0; // title 10: 0.95 * 1.088 / 2 < 1
  rescore(c, rp);
  CHECK(c[0].title == 12);
  CHECK(c[1].title == 10);
  CHECK(c[1].score ==
        Approx(0.95 * (1 + 0.15 * c[1].affinity) / (1 + 0.5 * 2.0)));
  // Trending: title 10 trending at 0.8 of the best lifts it by 1 + t * 0.8.
  c[1].trending = 0.8;
  rp.trending_weight = 1.5; // 0.95 * 1.088 * 2.2 / 2 > 1
  rescore(c, rp);
  CHECK(c[0].title == 10);
  CHECK(c[0].score == Approx(0.95 * (1 + 0.15 * c[0].affinity) *
                             (1 + 1.5 * 0.8) / (1 + 0.5 * 2.0)));
  CHECK(c[1].score == Approx(1.0));
}

TEST_CASE("diversity re-ranking trades score for genres not yet listed",
          "[ranking]") {
  // Titles 1..4: 1, 2, 3 are Drama (genre 0), 4 is Comedy (genre 1).
  std::map<title_key, std::vector<genre_key>> genres = {
    {1, {0}}, {2, {0}}, {3, {0}}, {4, {1}}};
  auto genres_of = [&](title_key t) { return genres.at(t); };
  auto ranked = [] {
    std::vector<scored_title> r(4);
    double scores[] = {1.0, 0.9, 0.8, 0.7};
    for (int i = 0; i < 4; ++i) {
      r[i].title = static_cast<title_key>(i + 1);
      r[i].score = scores[i];
    }
    return r;
  };
  auto order = [](const std::vector<scored_title>& r) {
    std::vector<title_key> out;
    for (const auto& c : r)
      out.push_back(c.title);
    return out;
  };
  SECTION("off: unchanged") {
    auto r = ranked();
    diversify(r, 4, 0.0, genres_of);
    CHECK(order(r) == std::vector<title_key>{1, 2, 3, 4});
  }
  SECTION("d = 0.25: the comedy (0.7) passes the second drama (0.9 - 0.25)") {
    auto r = ranked();
    diversify(r, 4, 0.25, genres_of);
    CHECK(order(r) == std::vector<title_key>{1, 4, 2, 3});
  }
  SECTION("d = 0.1: scores still win") {
    auto r = ranked();
    diversify(r, 4, 0.1, genres_of);
    CHECK(order(r) == std::vector<title_key>{1, 2, 3, 4});
  }
  SECTION("only the first k are re-ranked; the rest keep their order") {
    auto r = ranked();
    diversify(r, 1, 0.25, genres_of);
    CHECK(order(r) == std::vector<title_key>{1, 2, 3, 4});
  }
  CHECK(genre_cosine({0, 1}, {1}) == Approx(1.0 / std::sqrt(2.0)));
  CHECK(genre_cosine({}, {1}) == 0.0);
}
