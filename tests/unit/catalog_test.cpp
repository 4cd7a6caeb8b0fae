#include "domain/catalog.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace marquee;

namespace {

constexpr region_key us = 10;
constexpr region_key gb = 20;
constexpr region_key fr = 30;
constexpr genre_key comedy = 1;
constexpr genre_key drama = 2;
constexpr genre_key horror = 3;

constexpr title_key watched_title = 5;
constexpr title_key thumbed_title = 6;
constexpr title_key excluded_title = 7;
constexpr title_key plain_title = 8;

/// A 12+ comedy-drama offered in the US and GB.
title_meta base_meta() {
  title_meta m;
  m.name = "t";
  m.genres = {comedy, drama};
  m.min_age = 12;
  m.year = 2001;
  m.regions = {us, gb};
  m.available = true;
  return m;
}

/// An 18-year-old in the US who watched title 5, thumbed down 6, excludes 7.
user_view base_user() {
  user_view u;
  u.max_age = 18;
  u.region = us;
  u.watched = {1, watched_title, 9};
  u.thumbed_down = {thumbed_title};
  u.exclude = {excluded_title};
  return u;
}

const char* name_of(filter_verdict v) {
  switch (v) {
  case filter_verdict::none:
    return "none";
  case filter_verdict::unknown_title:
    return "unknown_title";
  case filter_verdict::unavailable:
    return "unavailable";
  case filter_verdict::watched:
    return "watched";
  case filter_verdict::thumbed_down:
    return "thumbed_down";
  case filter_verdict::too_old_for_user:
    return "too_old_for_user";
  case filter_verdict::out_of_region:
    return "out_of_region";
  case filter_verdict::excluded:
    return "excluded";
  case filter_verdict::genre_mismatch:
    return "genre_mismatch";
  }
  return "?";
}

struct judge_case {
  const char* what;
  title_key title;
  bool has_meta;
  void (*edit_meta)(title_meta&);
  void (*edit_user)(user_view&);
  filter_verdict want;
};

void keep_meta(title_meta&) {}
void keep_user(user_view&) {}

} // namespace

TEST_CASE("judge gives the verdict of the one rule a title breaks",
          "[domain][filter]") {
  const judge_case cases[] = {
    {"a plain title may be shown", plain_title, true, keep_meta, keep_user,
     filter_verdict::none},
    {"a title without catalog entry is unknown", plain_title, false, keep_meta,
     keep_user, filter_verdict::unknown_title},
    {"an unavailable title", plain_title, true,
     [](title_meta& m) { m.available = false; }, keep_user,
     filter_verdict::unavailable},
    {"a watched title", watched_title, true, keep_meta, keep_user,
     filter_verdict::watched},
    {"a thumbed-down title", thumbed_title, true, keep_meta, keep_user,
     filter_verdict::thumbed_down},
    {"a title above the user's age", plain_title, true, keep_meta,
     [](user_view& u) { u.max_age = 11; }, filter_verdict::too_old_for_user},
    {"a title exactly at the user's age", plain_title, true, keep_meta,
     [](user_view& u) { u.max_age = 12; }, filter_verdict::none},
    {"a user without age limit", plain_title, true,
     [](title_meta& m) { m.min_age = 18; },
     [](user_view& u) { u.max_age.reset(); }, filter_verdict::none},
    {"a title not offered in the user's region", plain_title, true, keep_meta,
     [](user_view& u) { u.region = fr; }, filter_verdict::out_of_region},
    {"a region-restricted title and a user of unknown region", plain_title,
     true, keep_meta, [](user_view& u) { u.region.reset(); },
     filter_verdict::out_of_region},
    {"an unrestricted title and a user of unknown region", plain_title, true,
     [](title_meta& m) { m.regions.clear(); },
     [](user_view& u) { u.region.reset(); }, filter_verdict::none},
    {"an unrestricted title anywhere", plain_title, true,
     [](title_meta& m) { m.regions.clear(); },
     [](user_view& u) { u.region = fr; }, filter_verdict::none},
    {"a title in the user's second region", plain_title, true, keep_meta,
     [](user_view& u) { u.region = gb; }, filter_verdict::none},
    {"an excluded title", excluded_title, true, keep_meta, keep_user,
     filter_verdict::excluded},
    {"a title outside the genres asked", plain_title, true, keep_meta,
     [](user_view& u) { u.genres = {horror}; }, filter_verdict::genre_mismatch},
    {"a title with one of the genres asked", plain_title, true, keep_meta,
     [](user_view& u) {
       u.genres = {drama, horror};
     },
     filter_verdict::none},
    {"a title without genres when genres are asked", plain_title, true,
     [](title_meta& m) { m.genres.clear(); },
     [](user_view& u) { u.genres = {comedy}; }, filter_verdict::genre_mismatch},
  };
  for (const auto& c : cases) {
    auto meta = base_meta();
    c.edit_meta(meta);
    auto user = base_user();
    c.edit_user(user);
    auto got = judge(c.title, c.has_meta ? &meta : nullptr, user);
    INFO(c.what << ": got " << name_of(got) << ", want " << name_of(c.want));
    CHECK(got == c.want);
  }
}

TEST_CASE("a title breaking several rules is never shown", "[domain][filter]") {
  auto meta = base_meta();
  meta.available = false;
  auto user = base_user();
  user.region = fr;
  user.max_age = 3;
  user.genres = {horror};
  for (auto t : {watched_title, thumbed_title, excluded_title, plain_title}) {
    INFO("title " << t);
    CHECK(judge(t, &meta, user) != filter_verdict::none);
    CHECK(judge(t, nullptr, user) != filter_verdict::none);
  }
  // A watched title is never shown, whatever else holds.
  auto open = base_meta();
  open.regions.clear();
  open.min_age = 0;
  auto kid = base_user();
  kid.max_age = 6;
  kid.region.reset();
  CHECK(judge(watched_title, &open, kid) == filter_verdict::watched);
}

TEST_CASE("the listing filter checks availability, region and genres",
          "[domain][filter]") {
  struct listing_case {
    const char* what;
    bool has_meta;
    void (*edit_meta)(title_meta&);
    std::optional<region_key> region;
    std::vector<genre_key> genres;
    bool want;
  };
  const listing_case cases[] = {
    {"a plain title", true, keep_meta, std::nullopt, {}, true},
    {"an unknown title without genre filter",
     false,
     keep_meta,
     std::nullopt,
     {},
     true},
    {"an unknown title with a region", false, keep_meta, fr, {}, true},
    {"an unknown title with a genre filter",
     false,
     keep_meta,
     std::nullopt,
     {comedy},
     false},
    {"an unavailable title",
     true,
     [](title_meta& m) { m.available = false; },
     std::nullopt,
     {},
     false},
    {"a title offered in the region", true, keep_meta, gb, {}, true},
    {"a title not offered in the region", true, keep_meta, fr, {}, false},
    {"a restricted title without region asked",
     true,
     keep_meta,
     std::nullopt,
     {},
     true},
    {"an unrestricted title in any region",
     true,
     [](title_meta& m) { m.regions.clear(); },
     fr,
     {},
     true},
    {"a title with a genre asked",
     true,
     keep_meta,
     std::nullopt,
     {drama, horror},
     true},
    {"a title without the genres asked",
     true,
     keep_meta,
     std::nullopt,
     {horror},
     false},
    {"region and genre both fine", true, keep_meta, us, {comedy}, true},
    {"region fine, genre not", true, keep_meta, us, {horror}, false},
  };
  for (const auto& c : cases) {
    auto meta = base_meta();
    c.edit_meta(meta);
    INFO(c.what);
    CHECK(passes_listing_filter(c.has_meta ? &meta : nullptr, c.region,
                                c.genres) == c.want);
  }
}

TEST_CASE("sorted ranges intersect exactly when they share an element",
          "[domain][filter]") {
  struct intersect_case {
    std::vector<uint32_t> xs;
    std::vector<uint32_t> ys;
    bool want;
  };
  const intersect_case cases[] = {
    {{}, {}, false},
    {{1}, {}, false},
    {{}, {1}, false},
    {{1}, {1}, true},
    {{1, 3, 5}, {2, 4, 6}, false},
    {{1, 3, 5}, {5}, true},
    {{5}, {1, 3, 5}, true},
    {{1, 2}, {2, 3}, true},
    {{1, 2, 3}, {4, 5, 6}, false},
    {{4, 5, 6}, {1, 2, 3}, false},
    {{0, 10, 20, 30}, {5, 15, 25, 30}, true},
    {{0, 10, 20, 31}, {5, 15, 25, 30}, false},
  };
  for (const auto& c : cases) {
    INFO("xs size " << c.xs.size() << ", ys size " << c.ys.size() << ", want "
                    << c.want);
    CHECK(intersects(c.xs, c.ys) == c.want);
    CHECK(intersects(c.ys, c.xs) == c.want);
  }
}

TEST_CASE("a sorted range contains exactly its elements", "[domain][filter]") {
  std::vector<uint32_t> xs{2, 4, 8, 16};
  for (uint32_t x = 0; x < 20; ++x) {
    INFO("x " << x);
    CHECK(contains_sorted(xs, x) == (x == 2 || x == 4 || x == 8 || x == 16));
  }
  CHECK_FALSE(contains_sorted(std::vector<uint32_t>{}, 0u));
}
