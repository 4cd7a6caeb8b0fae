#include "domain/ids.hpp"
#include "domain/vectors.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace marquee;

TEST_CASE("ids are 1 to 64 characters from letters, digits, '_', ':' and '-'",
          "[domain][ids]") {
  struct id_case {
    std::string id;
    bool valid;
  };
  const id_case cases[] = {
    {"", false},
    {"a", true},
    {"42", true},
    {"u42", true},
    {"abcxyz", true},
    {"ABCXYZ", true},
    {"0123456789", true},
    {"_", true},
    {":", true},
    {"-", true},
    {"user:42_a-B", true},
    {std::string(64, 'x'), true},
    {std::string(65, 'x'), false},
    {std::string(63, 'x') + ".", false},
    {"a.b", false},
    {".", false},
    {"a*", false},
    {"*", false},
    {">", false},
    {"a>", false},
    {"a b", false},
    {" a", false},
    {"a ", false},
    {"a\tb", false},
    {"a/b", false},
    {"a$b", false},
    {"caf\xc3\xa9", false},  // é in UTF-8
    {"\xe2\x9c\x93", false}, // ✓ in UTF-8
    {"\xff", false},
    {std::string("a\0b", 3), false},
  };
  for (const auto& c : cases) {
    INFO("id '" << c.id << "' of " << c.id.size() << " bytes");
    CHECK(is_valid_id(c.id) == c.valid);
  }
}

TEST_CASE("a one-character id is valid exactly for the allowed bytes",
          "[domain][ids]") {
  for (int b = 0; b < 256; ++b) {
    auto c = static_cast<char>(b);
    bool allowed = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                   (b >= '0' && b <= '9') || b == '_' || b == ':' || b == '-';
    INFO("byte " << b);
    CHECK(is_valid_id(std::string_view{&c, 1}) == allowed);
    std::string longer = "ab" + std::string(1, c) + "cd";
    CHECK(is_valid_id(longer) == allowed);
  }
}

TEST_CASE("interning gives dense keys that map back to their names",
          "[domain][ids]") {
  interner in{1000};
  CHECK(in.size() == 0);
  CHECK_FALSE(in.find("u1").has_value());
  CHECK(in.size() == 0); // find never creates

  std::vector<std::string> names{"u1", "t7", "", "u1x", "U1"};
  for (uint32_t i = 0; i < names.size(); ++i) {
    auto key = in.intern(names[i]);
    REQUIRE(key.has_value());
    CHECK(*key == i);
  }
  CHECK(in.size() == names.size());
  for (uint32_t i = 0; i < names.size(); ++i) {
    INFO("name '" << names[i] << "'");
    CHECK(in.intern(names[i]) == std::optional<uint32_t>{i});
    CHECK(in.find(names[i]) == std::optional<uint32_t>{i});
    CHECK(in.name(i) == names[i]);
  }
  CHECK(in.size() == names.size());
  CHECK_FALSE(in.find("t8").has_value());
}

TEST_CASE("names stay in place while more keys are interned", "[domain][ids]") {
  interner in{20000};
  auto first = in.intern("first");
  REQUIRE(first.has_value());
  auto view = in.name(*first);
  for (int i = 0; i < 10000; ++i)
    REQUIRE(in.intern("n" + std::to_string(i)).has_value());
  CHECK(in.name(*first).data() == view.data());
  CHECK(view == "first");
  CHECK(in.name(9000 + 1) == "n9000");
}

TEST_CASE("interning stops at the key limit, rounded up to whole chunks",
          "[domain][ids]") {
  // max_keys 1 rounds up to one chunk of 4096 keys.
  interner in{1};
  for (uint32_t i = 0; i < 4096; ++i) {
    auto key = in.intern("k" + std::to_string(i));
    REQUIRE(key == std::optional<uint32_t>{i});
  }
  CHECK_FALSE(in.intern("one-more").has_value());
  CHECK_FALSE(in.find("one-more").has_value());
  CHECK(in.size() == 4096);
  // Known strings still resolve at the limit.
  CHECK(in.intern("k17") == std::optional<uint32_t>{17});
  CHECK(in.name(4095) == "k4095");

  interner none{0};
  CHECK_FALSE(none.intern("a").has_value());
  CHECK(none.size() == 0);

  interner two_chunks{4097};
  for (uint32_t i = 0; i < 8192; ++i)
    REQUIRE(two_chunks.intern(std::to_string(i)).has_value());
  CHECK_FALSE(two_chunks.intern("x").has_value());
}

TEST_CASE("an interner allowing the largest number of keys still interns",
          "[domain][ids]") {
  for (uint32_t max : {std::numeric_limits<uint32_t>::max(),
                       std::numeric_limits<uint32_t>::max() - 100}) {
    INFO("max_keys " << max);
    interner in{max};
    CHECK(in.intern("a") == std::optional<uint32_t>{0});
    CHECK(in.intern("b") == std::optional<uint32_t>{1});
    CHECK(in.name(1) == "b");
  }
}

TEST_CASE("concurrent interning gives every string exactly one key",
          "[domain][ids]") {
  constexpr int threads = 4;
  constexpr int per_thread = 3000;
  constexpr int stride = 1000; // neighbours overlap by 2000 strings
  interner in{1 << 16};
  std::vector<std::map<std::string, uint32_t>> seen(threads);
  std::vector<int> failures(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::vector<std::string> mine;
      for (int i = 0; i < per_thread; ++i)
        mine.push_back("s" + std::to_string(t * stride + i));
      std::mt19937_64 rng{static_cast<uint64_t>(t)};
      std::shuffle(mine.begin(), mine.end(), rng);
      for (const auto& s : mine) {
        auto key = in.intern(s);
        if (!key) {
          ++failures[static_cast<size_t>(t)];
          continue;
        }
        seen[static_cast<size_t>(t)][s] = *key;
      }
    });
  for (auto& th : pool)
    th.join();

  for (int t = 0; t < threads; ++t)
    CHECK(failures[static_cast<size_t>(t)] == 0);
  constexpr uint32_t distinct = (threads - 1) * stride + per_thread;
  CHECK(in.size() == distinct);
  std::map<std::string, uint32_t> all;
  bool consistent = true;
  for (const auto& m : seen)
    for (const auto& [s, key] : m) {
      auto [i, fresh] = all.emplace(s, key);
      if (!fresh && i->second != key)
        consistent = false;
    }
  CHECK(consistent);
  REQUIRE(all.size() == distinct);
  std::set<uint32_t> keys;
  for (const auto& [s, key] : all) {
    keys.insert(key);
    INFO("string " << s << ", key " << key);
    REQUIRE(in.name(key) == s);
    REQUIRE(in.find(s) == std::optional<uint32_t>{key});
  }
  // Dense: exactly 0 .. distinct - 1.
  CHECK(keys.size() == distinct);
  CHECK(*keys.begin() == 0);
  CHECK(*keys.rbegin() == distinct - 1);
}

TEST_CASE("concurrent interning past the limit hands out every key once",
          "[domain][ids]") {
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  constexpr int stride = 1000;
  interner in{4096}; // 5000 distinct strings asked, 4096 fit
  std::vector<std::map<std::string, uint32_t>> seen(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto s = "s" + std::to_string(t * stride + i);
        if (auto key = in.intern(s))
          seen[static_cast<size_t>(t)][s] = *key;
      }
    });
  for (auto& th : pool)
    th.join();
  CHECK(in.size() == 4096);
  std::map<std::string, uint32_t> all;
  bool consistent = true;
  for (const auto& m : seen)
    for (const auto& [s, key] : m) {
      auto [i, fresh] = all.emplace(s, key);
      if (!fresh && i->second != key)
        consistent = false;
    }
  CHECK(consistent);
  CHECK(all.size() == 4096);
  std::set<uint32_t> keys;
  for (const auto& [s, key] : all) {
    keys.insert(key);
    REQUIRE(key < 4096);
    REQUIRE(in.name(key) == s);
  }
  CHECK(keys.size() == 4096);
}

TEST_CASE("past the limit only known strings come in; intern_known ignores "
          "the limit; all as a set with a cap would",
          "[domain][ids][limits]") {
  // Brute force: a set of the strings interned, a cap on new ones, and the
  // strings that exist elsewhere (stored), against random operations.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng{seed};
    const uint32_t limit = 1 + static_cast<uint32_t>(rng() % 40);
    std::set<std::string> known;
    for (int i = 0; i < 30; ++i)
      known.insert("s" + std::to_string(rng() % 100));
    interner in{4096};
    in.set_limit(limit, [&known](std::string_view s) {
      return known.count(std::string{s}) > 0;
    });
    CHECK(in.limit() == limit);
    std::map<std::string, uint32_t> model;
    for (int op = 0; op < 400; ++op) {
      auto s = "s" + std::to_string(rng() % 100);
      INFO("seed " << seed << ", limit " << limit << ", op " << op << " on "
                   << s);
      bool present = model.count(s) > 0;
      switch (rng() % 3) {
      case 0: { // intern
        bool room = model.size() < limit || known.count(s) > 0;
        REQUIRE(in.admits(s) == (present || room));
        auto key = in.intern(s);
        REQUIRE(key.has_value() == (present || room));
        if (key && !present)
          model.emplace(s, *key);
        break;
      }
      case 1: { // intern_known: a stored id, whatever the limit
        auto key = in.intern_known(s);
        REQUIRE(key.has_value());
        if (!present)
          model.emplace(s, *key);
        break;
      }
      default: // find never adds
        REQUIRE(in.find(s).has_value() == present);
      }
      REQUIRE(in.size() == model.size());
    }
    for (const auto& [s, key] : model) {
      REQUIRE(in.find(s) == std::optional<uint32_t>{key});
      REQUIRE(in.name(key) == s);
    }
  }
}

TEST_CASE("concurrent interning never passes the limit", "[domain][ids]") {
  constexpr int threads = 4;
  constexpr uint32_t limit = 1000;
  interner in{1 << 16};
  in.set_limit(limit);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i)
        in.intern("s" + std::to_string(t * 1000 + i));
    });
  for (auto& th : pool)
    th.join();
  CHECK(in.size() == limit);
  CHECK_FALSE(in.intern("one-more").has_value());
  CHECK(in.intern_known("one-more").has_value());
  CHECK(in.size() == limit + 1);
}

TEST_CASE("a limit is never above the capacity", "[domain][ids]") {
  interner in{4096};
  in.set_limit(100'000);
  CHECK(in.limit() == 4096);
  id_tables ids;
  CHECK(ids.titles.limit() >= max_id_limits.titles);
}

TEST_CASE("a key set holds what a std::set holds, in the order keys came; "
          "taken, it gives them in that order",
          "[domain][ids]") {
  std::mt19937 rng{GENERATE(1u, 2u, 3u)};
  key_set set;
  std::set<uint32_t> model;
  std::vector<uint32_t> order;
  for (int round = 0; round < 5; ++round) {
    // Keys from a range that grows, so the flags grow under the set too.
    auto range = 50u << (2 * round);
    for (int i = 0; i < 500; ++i) {
      auto key = static_cast<uint32_t>(rng() % range);
      bool fresh = model.insert(key).second;
      if (fresh)
        order.push_back(key);
      CHECK(set.insert(key) == fresh);
    }
    CHECK(set.size() == model.size());
    CHECK(set.keys() == order);
    for (uint32_t key = 0; key < range + 10; ++key)
      CHECK(set.contains(key) == (model.count(key) == 1));
    // Cleared or taken, it holds nothing and takes keys anew.
    if (round % 2 == 0)
      set.clear();
    else
      CHECK(set.take() == order);
    model.clear();
    order.clear();
    CHECK(set.empty());
    CHECK_FALSE(set.contains(0));
  }
  std::vector<uint32_t> many{7, 3, 7, 1000000, 3};
  set.insert(many.begin(), many.end());
  CHECK(set.keys() == std::vector<uint32_t>{7, 3, 1000000});
  CHECK(set.contains(1000000));
  CHECK_FALSE(set.contains(999999));
}

TEST_CASE("a vector indexed by dense keys grows by half again, with the "
          "fill, to exactly the capacity it needs",
          "[ids]") {
  std::vector<double> v;
  cover_index(v, 3, 1.0);
  CHECK(v == std::vector<double>(4, 1.0));
  CHECK(v.capacity() == 4);
  v[3] = 7.0;
  cover_index(v, 2, 5.0); // already an element: nothing changes
  CHECK(v.size() == 4);
  cover_index(v, 4, 5.0); // half again: 6 elements, not 5 and not 8
  CHECK(v == std::vector<double>{1.0, 1.0, 1.0, 7.0, 5.0, 5.0});
  CHECK(v.capacity() == 6);
  cover_index(v, 20, 0.0); // far beyond: up to the index
  CHECK(v.size() == 21);
  CHECK(v.capacity() == 21);
  std::vector<std::unique_ptr<int>> owners; // move-only elements
  cover_index(owners, 1);
  CHECK(owners.size() == 2);
  CHECK(owners[1] == nullptr);
}
