// Names sort by their first eight bytes as an integer, then byte by byte:
// the same order as std::sort on (name, number) pairs, over ids of every
// length and with long shared beginnings.

#include "persistence/name_order.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <utility>

using namespace marquee;

TEST_CASE("ids sort by name as std::sort on (name, number) pairs does",
          "[persistence][names]") {
  std::mt19937 rng{GENERATE(1u, 2u, 3u, 4u)};
  const std::string alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-";
  // Few beginnings, so that many names tie on their first eight bytes and
  // some begin others; lengths from 1 to 64 (every id the contract allows).
  std::vector<std::string> stems;
  for (int i = 0; i < 6; ++i) {
    std::string s;
    for (size_t n = 1 + rng() % 12; s.size() < n;)
      s += alphabet[rng() % 4];
    stems.push_back(s);
  }
  std::vector<std::string> names;
  for (int i = 0; i < 400; ++i) {
    std::string s = stems[rng() % stems.size()];
    for (size_t n = rng() % 6; n > 0; --n)
      s += alphabet[rng() % alphabet.size()];
    s = s.substr(0, 1 + rng() % 64);
    names.push_back(s);
    if (rng() % 8 == 0)
      names.push_back(s); // the same name twice: the number decides
  }
  std::vector<std::pair<std::string_view, uint32_t>> expected;
  std::vector<named> got;
  for (uint32_t i = 0; i < names.size(); ++i) {
    expected.emplace_back(names[i], i);
    got.emplace_back(names[i], i);
  }
  std::sort(expected.begin(), expected.end());
  sort_by_name(got);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(i << ": " << got[i].name << " / " << expected[i].first);
    CHECK(got[i].name == expected[i].first);
    CHECK(got[i].number == expected[i].second);
  }
}

TEST_CASE("a name that begins another sorts before it, at every length",
          "[persistence][names]") {
  std::string id(64, 'z');
  for (size_t n = 1; n < id.size(); ++n)
    CHECK(named(id.substr(0, n), 1) < named(id.substr(0, n + 1), 0));
  CHECK(named("Z", 0) < named("a", 0)); // bytes, not letters
  CHECK(named("-", 0) < named("0", 0));
  CHECK_FALSE(named("abc", 0) < named("abc", 0));
}
