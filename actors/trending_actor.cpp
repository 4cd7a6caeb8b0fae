#include "actors/trending_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>

namespace marquee {

namespace {

struct trending_actor_state {
  std::shared_ptr<const service_params> params;
  std::unique_ptr<trending_board> board;
  std::unordered_map<title_key, title_meta> catalog;
  /// The newest play any update carried.
  int64_t newest_play = std::numeric_limits<int64_t>::min();
  static inline const char* name = "trending";

  /// The time scores are taken at: a given `at` must not be before the
  /// newest play; a default one moves up to it.
  std::optional<int64_t> eval_time(int64_t at, bool given) const {
    if (!given)
      return std::max(at, newest_play);
    if (at < newest_play)
      return std::nullopt;
    return at;
  }

  caf::error too_early(int64_t at) const {
    return make_error(errc::bad_request,
                      "'at' (" + std::to_string(at) +
                        ") is earlier than the newest applied play (" +
                        std::to_string(newest_play) + ")");
  }

  const title_meta* meta(title_key title) const {
    auto i = catalog.find(title);
    return i == catalog.end() ? nullptr : &i->second;
  }
};

using trending_pointer = trending_actor::stateful_pointer<trending_actor_state>;

trending_actor::behavior_type
trending_actor_impl(trending_pointer self,
                    std::shared_ptr<const service_params> p) {
  self->state.params = std::move(p);
  self->state.board =
    std::make_unique<trending_board>(&self->state.params->trending);
  return {
    [self](const trending_update& up) {
      auto& st = self->state;
      st.board->update(up.title, up.region, up.counts);
      if (!up.counts.decayed.empty())
        st.newest_play = std::max(st.newest_play, up.counts.decayed[0].ref());
    },
    [self](const catalog_event& ev) {
      self->state.catalog[ev.title] = ev.meta;
    },
    [self](const trending_query& q) -> caf::result<trending_result> {
      const auto& st = self->state;
      auto at = st.eval_time(q.at, q.at_given);
      if (!at)
        return st.too_early(q.at);
      trending_result res{*at, {}};
      auto list = st.board->list(q.window, q.region);
      if (list == nullptr)
        return res;
      std::optional<region_key> region;
      if (q.region != all_regions)
        region = q.region;
      res.items = list->top(
        q.k, *at, st.params->trending.rates[q.window], [&](title_key t) {
          return passes_listing_filter(st.meta(t), region, q.genres);
        });
      return res;
    },
    [self](const candidates_query& q) -> caf::result<trending_result> {
      const auto& st = self->state;
      auto at = st.eval_time(q.at, q.at_given);
      if (!at)
        return st.too_early(q.at);
      trending_result res{*at, {}};
      auto list = st.board->list(q.window, all_regions);
      if (list == nullptr)
        return res;
      res.items = list->top(
        q.k, *at, st.params->trending.rates[q.window], [&](title_key t) {
          return judge(t, st.meta(t), q.view) == filter_verdict::none;
        });
      return res;
    },
    [self](rank_query& q) {
      const auto& st = self->state;
      auto genres_of = [&st](title_key t) {
        auto meta = st.meta(t);
        return meta != nullptr ? meta->genres : std::vector<genre_key>{};
      };
      auto profile = make_genre_profile(q.seeds, genres_of);
      const auto& tp = st.params->trending;
      auto w = std::min<size_t>(q.params.trending_window, tp.rates.size() - 1);
      auto trend = q.params.trending_weight > 0 && !tp.rates.empty()
                     ? st.board->list(w, all_regions)
                     : nullptr;
      auto at = std::max(q.at, st.newest_play);
      auto best = trend != nullptr ? trend->best_at(at, tp.rates[w]) : 0.0;
      rank_result res;
      for (auto& c : q.candidates) {
        auto meta = st.meta(c.title);
        if (judge(c.title, meta, q.view) != filter_verdict::none)
          continue;
        c.affinity = genre_affinity(profile, meta->genres);
        auto f = std::lower_bound(
          q.fatigue.begin(), q.fatigue.end(), c.title,
          [](const auto& entry, title_key t) { return entry.first < t; });
        c.fatigue =
          f != q.fatigue.end() && f->first == c.title ? f->second : 0.0;
        if (best > 0)
          c.trending = trend->score_of(c.title, at, tp.rates[w]) / best;
        res.items.push_back(c);
      }
      rescore(res.items, q.params);
      diversify(res.items, q.k, q.params.diversity, genres_of);
      return res;
    },
    [self](const filter_query& q) {
      const auto& st = self->state;
      std::vector<title_key> kept;
      for (auto t : q.titles)
        if (q.listing ? passes_listing_filter(st.meta(t), std::nullopt, {})
                      : judge(t, st.meta(t), q.view) == filter_verdict::none)
          kept.push_back(t);
      return kept;
    },
  };
}

} // namespace

trending_actor spawn_trending_actor(caf::actor_system& sys,
                                    std::shared_ptr<const service_params> p) {
  return sys.spawn(trending_actor_impl, std::move(p));
}

} // namespace marquee
