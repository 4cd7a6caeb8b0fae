#pragma once

/// Title metadata and the rules that decide whether a title may be shown to
/// a user (CONTRACT.md, "Semantics every implementation must keep").

#include "domain/ids.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace marquee {

/// A title's catalog entry, as published on `P.v1.catalog.<title>`.
struct title_meta {
  std::string name;
  std::vector<genre_key> genres; // sorted, unique
  int32_t min_age = 0;
  int32_t year = 0;                // 0: unknown
  std::vector<region_key> regions; // sorted, unique; empty: everywhere
  bool available = true;
};

/// A user's profile, as published on `P.v1.profile.<user>`.
struct user_profile {
  std::optional<int32_t> max_age;
  std::optional<region_key> region;
};

/// What a filter needs to know of a user, for one request.
struct user_view {
  std::optional<int32_t> max_age;
  /// Profile region, else the region of the latest play; unknown: nullopt.
  std::optional<region_key> region;
  std::vector<title_key> watched;      // sorted
  std::vector<title_key> thumbed_down; // sorted
  std::vector<title_key> thumbed_up;   // sorted; not a filter, a taste
  std::vector<title_key> exclude;      // sorted, from the request
  std::vector<genre_key> genres;       // sorted, from the request; empty: any
};

/// Returns whether two sorted ranges share an element.
template <class T>
bool intersects(const std::vector<T>& xs, const std::vector<T>& ys) {
  auto i = xs.begin();
  auto j = ys.begin();
  while (i != xs.end() && j != ys.end()) {
    if (*i < *j)
      ++i;
    else if (*j < *i)
      ++j;
    else
      return true;
  }
  return false;
}

template <class T>
bool contains_sorted(const std::vector<T>& xs, T x) {
  return std::binary_search(xs.begin(), xs.end(), x);
}

/// Why a title is not shown; `none` means it may be shown.
enum class filter_verdict {
  none,
  unknown_title, // no catalog entry yet: availability, age, region unknown
  unavailable,
  watched,
  thumbed_down,
  too_old_for_user, // min_age above the user's max_age
  out_of_region,
  excluded,
  genre_mismatch,
};

/// Applies every rule to one title. `meta` is null for a title without a
/// catalog entry. A title restricted to some regions is shown only to a
/// user whose region is known and among them.
filter_verdict judge(title_key title, const title_meta* meta,
                     const user_view& user);

/// Checks only what the title says of itself for a region and genre filter
/// (for the trending endpoint): availability, region when given, genres when
/// given. Titles without catalog entry pass unless genres are asked for.
bool passes_listing_filter(const title_meta* meta,
                           std::optional<region_key> region,
                           const std::vector<genre_key>& genres);

} // namespace marquee
