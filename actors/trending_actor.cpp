#include "actors/trending_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <mutex>
#include <optional>

namespace marquee {

trending_cell::trending_cell(std::shared_ptr<const service_params> p)
  : params_(std::move(p)), board_(&params_->trending) {
  // nop
}

std::optional<int64_t> trending_cell::eval_time(int64_t at, bool given) const {
  // The time scores are taken at: a given `at` must not be before the
  // newest play; a default one moves up to it.
  if (!given)
    return std::max(at, newest_play_);
  if (at < newest_play_)
    return std::nullopt;
  return at;
}

caf::error trending_cell::too_early(int64_t at) const {
  return make_error(errc::bad_request,
                    "'at' (" + std::to_string(at) +
                      ") is earlier than the newest applied play (" +
                      std::to_string(newest_play_) + ")");
}

const title_meta* trending_cell::meta(title_key title) const {
  auto i = catalog_.find(title);
  return i == catalog_.end() ? nullptr : &i->second;
}

caf::expected<trending_result>
trending_cell::trending(const trending_query& q) const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  auto at = eval_time(q.at, q.at_given);
  if (!at)
    return too_early(q.at);
  trending_result res{*at, {}};
  auto list = board_.list(q.window, q.region);
  if (list == nullptr)
    return res;
  std::optional<region_key> region;
  if (q.region != all_regions)
    region = q.region;
  res.items =
    list->top(q.k, *at, params_->trending.rates[q.window], [&](title_key t) {
      return passes_listing_filter(meta(t), region, q.genres);
    });
  return res;
}

caf::expected<trending_result>
trending_cell::candidates(const candidates_query& q) const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  auto at = eval_time(q.at, q.at_given);
  if (!at)
    return too_early(q.at);
  trending_result res{*at, {}};
  auto list = board_.list(q.window, all_regions);
  if (list == nullptr)
    return res;
  res.items =
    list->top(q.k, *at, params_->trending.rates[q.window], [&](title_key t) {
      return judge(t, meta(t), q.view) == filter_verdict::none;
    });
  return res;
}

rank_result trending_cell::rank(rank_query q) const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  // By reference into the catalog, which the shared lock keeps still.
  auto genres_of = [this](title_key t) -> const std::vector<genre_key>& {
    static const std::vector<genre_key> none;
    auto m = meta(t);
    return m != nullptr ? m->genres : none;
  };
  auto profile = make_genre_profile(q.seeds, genres_of);
  const auto& tp = params_->trending;
  auto w = std::min<size_t>(q.params.trending_window, tp.rates.size() - 1);
  auto trend = q.params.trending_weight > 0 && !tp.rates.empty()
                 ? board_.list(w, all_regions)
                 : nullptr;
  auto at = std::max(q.at, newest_play_);
  auto best = trend != nullptr ? trend->best_at(at, tp.rates[w]) : 0.0;
  rank_result res;
  res.items.reserve(q.candidates.size());
  for (auto& c : q.candidates) {
    auto m = meta(c.title);
    if (judge(c.title, m, q.view) != filter_verdict::none)
      continue;
    c.affinity = genre_affinity(profile, m->genres);
    auto f = std::lower_bound(
      q.fatigue.begin(), q.fatigue.end(), c.title,
      [](const auto& entry, title_key t) { return entry.first < t; });
    c.fatigue = f != q.fatigue.end() && f->first == c.title ? f->second : 0.0;
    if (best > 0)
      c.trending = trend->score_of(c.title, at, tp.rates[w]) / best;
    res.items.push_back(c);
  }
  rescore(res.items, q.params);
  diversify(res.items, q.k, q.params.diversity, genres_of);
  return res;
}

std::vector<title_key> trending_cell::filter(const filter_query& q) const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  std::vector<title_key> kept;
  for (auto t : q.titles)
    if (q.listing ? passes_listing_filter(meta(t), std::nullopt, {})
                  : judge(t, meta(t), q.view) == filter_verdict::none)
      kept.push_back(t);
  return kept;
}

void trending_cell::update(const trending_update& up) {
  std::unique_lock<std::shared_mutex> guard{mu_};
  board_.update(up.title, up.region, up.counts);
  ++updates_;
  if (!up.counts.decayed.empty())
    newest_play_ = std::max(newest_play_, up.counts.decayed[0].ref());
}

std::optional<title_meta> trending_cell::meta_of(title_key title) const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  if (auto m = meta(title))
    return *m;
  return std::nullopt;
}

uint64_t trending_cell::update_count() const {
  std::shared_lock<std::shared_mutex> guard{mu_};
  return updates_;
}

void trending_cell::catalog(const catalog_event& ev) {
  std::unique_lock<std::shared_mutex> guard{mu_};
  catalog_[ev.title] = ev.meta;
}

} // namespace marquee
