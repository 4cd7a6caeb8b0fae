#include "actors/title_actor.hpp"

#include "actors/apply_batch.hpp"

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <variant>
#include <vector>

namespace marquee {

namespace {

struct title_actor_state {
  title_key title = 0;
  std::shared_ptr<const service_params> params;
  std::shared_ptr<trending_cell> trending;
  title_state state;
  /// Stream sequence of the last event applied (0: none, or core mode).
  uint64_t applied_through = 0;
  /// Regions whose counts changed since the last trending update.
  std::vector<region_key> touched;
  bool played = false;
  static inline const char* name = "title";

  void apply(const play_event& ev) {
    state.apply_play(ev.ts, ev.region, params->trending);
    played = true;
    if (ev.region != all_regions &&
        std::find(touched.begin(), touched.end(), ev.region) == touched.end())
      touched.push_back(ev.region);
  }

  void apply(const impression_event& ev) { state.apply_impression(ev.ts); }

  void apply(const feedback_event& ev) { state.apply_feedback(ev.value); }
};

using title_pointer = title_actor::stateful_pointer<title_actor_state>;

/// Writes the latest counts of every list that changed into the trending
/// cell, before the message that carried the plays (and its ingest round's
/// mark) is done with: applied means in the trending lists too.
void tell_trending(title_pointer self) {
  auto& st = self->state;
  if (!st.played)
    return;
  const auto& tr = st.state.trending();
  st.trending->update(trending_update{st.title, all_regions, tr.global()});
  for (auto region : st.touched)
    if (auto counts = tr.find(region))
      st.trending->update(trending_update{st.title, region, *counts});
  st.touched.clear();
  st.played = false;
}

region_scores scores_of(region_key region, const play_counts& counts,
                        int64_t at, const trending_params& p) {
  region_scores rs{region, counts.plays, {}};
  for (size_t w = 0; w < counts.decayed.size(); ++w)
    rs.scores.push_back(counts.decayed[w].value_at(at, p.rates[w]));
  return rs;
}

title_actor::behavior_type title_actor_impl(
  title_pointer self, title_key title, std::shared_ptr<const service_params> p,
  std::shared_ptr<trending_cell> trending, std::optional<stored_title> stored) {
  self->state.title = title;
  self->state.params = std::move(p);
  self->state.trending = std::move(trending);
  if (stored) {
    self->state.state = std::move(stored->state);
    self->state.applied_through = stored->applied_through;
    // The trending cell takes the restored counts as from a play.
    self->state.played = self->state.state.plays() > 0;
    for (const auto& entry : self->state.state.trending().regions())
      self->state.touched.push_back(entry.first);
    // The catalog entry came with `stored` (the directory's catalog).
    tell_trending(self);
  }
  return {
    [self](const play_event& ev) {
      self->state.apply(ev);
      tell_trending(self);
    },
    [self](const impression_event& ev) { self->state.apply(ev); },
    [self](const feedback_event& ev) { self->state.apply(ev); },
    [self](const event_batch& batch) {
      apply_batch(batch, self->state.applied_through,
                  [self](const auto& x) { self->state.apply(x); });
      tell_trending(self);
    },
    [self](const catalog_event& ev) {
      if (!take_sequence(ev.sequence, self->state.applied_through))
        return;
      self->state.state.apply_catalog(ev.meta);
    },
    [self](snapshot_atom) {
      auto snap = snapshot_of(self->state.state);
      snap.last_sequence = self->state.applied_through;
      return snap;
    },
    [self](dump_atom, int64_t at) {
      const auto& st = self->state.state;
      const auto& tp = self->state.params->trending;
      title_dump d;
      if (auto meta = st.meta()) {
        d.has_meta = true;
        d.meta = *meta;
      }
      d.plays = st.plays();
      d.impressions = st.impressions();
      d.last_play_ts = st.last_play_ts();
      d.last_impression_ts = st.last_impression_ts();
      d.thumbs_up = st.thumbs_up();
      d.thumbs_down = st.thumbs_down();
      d.applied_through = self->state.applied_through;
      auto score_at = std::max(at, st.last_play_ts());
      d.trending.push_back(
        scores_of(all_regions, st.trending().global(), score_at, tp));
      for (const auto& [region, counts] : st.trending().regions())
        d.trending.push_back(scores_of(region, counts, score_at, tp));
      d.at = score_at;
      return d;
    },
  };
}

} // namespace

void announce_title(trending_cell& trending, title_key title,
                    const title_state& state) {
  if (auto meta = state.meta())
    trending.catalog(catalog_event{title, *meta});
  if (state.plays() == 0)
    return;
  const auto& tr = state.trending();
  trending.update(trending_update{title, all_regions, tr.global()});
  for (const auto& [region, counts] : tr.regions())
    trending.update(trending_update{title, region, counts});
}

title_actor spawn_title_actor(caf::actor_system& sys, title_key title,
                              std::shared_ptr<const service_params> p,
                              std::shared_ptr<trending_cell> trending,
                              std::optional<stored_title> stored) {
  // Lazily, as users (actors/user_actor.cpp).
  return sys.spawn<caf::lazy_init>(title_actor_impl, title, std::move(p),
                                   std::move(trending), std::move(stored));
}

} // namespace marquee
