#include "domain/snapshot.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace marquee {

namespace {

constexpr int64_t min_ts = std::numeric_limits<int64_t>::min();
constexpr int64_t max_ts = std::numeric_limits<int64_t>::max();

template <class T>
bool ascending_unique(const std::vector<T>& xs) {
  return std::adjacent_find(xs.begin(), xs.end(), [](const T& x, const T& y) {
           return !(x < y);
         }) == xs.end();
}

template <class T>
bool all_unique(std::vector<T> xs) {
  std::sort(xs.begin(), xs.end());
  return std::adjacent_find(xs.begin(), xs.end()) == xs.end();
}

/// Event times are at least 0 (CONTRACT.md); the domain's arithmetic on
/// times relies on that, so a restored state never holds other times.
bool valid_times(const std::vector<int64_t>& ts) {
  return std::all_of(ts.begin(), ts.end(), [](int64_t t) { return t >= 0; });
}

bool newest_first(const std::vector<int64_t>& ts) {
  return std::is_sorted(ts.rbegin(), ts.rend());
}

/// An EMA or decayed sum: every event adds 1 at its own time, and the sum
/// only decays towards the newest event, so a non-empty one is at least 1.
bool plausible_sum(double v) {
  return std::isfinite(v) && v >= 1.0;
}

/// `a - b`, clamped to the range of int64_t.
int64_t saturating_sub(int64_t a, int64_t b) {
  if (b > 0 && a < min_ts + b)
    return min_ts;
  if (b < 0 && a > max_ts + b)
    return max_ts;
  return a - b;
}

bool same_bits(double x, double y) {
  return std::memcmp(&x, &y, sizeof(double)) == 0;
}

bool same_bits(const std::vector<double>& xs, const std::vector<double>& ys) {
  return xs.size() == ys.size() &&
         std::equal(xs.begin(), xs.end(), ys.begin(),
                    [](double x, double y) { return same_bits(x, y); });
}

bool valid_user(const user_snapshot_data& s, const user_params& p) {
  // Recent plays, watched, in progress, feedback.
  auto n_recent = s.recent_titles.size();
  if (s.recent_ts.size() != n_recent || s.recent_progress.size() != n_recent ||
      n_recent > p.recent_max || !newest_first(s.recent_ts) ||
      !valid_times(s.recent_ts) || s.play_region_ts < 0)
    return false;
  if (!ascending_unique(s.watched))
    return false;
  auto n_progress = s.progress_titles.size();
  if (s.progress_ts.size() != n_progress ||
      s.progress_values.size() != n_progress ||
      n_progress > p.in_progress_max || !newest_first(s.progress_ts) ||
      !valid_times(s.progress_ts) || !all_unique(s.progress_titles))
    return false;
  for (size_t i = 0; i < n_progress; ++i)
    if (s.progress_values[i] >= watched_progress ||
        std::binary_search(s.watched.begin(), s.watched.end(),
                           s.progress_titles[i]))
      return false;
  auto n_feedback = s.feedback_titles.size();
  if (s.feedback_ts.size() != n_feedback ||
      s.feedback_values.size() != n_feedback ||
      !ascending_unique(s.feedback_titles) || !valid_times(s.feedback_ts))
    return false;
  for (auto v : s.feedback_values)
    if (v != 1 && v != -1)
      return false;
  // Impression entries and their EMAs.
  const auto& ip = p.impressions;
  auto n = s.impression_titles.size();
  if (s.impression_counts.size() != n || s.impression_last_ts.size() != n ||
      !ascending_unique(s.impression_titles) ||
      !valid_times(s.impression_last_ts))
    return false;
  for (auto c : s.impression_counts)
    if (c == 0)
      return false;
  auto repeated = static_cast<size_t>(
    std::count_if(s.impression_counts.begin(), s.impression_counts.end(),
                  [](uint32_t c) { return c > 1; }));
  if (s.windows != (repeated == 0 ? 0 : ip.windows_ms.size()) ||
      s.impression_emas.size() != repeated * s.windows)
    return false;
  for (auto v : s.impression_emas)
    if (!plausible_sum(v))
      return false;
  if (n == 0)
    return s.newest_ts == min_ts && s.covered_from == min_ts &&
           s.raw_ts.empty() && s.raw_titles.empty();
  if (s.newest_ts != *std::max_element(s.impression_last_ts.begin(),
                                       s.impression_last_ts.end()))
    return false;
  // Raw impressions: those retained under `ip`, of titles with entries. A raw
  // impression may be older than `covered_from` (ties at the cut are kept).
  if (s.covered_from != min_ts &&
      (s.covered_from < 0 || s.covered_from - 1 > s.newest_ts))
    return false;
  auto n_raw = s.raw_ts.size();
  if (s.raw_titles.size() != n_raw || n_raw > ip.raw_max ||
      !std::is_sorted(s.raw_ts.begin(), s.raw_ts.end()) ||
      !valid_times(s.raw_ts))
    return false;
  auto cutoff = saturating_sub(s.newest_ts, ip.raw_retention_ms);
  if (n_raw > 0 && (s.raw_ts.front() < cutoff || s.raw_ts.back() > s.newest_ts))
    return false;
  for (auto t : s.raw_titles)
    if (!std::binary_search(s.impression_titles.begin(),
                            s.impression_titles.end(), t))
      return false;
  return true;
}

bool valid_title(const title_snapshot_data& s, const trending_params& p) {
  if (s.has_meta &&
      (!ascending_unique(s.genres) || !ascending_unique(s.regions)))
    return false;
  if (s.last_play_ts < 0 || s.last_impression_ts < 0)
    return false;
  auto n_regions = s.trending_regions.size();
  if (s.trending_plays.size() != n_regions ||
      !ascending_unique(s.trending_regions) ||
      (n_regions > 0 && s.trending_regions.back() == all_regions))
    return false;
  uint64_t region_plays = 0;
  for (auto n : s.trending_plays) {
    if (n == 0 || n > s.plays - region_plays)
      return false;
    region_plays += n;
  }
  size_t rows = s.plays == 0 ? 0 : 1 + n_regions;
  if (s.windows != (s.plays == 0 ? 0 : p.windows_ms.size()) ||
      s.decayed_values.size() != rows * s.windows ||
      s.decayed_refs.size() != rows * s.windows)
    return false;
  for (auto v : s.decayed_values)
    if (!plausible_sum(v))
      return false;
  return valid_times(s.decayed_refs);
}

/// The indices of `keys` in ascending order of key.
std::vector<size_t> ascending_order(const std::vector<uint32_t>& keys) {
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t i, size_t j) { return keys[i] < keys[j]; });
  return order;
}

/// `xs` reordered by `order`, moving blocks of `stride` elements.
template <class T>
std::vector<T> permuted(const std::vector<T>& xs,
                        const std::vector<size_t>& order, size_t stride = 1) {
  std::vector<T> out;
  out.reserve(xs.size());
  for (auto i : order)
    out.insert(out.end(), xs.begin() + static_cast<ptrdiff_t>(i * stride),
               xs.begin() + static_cast<ptrdiff_t>((i + 1) * stride));
  return out;
}

/// Replaces every key in `xs` by its image; false when one has none.
bool map_keys(std::vector<uint32_t>& xs, const key_map& m) {
  for (auto& x : xs) {
    auto y = m(x);
    if (!y)
      return false;
    x = *y;
  }
  return true;
}

bool map_key(bool present, uint32_t& x, const key_map& m) {
  if (!present)
    return true;
  auto y = m(x);
  if (y)
    x = *y;
  return y.has_value();
}

/// Every title and region key field of a user snapshot, the one list of
/// them: `list(keys)` for each list of title keys, `one(present, key)` for
/// each region key; stops at the first false.
template <class Snapshot, class List, class One>
bool user_key_fields(Snapshot& d, List list, One one) {
  return list(d.recent_titles) && list(d.watched) && list(d.progress_titles) &&
         list(d.feedback_titles) && list(d.impression_titles) &&
         list(d.raw_titles) && one(d.has_region, d.region) &&
         one(d.has_play_region, d.play_region);
}

/// The same for a title snapshot: `regions(keys)`, `genres(keys)`.
template <class Snapshot, class Regions, class Genres>
bool title_key_fields(Snapshot& d, Regions regions, Genres genres) {
  return (!d.has_meta || (genres(d.genres) && regions(d.regions))) &&
         regions(d.trending_regions);
}

} // namespace

/// The only code that sees the private members of the states.
struct snapshot_access {
  static user_snapshot_data take(const user_state& u) {
    user_snapshot_data d;
    d.events_applied = u.events_;
    for (const auto& r : u.recent_) {
      d.recent_titles.push_back(r.title);
      d.recent_ts.push_back(r.ts);
      d.recent_progress.push_back(r.progress);
    }
    d.watched = u.watched_;
    for (const auto& r : u.in_progress_) {
      d.progress_titles.push_back(r.title);
      d.progress_ts.push_back(r.ts);
      d.progress_values.push_back(r.progress);
    }
    for (const auto& f : u.feedback_) {
      d.feedback_titles.push_back(f.title);
      d.feedback_ts.push_back(f.ts);
      d.feedback_values.push_back(f.value);
    }
    d.has_max_age = u.profile_.max_age.has_value();
    d.max_age = u.profile_.max_age.value_or(0);
    d.has_region = u.profile_.region.has_value();
    d.region = u.profile_.region.value_or(0);
    d.has_play_region = u.play_region_.has_value();
    d.play_region = u.play_region_.value_or(0);
    d.play_region_ts = u.play_region_ts_;
    const auto& h = u.impressions_;
    for (const auto& e : h.entries_) {
      d.impression_titles.push_back(e.title);
      d.impression_counts.push_back(e.count);
      d.impression_last_ts.push_back(e.last_ts);
    }
    d.windows = h.repeated_.empty()
                  ? 0
                  : static_cast<uint16_t>(h.emas_.size() / h.repeated_.size());
    d.impression_emas = h.emas_;
    d.raw_ts = h.raw_ts_;
    d.raw_titles = h.raw_titles_;
    d.newest_ts = h.newest_;
    d.covered_from = h.covered_from_;
    return d;
  }

  /// `s` must have passed `valid_user`.
  static user_state make(const user_snapshot_data& s) {
    user_state u;
    u.events_ = s.events_applied;
    for (size_t i = 0; i < s.recent_titles.size(); ++i)
      u.recent_.push_back(
        play_record{s.recent_titles[i], s.recent_ts[i], s.recent_progress[i]});
    u.watched_ = s.watched;
    for (size_t i = 0; i < s.progress_titles.size(); ++i)
      u.in_progress_.push_back(play_record{
        s.progress_titles[i], s.progress_ts[i], s.progress_values[i]});
    for (size_t i = 0; i < s.feedback_titles.size(); ++i)
      u.feedback_.push_back(feedback_record{
        s.feedback_titles[i], s.feedback_ts[i], s.feedback_values[i]});
    if (s.has_max_age)
      u.profile_.max_age = s.max_age;
    if (s.has_region)
      u.profile_.region = s.region;
    if (s.has_play_region)
      u.play_region_ = s.play_region;
    u.play_region_ts_ = s.play_region_ts;
    auto& h = u.impressions_;
    for (size_t i = 0; i < s.impression_titles.size(); ++i)
      h.entries_.push_back(impression_history::entry{s.impression_titles[i],
                                                     s.impression_counts[i],
                                                     s.impression_last_ts[i]});
    for (size_t i = 0; i < s.impression_titles.size(); ++i)
      if (s.impression_counts[i] > 1)
        h.repeated_.push_back(s.impression_titles[i]);
    h.emas_ = s.impression_emas;
    h.raw_ts_ = s.raw_ts;
    h.raw_titles_ = s.raw_titles;
    h.newest_ = s.newest_ts;
    h.covered_from_ = s.covered_from;
    return u;
  }

  static title_snapshot_data take(const title_state& t) {
    title_snapshot_data d;
    if (t.meta_) {
      d.has_meta = true;
      d.name = t.meta_->name;
      d.genres = t.meta_->genres;
      d.min_age = t.meta_->min_age;
      d.year = t.meta_->year;
      d.regions = t.meta_->regions;
      d.available = t.meta_->available;
    }
    d.impressions = t.impressions_;
    d.thumbs_up = t.thumbs_up_;
    d.thumbs_down = t.thumbs_down_;
    d.last_play_ts = t.last_play_ts_;
    d.last_impression_ts = t.last_impression_ts_;
    const auto& tr = t.trending_;
    d.plays = tr.global_.plays;
    auto windows = tr.global_.decayed.size();
    d.windows = static_cast<uint16_t>(windows);
    auto add_row = [&](const play_counts& c) {
      for (size_t w = 0; w < windows; ++w) {
        // Rows of one title all have the same windows; a short row would
        // write empty sums, which restoring refuses.
        auto sum = w < c.decayed.size() ? c.decayed[w] : decayed_sum{};
        d.decayed_values.push_back(sum.raw_value());
        d.decayed_refs.push_back(sum.ref());
      }
    };
    if (d.plays > 0)
      add_row(tr.global_);
    for (const auto& [region, counts] : tr.regions_) {
      d.trending_regions.push_back(region);
      d.trending_plays.push_back(counts.plays);
      add_row(counts);
    }
    return d;
  }

  /// `s` must have passed `valid_title`.
  static title_state make(const title_snapshot_data& s) {
    title_state t;
    if (s.has_meta)
      t.meta_ =
        title_meta{s.name, s.genres, s.min_age, s.year, s.regions, s.available};
    t.impressions_ = s.impressions;
    t.thumbs_up_ = s.thumbs_up;
    t.thumbs_down_ = s.thumbs_down;
    t.last_play_ts_ = s.last_play_ts;
    t.last_impression_ts_ = s.last_impression_ts;
    auto row = [&](size_t r, uint64_t plays) {
      play_counts c;
      c.plays = plays;
      for (size_t w = 0; w < s.windows; ++w) {
        auto i = r * s.windows + w;
        c.decayed.push_back(
          decayed_sum::restore(s.decayed_values[i], s.decayed_refs[i]));
      }
      return c;
    };
    if (s.plays == 0)
      return t;
    auto& tr = t.trending_;
    tr.global_ = row(0, s.plays);
    for (size_t i = 0; i < s.trending_regions.size(); ++i)
      tr.regions_.emplace_back(s.trending_regions[i],
                               row(i + 1, s.trending_plays[i]));
    return t;
  }
};

user_snapshot_data snapshot_of(const user_state& s) {
  return snapshot_access::take(s);
}

std::optional<user_state> restore_user(const user_snapshot_data& s,
                                       const user_params& p) {
  if (!valid_user(s, p))
    return std::nullopt;
  return snapshot_access::make(s);
}

title_snapshot_data snapshot_of(const title_state& s) {
  return snapshot_access::take(s);
}

std::optional<title_state> restore_title(const title_snapshot_data& s,
                                         const trending_params& p) {
  if (!valid_title(s, p))
    return std::nullopt;
  return snapshot_access::make(s);
}

bool operator==(const user_snapshot_data& x, const user_snapshot_data& y) {
  return x.last_sequence == y.last_sequence &&
         x.events_applied == y.events_applied && x.windows == y.windows &&
         x.recent_titles == y.recent_titles && x.recent_ts == y.recent_ts &&
         same_bits(x.recent_progress, y.recent_progress) &&
         x.watched == y.watched && x.progress_titles == y.progress_titles &&
         x.progress_ts == y.progress_ts &&
         same_bits(x.progress_values, y.progress_values) &&
         x.feedback_titles == y.feedback_titles &&
         x.feedback_ts == y.feedback_ts &&
         x.feedback_values == y.feedback_values &&
         x.has_max_age == y.has_max_age && x.max_age == y.max_age &&
         x.has_region == y.has_region && x.region == y.region &&
         x.has_play_region == y.has_play_region &&
         x.play_region == y.play_region &&
         x.play_region_ts == y.play_region_ts &&
         x.impression_titles == y.impression_titles &&
         x.impression_counts == y.impression_counts &&
         x.impression_last_ts == y.impression_last_ts &&
         same_bits(x.impression_emas, y.impression_emas) &&
         x.raw_ts == y.raw_ts && x.raw_titles == y.raw_titles &&
         x.newest_ts == y.newest_ts && x.covered_from == y.covered_from;
}

bool operator!=(const user_snapshot_data& x, const user_snapshot_data& y) {
  return !(x == y);
}

bool operator==(const title_snapshot_data& x, const title_snapshot_data& y) {
  return x.last_sequence == y.last_sequence && x.windows == y.windows &&
         x.has_meta == y.has_meta && x.name == y.name && x.genres == y.genres &&
         x.min_age == y.min_age && x.year == y.year && x.regions == y.regions &&
         x.available == y.available && x.impressions == y.impressions &&
         x.thumbs_up == y.thumbs_up && x.thumbs_down == y.thumbs_down &&
         x.last_play_ts == y.last_play_ts &&
         x.last_impression_ts == y.last_impression_ts && x.plays == y.plays &&
         x.trending_regions == y.trending_regions &&
         x.trending_plays == y.trending_plays &&
         same_bits(x.decayed_values, y.decayed_values) &&
         x.decayed_refs == y.decayed_refs;
}

bool operator!=(const title_snapshot_data& x, const title_snapshot_data& y) {
  return !(x == y);
}

std::optional<user_snapshot_data> remap_keys(const user_snapshot_data& s,
                                             const key_map& titles,
                                             const key_map& regions) {
  auto n_feedback = s.feedback_titles.size();
  auto n = s.impression_titles.size();
  if (s.feedback_ts.size() != n_feedback ||
      s.feedback_values.size() != n_feedback ||
      s.impression_counts.size() != n || s.impression_last_ts.size() != n)
    return std::nullopt;
  // The EMA row of each repeated title (count above 1), by title index.
  std::vector<size_t> ema_row(n);
  size_t repeated = 0;
  for (size_t i = 0; i < n; ++i)
    ema_row[i] = s.impression_counts[i] > 1 ? repeated++ : n;
  if (s.impression_emas.size() != repeated * s.windows)
    return std::nullopt;
  auto d = s;
  if (!user_key_fields(
        d, [&](std::vector<title_key>& xs) { return map_keys(xs, titles); },
        [&](bool present, region_key& x) {
          return map_key(present, x, regions);
        }))
    return std::nullopt;
  // Lists by time keep their order; lists by key are sorted again, their
  // parallel fields and EMA rows moving along.
  std::sort(d.watched.begin(), d.watched.end());
  auto by_feedback = ascending_order(d.feedback_titles);
  d.feedback_titles = permuted(d.feedback_titles, by_feedback);
  d.feedback_ts = permuted(d.feedback_ts, by_feedback);
  d.feedback_values = permuted(d.feedback_values, by_feedback);
  auto by_title = ascending_order(d.impression_titles);
  d.impression_titles = permuted(d.impression_titles, by_title);
  d.impression_counts = permuted(d.impression_counts, by_title);
  d.impression_last_ts = permuted(d.impression_last_ts, by_title);
  std::vector<size_t> by_row;
  by_row.reserve(repeated);
  for (auto i : by_title)
    if (ema_row[i] < n)
      by_row.push_back(ema_row[i]);
  d.impression_emas = permuted(d.impression_emas, by_row, d.windows);
  if (!ascending_unique(d.watched) || !ascending_unique(d.feedback_titles) ||
      !ascending_unique(d.impression_titles) || !all_unique(d.progress_titles))
    return std::nullopt;
  return d;
}

std::optional<title_snapshot_data> remap_keys(const title_snapshot_data& s,
                                              const key_map& regions,
                                              const key_map& genres) {
  auto n_regions = s.trending_regions.size();
  size_t rows = s.plays == 0 ? 0 : 1 + n_regions;
  if (s.trending_plays.size() != n_regions ||
      s.decayed_values.size() != rows * s.windows ||
      s.decayed_refs.size() != rows * s.windows)
    return std::nullopt;
  auto d = s;
  if (!title_key_fields(
        d, [&](std::vector<region_key>& xs) { return map_keys(xs, regions); },
        [&](std::vector<genre_key>& xs) { return map_keys(xs, genres); }))
    return std::nullopt;
  std::sort(d.genres.begin(), d.genres.end());
  std::sort(d.regions.begin(), d.regions.end());
  auto by_region = ascending_order(d.trending_regions);
  d.trending_regions = permuted(d.trending_regions, by_region);
  d.trending_plays = permuted(d.trending_plays, by_region);
  if (rows > 0) {
    // Row 0 (all regions) stays first; row i + 1 belongs to region i.
    std::vector<size_t> by_row{0};
    for (auto i : by_region)
      by_row.push_back(i + 1);
    d.decayed_values = permuted(d.decayed_values, by_row, s.windows);
    d.decayed_refs = permuted(d.decayed_refs, by_row, s.windows);
  }
  if ((d.has_meta &&
       (!ascending_unique(d.genres) || !ascending_unique(d.regions))) ||
      !ascending_unique(d.trending_regions))
    return std::nullopt;
  return d;
}

void visit_keys(const user_snapshot_data& s, const key_visitor& titles,
                const key_visitor& regions) {
  user_key_fields(
    s,
    [&](const std::vector<title_key>& xs) {
      for (auto x : xs)
        titles(x);
      return true;
    },
    [&](bool present, region_key x) {
      if (present)
        regions(x);
      return true;
    });
}

void visit_keys(const title_snapshot_data& s, const key_visitor& regions,
                const key_visitor& genres) {
  auto each = [](const key_visitor& f) {
    return [&f](const std::vector<uint32_t>& xs) {
      for (auto x : xs)
        f(x);
      return true;
    };
  };
  title_key_fields(s, each(regions), each(genres));
}

} // namespace marquee
