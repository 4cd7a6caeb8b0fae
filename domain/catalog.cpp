#include "domain/catalog.hpp"

namespace marquee {

filter_verdict judge(title_key title, const title_meta* meta,
                     const user_view& user) {
  if (meta == nullptr)
    return filter_verdict::unknown_title;
  if (!meta->available)
    return filter_verdict::unavailable;
  if (contains_sorted(user.watched, title))
    return filter_verdict::watched;
  if (contains_sorted(user.thumbed_down, title))
    return filter_verdict::thumbed_down;
  if (user.max_age && meta->min_age > *user.max_age)
    return filter_verdict::too_old_for_user;
  if (!meta->regions.empty() &&
      (!user.region || !contains_sorted(meta->regions, *user.region)))
    return filter_verdict::out_of_region;
  if (contains_sorted(user.exclude, title))
    return filter_verdict::excluded;
  if (!user.genres.empty() && !intersects(meta->genres, user.genres))
    return filter_verdict::genre_mismatch;
  return filter_verdict::none;
}

bool passes_listing_filter(const title_meta* meta,
                           std::optional<region_key> region,
                           const std::vector<genre_key>& genres) {
  if (meta == nullptr)
    return genres.empty();
  if (!meta->available)
    return false;
  if (region && !meta->regions.empty() &&
      !contains_sorted(meta->regions, *region))
    return false;
  return genres.empty() || intersects(meta->genres, genres);
}

} // namespace marquee
