#include "actors/trending_actor.hpp"

#include "tests/actor/fixture.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <optional>

using namespace marquee;
using namespace marquee::test;

namespace {

constexpr region_key region_de = 10;
constexpr region_key region_fr = 11;
constexpr uint32_t day = 1; // window index of 1d in test_params()

struct trending_fixture : fixture {
  std::shared_ptr<trending_cell> cell = std::make_shared<trending_cell>(params);

  /// `n` plays of `title` at `base_ts`, as a title actor would report them.
  void plays(title_key title, uint64_t n, region_key region = all_regions) {
    play_counts counts;
    for (uint64_t i = 0; i < n; ++i)
      counts.add(base_ts, params->trending);
    cell->update(trending_update{title, region, counts});
  }

  void catalog(title_key title, title_meta meta) {
    cell->catalog(catalog_event{title, std::move(meta)});
  }

  std::vector<title_key> candidates(const user_view& view, uint32_t k = 20) {
    return titles_of(
      read([&] {
        return cell->candidates(candidates_query{view, k, day, base_ts});
      }).items);
  }

  std::vector<title_key> kept(const user_view& view,
                              std::vector<title_key> titles) {
    return read([&] {
      return cell->filter(filter_query{view, std::move(titles)});
    });
  }

  std::vector<title_key> listed(region_key region,
                                std::vector<genre_key> genres = {}) {
    return titles_of(read([&] {
                       return cell->trending(trending_query{
                         10, day, region, std::move(genres), base_ts});
                     }).items);
  }
};

/// One filter rule: the candidate title `candidate` gets `meta` (none: no
/// catalog entry) and the user `view`; `shown` says whether it passes.
struct filter_case {
  const char* rule;
  std::optional<title_meta> meta;
  std::function<void(user_view&)> adjust;
  bool shown;
};

constexpr title_key candidate = 1;
constexpr title_key control = 100; // always shown, fewer plays

std::vector<filter_case> filter_cases() {
  auto nothing = [](user_view&) {};
  return {
    {"a title no rule applies to is shown", meta_of({1}), nothing, true},
    {"a title without catalog entry is not shown", std::nullopt, nothing,
     false},
    {"an unavailable title is not shown", meta_of({1}, {}, 0, false), nothing,
     false},
    {"a watched title is not shown", meta_of({1}),
     [](user_view& v) { v.watched = {candidate}; }, false},
    {"a thumbed-down title is not shown", meta_of({1}),
     [](user_view& v) { v.thumbed_down = {candidate}; }, false},
    {"a title above the user's age limit is not shown", meta_of({1}, {}, 16),
     [](user_view& v) { v.max_age = 12; }, false},
    {"a title at the user's age limit is shown", meta_of({1}, {}, 12),
     [](user_view& v) { v.max_age = 12; }, true},
    {"a title of other regions is not shown", meta_of({1}, {region_de}),
     [](user_view& v) { v.region = region_fr; }, false},
    {"a regional title is not shown to a user of unknown region",
     meta_of({1}, {region_de}), nothing, false},
    {"a regional title is shown in its region",
     meta_of({1}, {region_de, region_fr}),
     [](user_view& v) { v.region = region_de; }, true},
    {"an excluded title is not shown", meta_of({1}),
     [](user_view& v) { v.exclude = {candidate}; }, false},
    {"a title of other genres is not shown", meta_of({2}),
     [](user_view& v) { v.genres = {1}; }, false},
    {"a title sharing a genre is shown", meta_of({2, 3}),
     [](user_view& v) {
       v.genres = {1, 3};
     },
     true},
  };
}

} // namespace

TEST_CASE_METHOD(trending_fixture,
                 "trending candidates for a user pass every filter rule",
                 "[actor][trending][filter]") {
  for (const auto& c : filter_cases()) {
    DYNAMIC_SECTION(c.rule) {
      if (c.meta)
        catalog(candidate, *c.meta);
      catalog(control, meta_of({1}));
      plays(candidate, 5);
      plays(control, 2);
      run();
      user_view view;
      c.adjust(view);
      auto expected = c.shown ? std::vector<title_key>{candidate, control}
                              : std::vector<title_key>{control};
      CHECK(candidates(view) == expected);
    }
  }
}

TEST_CASE_METHOD(trending_fixture, "a filter query applies every filter rule",
                 "[actor][trending][filter]") {
  for (const auto& c : filter_cases()) {
    DYNAMIC_SECTION(c.rule) {
      if (c.meta)
        catalog(candidate, *c.meta);
      catalog(control, meta_of({1}));
      run();
      user_view view;
      c.adjust(view);
      auto expected = c.shown ? std::vector<title_key>{control, candidate}
                              : std::vector<title_key>{control};
      CHECK(kept(view, {control, candidate}) == expected);
    }
  }
}

TEST_CASE_METHOD(trending_fixture,
                 "trending candidates are the best k by decayed score among "
                 "the titles that pass",
                 "[actor][trending]") {
  for (title_key t = 1; t <= 6; ++t) {
    catalog(t, meta_of({1}));
    plays(t, t); // title t has t plays: 6 is the best
  }
  run();
  user_view view;
  view.watched = {5};
  CHECK(candidates(view, 3) == std::vector<title_key>{6, 4, 3});
  auto entries = read([&] {
                   return cell->candidates(
                     candidates_query{view, 1, day, base_ts + ms_per_day});
                 }).items;
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].title == 6);
  CHECK(entries[0].plays == 6);
  CHECK(entries[0].score == Approx(3.0)); // six plays, one half-life ago
  SECTION("a window that is not configured has no candidates") {
    auto none =
      read([&] {
        return cell->candidates(candidates_query{view, 3, 7, base_ts});
      }).items;
    CHECK(none.empty());
  }
}

TEST_CASE_METHOD(trending_fixture,
                 "a filter query keeps the titles in the order asked, not by "
                 "score",
                 "[actor][trending][filter]") {
  for (title_key t = 1; t <= 6; ++t) {
    catalog(t, meta_of({1}));
    plays(t, t);
  }
  run();
  user_view view;
  view.watched = {2};
  view.thumbed_down = {5};
  CHECK(kept(view, {3, 5, 1, 42, 6, 2, 4}) ==
        std::vector<title_key>{3, 1, 6, 4});
  CHECK(kept(view, {}).empty());
}

TEST_CASE_METHOD(trending_fixture,
                 "a trending query filters by region and genres but knows no "
                 "user",
                 "[actor][trending]") {
  // 1: everywhere, genre 1. 2: only in de, genre 2. 3: no catalog entry.
  // 4: unavailable. 5: only in fr, genre 1, played in de.
  catalog(1, meta_of({1}));
  catalog(2, meta_of({2}, {region_de}));
  catalog(4, meta_of({1}, {}, 0, false));
  catalog(5, meta_of({1}, {region_fr}));
  plays(1, 5);
  plays(2, 4);
  plays(3, 3);
  plays(4, 2);
  plays(5, 1);
  plays(1, 2, region_de);
  plays(2, 3, region_de);
  plays(5, 1, region_de);
  plays(1, 1, region_fr);
  run();
  CHECK(listed(all_regions) == std::vector<title_key>{1, 2, 3, 5});
  CHECK(listed(all_regions, {1}) == std::vector<title_key>{1, 5});
  CHECK(listed(all_regions, {2, 7}) == std::vector<title_key>{2});
  CHECK(listed(region_de) == std::vector<title_key>{2, 1});
  CHECK(listed(region_de, {1}) == std::vector<title_key>{1});
  CHECK(listed(region_fr) == std::vector<title_key>{1});
  CHECK(listed(12).empty()); // a region without plays
  SECTION("the regional list counts the regional plays") {
    auto res = read([&] {
      return cell->trending(trending_query{10, day, region_de, {}, base_ts});
    });
    REQUIRE(res.items.size() == 2);
    CHECK(res.items[0].plays == 3);
    CHECK(res.items[0].score == Approx(3.0));
  }
}
