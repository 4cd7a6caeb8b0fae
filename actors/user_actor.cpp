#include "actors/user_actor.hpp"

#include "actors/apply_batch.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <variant>

namespace marquee {

namespace {

/// Top impression rows in an operator dump.
constexpr size_t dump_impression_rows = 20;

struct user_actor_state {
  user_key user = 0;
  std::shared_ptr<const service_params> params;
  user_state state;
  /// Stream sequence of the last event applied (0: none, or core mode).
  uint64_t applied_through = 0;
  /// Titles recently recommended (not stored: the count is since start).
  recommended_titles recommended;
  std::shared_ptr<variant_stats> stats;
  static inline const char* name = "user";

  void apply(const play_event& ev) {
    if (recommended.size() > 0 && stats != nullptr)
      if (auto v = recommended.take(ev.title, ev.ts,
                                    params->experiments.attribution_ms))
        stats->count_play(*v);
    std::optional<region_key> region;
    if (ev.region != all_regions)
      region = ev.region;
    state.apply_play(ev.title, ev.ts, ev.progress, region, params->user);
  }

  void apply(const impression_event& ev) {
    state.apply_impression(ev.title, ev.ts, params->user);
  }

  void apply(const feedback_event& ev) {
    state.apply_feedback(ev.title, ev.ts, ev.value);
  }
};

using user_pointer = user_actor::stateful_pointer<user_actor_state>;

user_actor::behavior_type user_actor_impl(
  user_pointer self, user_key user, std::shared_ptr<const service_params> p,
  std::optional<stored_user> stored, std::shared_ptr<variant_stats> stats) {
  self->state.user = user;
  self->state.params = std::move(p);
  self->state.stats = std::move(stats);
  if (stored) {
    self->state.state = std::move(stored->state);
    self->state.applied_through = stored->applied_through;
  }
  return {
    [self](const play_event& ev) { self->state.apply(ev); },
    [self](const impression_event& ev) { self->state.apply(ev); },
    [self](const feedback_event& ev) { self->state.apply(ev); },
    [self](const event_batch& batch) {
      apply_batch(batch, self->state.applied_through,
                  [self](const auto& x) { self->state.apply(x); });
    },
    [self](const recommended_list& r) {
      self->state.recommended.remember(
        r.titles, r.at, r.variant, self->state.params->experiments.remembered);
    },
    [self](const profile_event& ev) {
      if (take_sequence(ev.sequence, self->state.applied_through))
        self->state.state.apply_profile(ev.profile);
    },
    [self](view_atom) {
      const auto& st = self->state.state;
      return user_snapshot{st.view(), st.in_progress(), st.recent_plays(), {}};
    },
    [self](view_atom, int64_t at) {
      const auto& st = self->state.state;
      const auto& p = *self->state.params;
      return user_snapshot{st.view(), st.in_progress(), st.recent_plays(),
                           st.fatigue(at, p.rec.ranking.fatigue_window,
                                      p.rec.ranking.fatigue_titles, p.user)};
    },
    [self](const impressions_query& q) -> caf::result<impressions_result> {
      const auto& imp = self->state.state.impressions();
      auto at = q.at_given ? q.at : std::max(q.at, imp.newest_ts());
      auto answer = imp.query(q.titles, q.windows_ms, at,
                              self->state.params->user.impressions);
      if (auto refusal = std::get_if<impression_refusal>(&answer))
        return make_error(errc::bad_request, std::move(refusal->message));
      return impressions_result{
        at, std::get<std::vector<impression_row>>(std::move(answer))};
    },
    [self](snapshot_atom) {
      auto snap = snapshot_of(self->state.state);
      snap.last_sequence = self->state.applied_through;
      return snap;
    },
    [self](dump_atom, int64_t at) {
      const auto& st = self->state.state;
      const auto& imp = st.impressions();
      user_dump d;
      d.recent = st.recent_plays();
      d.watched = st.watched();
      d.in_progress = st.in_progress();
      d.feedback = st.feedback();
      d.profile = st.profile();
      auto top_at = std::max(at, imp.newest_ts());
      d.top_impressions = imp.top(dump_impression_rows, top_at,
                                  self->state.params->user.impressions);
      d.impressed_titles = imp.title_count();
      d.raw_impressions = imp.raw_count();
      d.newest_impression = imp.title_count() > 0 ? imp.newest_ts() : 0;
      d.events = st.events_applied();
      d.applied_through = self->state.applied_through;
      d.at = top_at;
      return d;
    },
  };
}

} // namespace

user_actor spawn_user_actor(caf::actor_system& sys, user_key user,
                            std::shared_ptr<const service_params> p,
                            std::optional<stored_user> stored,
                            std::shared_ptr<variant_stats> stats) {
  return sys.spawn(user_actor_impl, user, std::move(p), std::move(stored),
                   std::move(stats));
}

} // namespace marquee
