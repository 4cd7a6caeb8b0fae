#include "domain/user_state.hpp"

#include "domain/vectors.hpp"

#include <algorithm>

namespace marquee {

namespace {

/// Inserts `rec` into `xs`, kept newest first and at most `max` long.
void insert_newest_first(std::vector<play_record>& xs, play_record rec,
                         uint32_t max) {
  auto pos = std::find_if(xs.begin(), xs.end(),
                          [&](const play_record& x) { return x.ts < rec.ts; });
  auto at = static_cast<size_t>(pos - xs.begin());
  if (at >= max)
    return;
  reserve_more(xs, 1); // a quarter more at a time, not double
  xs.insert(xs.begin() + static_cast<ptrdiff_t>(at), rec);
  if (xs.size() > max)
    xs.pop_back();
}

} // namespace

void user_state::apply_play(title_key title, int64_t ts, double progress,
                            std::optional<region_key> region,
                            const user_params& p) {
  ++events_;
  insert_newest_first(recent_, play_record{title, ts, progress}, p.recent_max);
  if (region && (!play_region_ || ts >= play_region_ts_)) {
    play_region_ = region;
    play_region_ts_ = ts;
  }
  auto in_prog = std::find_if(in_progress_.begin(), in_progress_.end(),
                              [&](const auto& x) { return x.title == title; });
  auto watched_pos = std::lower_bound(watched_.begin(), watched_.end(), title);
  bool is_watched = watched_pos != watched_.end() && *watched_pos == title;
  if (progress >= watched_progress) {
    if (!is_watched)
      watched_.insert(watched_pos, title);
    if (in_prog != in_progress_.end())
      in_progress_.erase(in_prog);
    return;
  }
  // A partial play of a watched title does not put it back in progress; an
  // older partial play does not override a newer one.
  if (is_watched)
    return;
  if (in_prog != in_progress_.end()) {
    if (in_prog->ts > ts)
      return;
    in_progress_.erase(in_prog);
  }
  insert_newest_first(in_progress_, play_record{title, ts, progress},
                      p.in_progress_max);
}

void user_state::apply_impression(title_key title, int64_t ts,
                                  const user_params& p) {
  ++events_;
  impressions_.add(title, ts, p.impressions);
}

void user_state::apply_feedback(title_key title, int64_t ts, int8_t value) {
  ++events_;
  auto i = std::lower_bound(
    feedback_.begin(), feedback_.end(), title,
    [](const feedback_record& f, title_key t) { return f.title < t; });
  if (i != feedback_.end() && i->title == title) {
    if (ts >= i->ts) {
      i->ts = ts;
      i->value = value;
    }
    return;
  }
  feedback_.insert(i, feedback_record{title, ts, value});
}

void user_state::apply_profile(const user_profile& profile) {
  ++events_;
  profile_ = profile;
}

std::vector<std::pair<title_key, double>>
user_state::fatigue(int64_t at, size_t window, size_t limit,
                    const user_params& p) const {
  std::vector<std::pair<title_key, double>> out;
  if (window >= p.impressions.windows_ms.size())
    return out;
  auto played = [this](title_key t) {
    auto is = [t](const play_record& r) { return r.title == t; };
    return std::binary_search(watched_.begin(), watched_.end(), t) ||
           std::any_of(recent_.begin(), recent_.end(), is) ||
           std::any_of(in_progress_.begin(), in_progress_.end(), is);
  };
  for (const auto& row : impressions_.top(
         limit, std::max(at, impressions_.newest_ts()), p.impressions))
    if (window < row.ema.size() && !played(row.title))
      out.emplace_back(row.title, row.ema[window]);
  std::sort(out.begin(), out.end());
  return out;
}

user_view user_state::view() const {
  user_view v;
  v.max_age = profile_.max_age;
  v.region = profile_.region ? profile_.region : play_region_;
  v.watched = watched_;
  for (const auto& f : feedback_)
    if (f.value < 0)
      v.thumbed_down.push_back(f.title);
    else if (f.value > 0)
      v.thumbed_up.push_back(f.title);
  return v;
}

} // namespace marquee
