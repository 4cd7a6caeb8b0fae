#include "domain/experiments.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace marquee;

namespace {

/// FNV-1a 64 as published (http://www.isthe.com/chongo/tech/comp/fnv/).
uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

/// splitmix64's output function as published (Steele, Lea, Flood 2014).
uint64_t splitmix_finish(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

experiment_params shares(std::vector<std::pair<std::string, uint32_t>> vs) {
  experiment_params p;
  p.variants.clear();
  for (auto& [name, share] : vs)
    p.variants.push_back({name, share, {}});
  return p;
}

} // namespace

TEST_CASE("the stable hash is FNV-1a of salt, 0xff and id, then splitmix",
          "[experiments]") {
  // The reference itself against the published test vectors.
  REQUIRE(fnv1a("") == 0xcbf29ce484222325ULL);
  REQUIRE(fnv1a("a") == 0xaf63dc4c8601ec8cULL);
  REQUIRE(fnv1a("foobar") == 0x85944171f73967e8ULL);
  for (std::string salt : {"", "marquee", "2026-11"})
    for (std::string user : {"", "u1", "u42", "member:9f2c"})
      CHECK(stable_hash(salt, user) ==
            splitmix_finish(fnv1a(salt + '\xff' + user)));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  CHECK(stable_hash("ab", "c") != stable_hash("a", "bc"));
}

TEST_CASE("users are spread over the variants by their shares, stably",
          "[experiments]") {
  auto p = shares({{"control", 90}, {"b", 10}, {"off", 0}});
  std::vector<size_t> count(3, 0);
  constexpr size_t users = 100'000;
  for (size_t i = 0; i < users; ++i)
    ++count[p.assign("u" + std::to_string(i))];
  // 90/10 within half a percent of the users; a share of 0 gets nobody.
  CHECK(count[0] > users * 895 / 1000);
  CHECK(count[0] < users * 905 / 1000);
  CHECK(count[1] > users * 95 / 1000);
  CHECK(count[1] < users * 105 / 1000);
  CHECK(count[2] == 0);
  // Brute force: the bucket of the hash over the cumulative shares.
  for (size_t i = 0; i < 1000; ++i) {
    auto user = "m" + std::to_string(i * 7919);
    auto bucket = stable_hash(p.salt, user) % 100;
    CHECK(p.assign(user) == (bucket < 90 ? 0u : 1u));
  }
  // Stable: retuning a variant's ranking or the attribution moves nobody;
  // a new salt reshuffles about half of a 50/50 split.
  auto half = shares({{"a", 1}, {"b", 1}});
  auto tuned = half;
  tuned.variants[1].ranking.diversity = 0.9;
  tuned.variants[1].ranking.seeds = 3;
  tuned.attribution_ms = 1;
  tuned.remembered = 7;
  auto resalted = half;
  resalted.salt = "another";
  size_t moved = 0;
  for (size_t i = 0; i < 10'000; ++i) {
    auto user = "u" + std::to_string(i);
    CHECK(half.assign(user) == tuned.assign(user));
    moved += half.assign(user) != resalted.assign(user);
  }
  CHECK(moved > 4'500);
  CHECK(moved < 5'500);
}

TEST_CASE("variants are found by name", "[experiments]") {
  auto p = shares({{"control", 1}, {"b", 1}});
  CHECK(p.find("control") == 0);
  CHECK(p.find("b") == 1);
  CHECK(p.find("B") == experiment_params::npos);
  CHECK(p.names() == "control, b");
  CHECK(experiment_params{}.names() == "control");
}

TEST_CASE("a play counts once for the recommendation shortly before it",
          "[experiments]") {
  recommended_titles r;
  constexpr int64_t hour = 3'600'000;
  r.remember({1, 2, 3}, 1000, 0, 50);
  CHECK(r.size() == 3);
  // Played before it was recommended: not counted, still remembered.
  CHECK_FALSE(r.take(1, 999, hour));
  // Within the window: counted for the variant, then forgotten.
  CHECK(r.take(1, 1000 + hour, hour) == std::optional<uint32_t>{0});
  CHECK_FALSE(r.take(1, 1000 + hour, hour));
  // Too late: not counted, and forgotten.
  CHECK_FALSE(r.take(2, 1001 + hour, hour));
  CHECK(r.size() == 1);
  // Never recommended.
  CHECK_FALSE(r.take(9, 1000, hour));
  // Recommended again in another variant: the newer one counts.
  r.remember({3}, 5000, 1, 50);
  CHECK(r.size() == 1);
  CHECK(r.take(3, 5000 + hour, hour) == std::optional<uint32_t>{1});
}

TEST_CASE("only the newest recommended titles are remembered",
          "[experiments]") {
  // Against a literal model: the last `capacity` distinct titles by their
  // newest recommendation.
  std::mt19937 rng{11};
  for (int round = 0; round < 200; ++round) {
    recommended_titles r;
    std::map<title_key, std::pair<int64_t, uint32_t>> newest; // title -> at
    std::vector<title_key> order;                             // oldest first
    uint32_t capacity = 1 + rng() % 8;
    int64_t at = 0;
    for (int step = 0; step < 30; ++step) {
      at += 10;
      std::vector<title_key> list;
      for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i) {
        title_key t = rng() % 12;
        if (std::find(list.begin(), list.end(), t) == list.end())
          list.push_back(t);
      }
      auto variant = static_cast<uint32_t>(rng() % 3);
      r.remember(list, at, variant, capacity);
      // The list's best-ranked title counts as the newest.
      for (auto t = list.rbegin(); t != list.rend(); ++t) {
        newest[*t] = {at, variant};
        order.erase(std::remove(order.begin(), order.end(), *t), order.end());
        order.push_back(*t);
      }
      while (order.size() > capacity) {
        newest.erase(order.front());
        order.erase(order.begin());
      }
      REQUIRE(r.size() == order.size());
      if (rng() % 2 == 0) {
        title_key t = rng() % 12;
        auto got = r.take(t, at + 5, 100);
        auto i = newest.find(t);
        if (i == newest.end()) {
          CHECK_FALSE(got);
        } else {
          bool counts = at + 5 - i->second.first <= 100;
          CHECK(got.has_value() == counts);
          if (counts)
            CHECK(*got == i->second.second);
          newest.erase(i);
          order.erase(std::remove(order.begin(), order.end(), t), order.end());
        }
      }
    }
  }
}

TEST_CASE("of a list longer than the memory, its best-ranked titles stay",
          "[experiments]") {
  recommended_titles r;
  r.remember({1, 2, 3}, 0, 0, 5);
  r.remember({10, 11, 12, 13, 14, 15, 16}, 100, 1, 5);
  CHECK(r.size() == 5);
  for (title_key t : {10, 11, 12, 13, 14})
    CHECK(r.take(t, 150, 1000) == std::optional<uint32_t>{1});
  for (title_key t : {15, 16, 1, 2, 3})
    CHECK_FALSE(r.take(t, 150, 1000));
}
