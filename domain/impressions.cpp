#include "domain/impressions.hpp"

#include "domain/vectors.hpp"
#include "domain/window.hpp"

#include <algorithm>

namespace marquee {

impression_params impression_params::make(double alpha,
                                          std::vector<int64_t> windows_ms,
                                          int64_t raw_retention_ms,
                                          uint32_t raw_max) {
  std::sort(windows_ms.begin(), windows_ms.end());
  windows_ms.erase(std::unique(windows_ms.begin(), windows_ms.end()),
                   windows_ms.end());
  impression_params p;
  p.alpha = alpha;
  p.windows_ms = std::move(windows_ms);
  for (auto w : p.windows_ms)
    p.rates.push_back(decay_rate::of(alpha, w));
  p.raw_retention_ms = raw_retention_ms;
  p.raw_max = raw_max;
  return p;
}

int impression_params::configured_index(int64_t window_ms) const {
  auto i = std::find(windows_ms.begin(), windows_ms.end(), window_ms);
  return i == windows_ms.end() ? -1 : static_cast<int>(i - windows_ms.begin());
}

void impression_history::add(title_key title, int64_t ts,
                             const impression_params& p) {
  auto n = p.windows_ms.size();
  auto i =
    std::lower_bound(entries_.begin(), entries_.end(), title,
                     [](const entry& e, title_key t) { return e.title < t; });
  if (i == entries_.end() || i->title != title) {
    auto at = i - entries_.begin();
    reserve_more(entries_, 1);
    entries_.insert(entries_.begin() + at, entry{title, 1, ts});
  } else {
    auto old_ref = i->last_ts;
    auto new_ref = std::max(old_ref, ts);
    auto r = std::lower_bound(repeated_.begin(), repeated_.end(), title);
    auto index = static_cast<size_t>(r - repeated_.begin());
    if (i->count == 1) {
      // Shown a second time: its EMAs, 1 at `old_ref` until now, are kept
      // from here on.
      reserve_more(repeated_, 1);
      reserve_more(emas_, n);
      repeated_.insert(repeated_.begin() + static_cast<ptrdiff_t>(index),
                       title);
      emas_.insert(emas_.begin() + static_cast<ptrdiff_t>(index * n), n, 1.0);
    }
    for (size_t w = 0; w < n; ++w) {
      auto& v = emas_[index * n + w];
      v = decayed_add(v, old_ref, new_ref, ts, p.rates[w]);
    }
    i->count += 1;
    i->last_ts = new_ref;
  }
  newest_ = std::max(newest_, ts);
  retain_raw(title, ts, p);
}

size_t impression_history::repeated_index(title_key title) const {
  auto r = std::lower_bound(repeated_.begin(), repeated_.end(), title);
  return r != repeated_.end() && *r == title
           ? static_cast<size_t>(r - repeated_.begin())
           : repeated_.size();
}

void impression_history::retain_raw(title_key title, int64_t ts,
                                    const impression_params& p) {
  // Invariant: raw_ts_ holds every impression with ts >= covered_from_. With
  // raw_max 0 the impression is inserted and dropped below, which moves
  // covered_from_ past it.
  if (ts < covered_from_)
    return;
  reserve_more(raw_ts_, 1);
  reserve_more(raw_titles_, 1);
  auto pos =
    std::upper_bound(raw_ts_.begin(), raw_ts_.end(), ts) - raw_ts_.begin();
  raw_ts_.insert(raw_ts_.begin() + pos, ts);
  raw_titles_.insert(raw_titles_.begin() + pos, title);
  // Drop the oldest: those behind the retention, then any over the count.
  auto cutoff = newest_ - p.raw_retention_ms;
  auto keep = static_cast<size_t>(
    std::lower_bound(raw_ts_.begin(), raw_ts_.end(), cutoff) - raw_ts_.begin());
  if (raw_ts_.size() - keep > p.raw_max)
    keep = raw_ts_.size() - p.raw_max;
  if (keep > 0) {
    covered_from_ = std::max(covered_from_, raw_ts_[keep - 1] + 1);
    auto k = static_cast<ptrdiff_t>(keep);
    raw_ts_.erase(raw_ts_.begin(), raw_ts_.begin() + k);
    raw_titles_.erase(raw_titles_.begin(), raw_titles_.begin() + k);
  }
}

double impression_history::raw_ema(title_key title, int64_t window_ms,
                                   int64_t at, double alpha) const {
  auto rate = decay_rate::of(alpha, window_ms);
  auto from = at - 10 * window_ms;
  auto i = static_cast<size_t>(
    std::lower_bound(raw_ts_.begin(), raw_ts_.end(), from) - raw_ts_.begin());
  double sum = 0;
  for (; i < raw_ts_.size() && raw_ts_[i] <= at; ++i)
    if (raw_titles_[i] == title)
      sum += rate.factor(at - raw_ts_[i]);
  return sum;
}

impression_row
impression_history::row_of(size_t index, const std::vector<int64_t>& windows_ms,
                           int64_t at, const impression_params& p) const {
  const auto& e = entries_[index];
  impression_row row{e.title, e.count, e.last_ts, {}};
  row.ema.reserve(windows_ms.size());
  auto n = p.windows_ms.size();
  auto r = e.count > 1 ? repeated_index(e.title) : repeated_.size();
  for (auto w : windows_ms) {
    auto ci = p.configured_index(w);
    if (ci >= 0) {
      auto v =
        r < repeated_.size() ? emas_[r * n + static_cast<size_t>(ci)] : 1.0;
      row.ema.push_back(
        v * p.rates[static_cast<size_t>(ci)].factor(at - e.last_ts));
    } else {
      row.ema.push_back(raw_ema(e.title, w, at, p.alpha));
    }
  }
  return row;
}

std::variant<std::vector<impression_row>, impression_refusal>
impression_history::query(const std::vector<title_key>& titles,
                          const std::vector<int64_t>& windows_ms, int64_t at,
                          const impression_params& p) const {
  if (!entries_.empty() && at < newest_)
    return impression_refusal{
      "'at' (" + std::to_string(at) +
      ") is earlier than the newest applied impression of this user (" +
      std::to_string(newest_) + ")"};
  std::vector<int64_t> missing;
  for (auto w : windows_ms)
    if (p.configured_index(w) < 0 &&
        (covered_from_ != std::numeric_limits<int64_t>::min() &&
         at - 10 * w < covered_from_))
      missing.push_back(w);
  if (!missing.empty()) {
    std::string msg = "window";
    msg += missing.size() > 1 ? "s " : " ";
    for (size_t i = 0; i < missing.size(); ++i)
      msg += (i > 0 ? ", " : "") + format_window(missing[i]);
    msg += " not available: neither configured nor covered by this user's "
           "retained impressions over ten windows; available: ";
    for (auto w : p.windows_ms)
      msg += format_window(w) + ", ";
    auto longest = (at - covered_from_) / 10;
    if (longest >= ms_per_minute)
      msg += "and any other window up to " + format_window(longest);
    else
      msg += "and no other window";
    return impression_refusal{std::move(msg)};
  }
  std::vector<impression_row> rows;
  if (titles.empty()) {
    rows.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i)
      rows.push_back(row_of(i, windows_ms, at, p));
    std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
      return x.last_ts != y.last_ts ? x.last_ts > y.last_ts : x.title < y.title;
    });
    return rows;
  }
  rows.reserve(titles.size());
  for (auto t : titles) {
    auto i =
      std::lower_bound(entries_.begin(), entries_.end(), t,
                       [](const entry& e, title_key k) { return e.title < k; });
    if (t != no_title && i != entries_.end() && i->title == t)
      rows.push_back(
        row_of(static_cast<size_t>(i - entries_.begin()), windows_ms, at, p));
    else
      rows.push_back(
        impression_row{t, 0, 0, std::vector<double>(windows_ms.size(), 0.0)});
  }
  return rows;
}

std::vector<impression_row>
impression_history::top(size_t limit, int64_t at,
                        const impression_params& p) const {
  std::vector<impression_row> rows;
  rows.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i)
    rows.push_back(row_of(i, p.windows_ms, at, p));
  auto by_first_ema = [](const auto& x, const auto& y) {
    auto vx = x.ema.empty() ? 0.0 : x.ema.front();
    auto vy = y.ema.empty() ? 0.0 : y.ema.front();
    return vx != vy ? vx > vy : x.title < y.title;
  };
  if (rows.size() > limit) {
    std::partial_sort(rows.begin(),
                      rows.begin() + static_cast<ptrdiff_t>(limit), rows.end(),
                      by_first_ema);
    rows.resize(limit);
  } else {
    std::sort(rows.begin(), rows.end(), by_first_ema);
  }
  return rows;
}

} // namespace marquee
