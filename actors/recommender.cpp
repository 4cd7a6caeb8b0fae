#include "actors/recommender.hpp"

#include <algorithm>

namespace marquee {

namespace {

rec_item trending_item(const trending_entry& e, bool explain) {
  rec_item item{e.title, e.score, rec_reason::trending, no_title, {}};
  if (explain)
    item.features = {{"trending", e.score},
                     {"plays", static_cast<double>(e.plays)}};
  return item;
}

rec_item popular_item(const trending_entry& e, bool explain) {
  rec_item item{e.title, e.score, rec_reason::popular, no_title, {}};
  if (explain)
    item.features = {{"popular", e.score},
                     {"plays", static_cast<double>(e.plays)}};
  return item;
}

rec_item similar_item(const scored_title& c, bool explain) {
  rec_item item{
    c.title, c.score, rec_reason::because_you_watched, c.source, {}};
  if (explain)
    item.features = {{"similarity", c.similarity},
                     {"genre_affinity", c.affinity},
                     {"impression_fatigue", c.fatigue},
                     {"trending", c.trending},
                     {"recency", c.recency},
                     {"from_source", c.source_part}};
  return item;
}

/// The newest fully watched title among recent plays, or `no_title`.
title_key latest_watched(const std::vector<play_record>& recent) {
  for (const auto& r : recent)
    if (r.progress >= watched_progress)
      return r.title;
  return no_title;
}

/// Appends to `res` up to `k` titles of `trending` and `popular` in turn,
/// each title once (and none already listed).
void blend(rec_result& res, const std::vector<trending_entry>& trending,
           const std::vector<trending_entry>& popular, uint32_t k,
           bool explain) {
  std::vector<title_key> listed;
  for (const auto& item : res.items)
    listed.push_back(item.title);
  auto wanted = res.items.size() + k;
  auto add = [&](const trending_entry& e, bool is_popular) {
    if (res.items.size() >= wanted ||
        std::find(listed.begin(), listed.end(), e.title) != listed.end())
      return;
    listed.push_back(e.title);
    res.items.push_back(is_popular ? popular_item(e, explain)
                                   : trending_item(e, explain));
  };
  for (size_t i = 0; i < trending.size() || i < popular.size(); ++i) {
    if (i < trending.size())
      add(trending[i], false);
    if (i < popular.size())
      add(popular[i], true);
  }
}

/// One recommendation being assembled.
class assembly {
public:
  assembly(const rec_sources& src, rec_query q) : src_(src), q_(std::move(q)) {
    // nop
  }

  caf::expected<rec_result> run() {
    const auto& variants = src_.params->experiments.variants;
    if (q_.variant >= variants.size())
      return make_error(errc::bad_request,
                        "unknown variant " + std::to_string(q_.variant) +
                          "; variants: " + src_.params->experiments.names());
    res_.row = q_.row;
    res_.variant = variants[q_.variant].name;
    res_.at = q_.at;
    auto user = src_.dir->find_user_cell(q_.user);
    if (!user) {
      // Never seen: the cold-start blend, trending for everyone.
      res_.fallback = true;
      user_view view;
      view.exclude = q_.exclude;
      view.genres = q_.genres;
      if (q_.row == rec_row::continue_watching)
        return finish();
      if (q_.row == rec_row::trending)
        return trending(std::move(view), q_.k);
      return blend_rows(std::move(view), q_.k);
    }
    cell_ = user->cell;
    auto snap = cell_->view(q_.at);
    snap.view.exclude = q_.exclude;
    snap.view.genres = q_.genres;
    switch (q_.row) {
    case rec_row::continue_watching:
      return continue_watching(std::move(snap));
    case rec_row::because_you_watched: {
      res_.source = latest_watched(snap.recent);
      std::vector<seed> seeds;
      if (res_.source != no_title)
        seeds.push_back({res_.source, 1.0, 1.0, 1.0});
      return similar(std::move(snap), std::move(seeds));
    }
    case rec_row::home: {
      auto seeds = pick_seeds(snap.recent, snap.view.thumbed_down,
                              snap.view.thumbed_up, ranking());
      return similar(std::move(snap), std::move(seeds));
    }
    case rec_row::trending:
      break;
    }
    return trending(std::move(snap.view), q_.k);
  }

private:
  /// The ranking parameters of the query's variant.
  const ranking_params& ranking() const {
    const auto& vs = src_.params->experiments.variants;
    return q_.variant < vs.size() ? vs[q_.variant].ranking
                                  : src_.params->rec.ranking;
  }

  /// Counts the answer for its variant and tells the user's cell (if it
  /// has one) which titles it was recommended: the first `remembered`
  /// (what it can remember, so that the rate's numerator and denominator
  /// count the same titles), asked at `at`.
  caf::expected<rec_result> finish() {
    size_t listed = 0;
    if (cell_ && res_.row != rec_row::continue_watching &&
        !res_.items.empty()) {
      recommended_list shown{{}, q_.at, q_.variant};
      auto n = std::min<size_t>(res_.items.size(),
                                src_.params->experiments.remembered);
      shown.titles.reserve(n);
      for (size_t i = 0; i < n; ++i)
        shown.titles.push_back(res_.items[i].title);
      listed = shown.titles.size();
      cell_->remember(shown);
    }
    if (auto& stats = src_.dir->experiment_stats())
      stats->count_request(q_.variant, listed);
    return std::move(res_);
  }

  caf::expected<trending_result> candidates(user_view view, uint32_t k,
                                            uint32_t window) const {
    return src_.trending->candidates(
      candidates_query{std::move(view), k, window, q_.at, q_.at_given});
  }

  /// Fills the reply with `k` trending titles that pass the filters of
  /// `view`.
  caf::expected<rec_result> trending(user_view view, uint32_t k) {
    auto found =
      candidates(std::move(view), k, src_.params->rec.trending_window);
    if (!found)
      return std::move(found.error());
    res_.at = found->at;
    for (const auto& e : found->items)
      res_.items.push_back(trending_item(e, q_.explain));
    return finish();
  }

  /// Fills the reply with `k` titles of the fallback blend: trending
  /// titles (the trending row's window) and popular ones (the longest
  /// trending window) in turn, each once, all passing the filters of
  /// `view`. When the trending row's window is the longest, it is the
  /// trending row. One list that fails leaves the other.
  caf::expected<rec_result> blend_rows(user_view view, uint32_t k) {
    const auto& windows = src_.params->trending.windows_ms;
    auto trending_window = src_.params->rec.trending_window;
    auto popular_window = static_cast<uint32_t>(windows.size()) - 1;
    if (windows.empty() || popular_window == trending_window)
      return trending(std::move(view), k);
    auto trend = candidates(view, k, trending_window);
    auto popular = candidates(std::move(view), k, popular_window);
    if (!trend && !popular)
      return std::move(trend.error());
    static const std::vector<trending_entry> none;
    res_.at = trend ? trend->at : popular->at;
    blend(res_, trend ? trend->items : none, popular ? popular->items : none, k,
          q_.explain);
    return finish();
  }

  /// The neighbours of `seeds` from the shards that own them, parallel to
  /// `seeds`.
  std::vector<std::vector<neighbour>>
  neighbours(const std::vector<seed>& seeds) const {
    std::vector<std::vector<neighbour>> lists(seeds.size());
    if (!src_.neighbours)
      return lists;
    for (size_t i = 0; i < seeds.size(); ++i)
      lists[i] =
        src_.neighbours(seeds[i].title, src_.params->similarity.neighbours);
    return lists;
  }

  /// The personalised rows: similar titles first, then trending to fill.
  caf::expected<rec_result> similar(user_snapshot snap,
                                    std::vector<seed> seeds) {
    auto lists = neighbours(seeds);
    // More than k: the catalog filters may drop some.
    auto limit = static_cast<size_t>(q_.k) * 2 + 20;
    auto ranked = score_candidates(seeds, lists, snap.view, limit);
    if (ranked.empty()) {
      res_.fallback = true;
      return blend_rows(std::move(snap.view), q_.k);
    }
    auto kept =
      src_.trending->rank(rank_query{snap.view, std::move(ranked), seeds,
                                     snap.fatigue, ranking(), q_.k, q_.at});
    for (const auto& c : kept.items) {
      if (res_.items.size() >= q_.k)
        break;
      res_.items.push_back(similar_item(c, q_.explain));
    }
    if (res_.items.empty()) {
      res_.fallback = true;
      return blend_rows(std::move(snap.view), q_.k);
    }
    if (res_.items.size() >= q_.k)
      return finish();
    // Fill up with trending titles not listed yet.
    auto view = std::move(snap.view);
    for (const auto& item : res_.items)
      view.exclude.push_back(item.title);
    std::sort(view.exclude.begin(), view.exclude.end());
    return blend_rows(std::move(view),
                      q_.k - static_cast<uint32_t>(res_.items.size()));
  }

  caf::expected<rec_result> continue_watching(user_snapshot snap) {
    filter_query fq{std::move(snap.view), {}};
    for (const auto& r : snap.in_progress)
      fq.titles.push_back(r.title);
    auto kept = src_.trending->filter(fq);
    for (const auto& r : snap.in_progress) {
      if (res_.items.size() >= q_.k)
        break;
      if (std::find(kept.begin(), kept.end(), r.title) == kept.end())
        continue;
      rec_item item{
        r.title, r.progress, rec_reason::continue_watching, no_title, {}};
      if (q_.explain)
        item.features = {{"progress", r.progress},
                         {"last_played", static_cast<double>(r.ts)}};
      res_.items.push_back(std::move(item));
    }
    return finish();
  }

  const rec_sources& src_;
  rec_query q_;
  rec_result res_;
  std::shared_ptr<user_cell> cell_;
};

} // namespace

caf::expected<rec_result> recommend(const rec_sources& src, rec_query q) {
  return assembly{src, std::move(q)}.run();
}

std::vector<neighbour> similar_titles(const rec_sources& src, title_key title,
                                      uint32_t k) {
  if (!src.neighbours)
    return {};
  // More than k: unavailable titles drop out below.
  auto all = src.neighbours(title, k * 2 + 10);
  filter_query fq;
  fq.listing = true;
  for (const auto& n : all)
    fq.titles.push_back(n.title);
  // The kept titles, in the order of `all`.
  auto kept = src.trending->filter(fq);
  std::vector<neighbour> items;
  size_t next = 0;
  for (const auto& n : all) {
    if (items.size() >= k || next >= kept.size())
      break;
    if (kept[next] == n.title) {
      items.push_back(n);
      ++next;
    }
  }
  return items;
}

} // namespace marquee
