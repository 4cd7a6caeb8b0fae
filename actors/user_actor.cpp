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

} // namespace

user_cell::user_cell(user_key user, std::shared_ptr<const service_params> p,
                     std::optional<stored_user> stored,
                     std::shared_ptr<variant_stats> stats)
  : user_(user), params_(std::move(p)), stats_(std::move(stats)) {
  if (stored) {
    state_ = std::move(stored->state);
    applied_through_ = stored->applied_through;
  }
}

user_snapshot user_cell::view(int64_t at) const {
  std::lock_guard<std::mutex> guard{mu_};
  const auto& r = params_->rec.ranking;
  return user_snapshot{
    state_.view(), state_.in_progress(), state_.recent_plays(),
    state_.fatigue(at, r.fatigue_window, r.fatigue_titles, params_->user)};
}

user_snapshot_data user_cell::snapshot() const {
  std::lock_guard<std::mutex> guard{mu_};
  auto snap = snapshot_of(state_);
  snap.last_sequence = applied_through_;
  return snap;
}

void user_cell::remember(const recommended_list& r) {
  std::lock_guard<std::mutex> guard{mu_};
  recommended_.remember(r.titles, r.at, r.variant,
                        params_->experiments.remembered);
}

void user_cell::apply(const play_event& ev) {
  if (recommended_.size() > 0 && stats_ != nullptr)
    if (auto v = recommended_.take(ev.title, ev.ts,
                                   params_->experiments.attribution_ms))
      stats_->count_play(*v);
  std::optional<region_key> region;
  if (ev.region != all_regions)
    region = ev.region;
  state_.apply_play(ev.title, ev.ts, ev.progress, region, params_->user);
}

void user_cell::apply(const impression_event& ev) {
  state_.apply_impression(ev.title, ev.ts, params_->user);
}

void user_cell::apply(const feedback_event& ev) {
  state_.apply_feedback(ev.title, ev.ts, ev.value);
}

namespace {

struct user_actor_state {
  std::shared_ptr<user_cell> cell;
  static inline const char* name = "user";
};

using user_pointer = user_actor::stateful_pointer<user_actor_state>;

user_actor::behavior_type user_actor_impl(user_pointer self,
                                          std::shared_ptr<user_cell> cell) {
  self->state.cell = std::move(cell);
  // Each handler holds the cell's lock while it runs.
  auto with = [self](auto f) {
    auto& c = *self->state.cell;
    std::lock_guard<std::mutex> guard{c.mutex()};
    return f(c);
  };
  return {
    [with](const play_event& ev) { with([&](user_cell& c) { c.apply(ev); }); },
    [with](const impression_event& ev) {
      with([&](user_cell& c) { c.apply(ev); });
    },
    [with](const feedback_event& ev) {
      with([&](user_cell& c) { c.apply(ev); });
    },
    [with](const event_batch& batch) {
      with([&](user_cell& c) {
        apply_batch(batch, c.applied_through(),
                    [&c](const auto& x) { c.apply(x); });
      });
    },
    [self](const recommended_list& r) { self->state.cell->remember(r); },
    [with](const profile_event& ev) {
      with([&](user_cell& c) {
        if (take_sequence(ev.sequence, c.applied_through()))
          c.state().apply_profile(ev.profile);
      });
    },
    [with](const impressions_query& q) -> caf::result<impressions_result> {
      return with([&](user_cell& c) -> caf::result<impressions_result> {
        const auto& imp = c.state().impressions();
        auto at = q.at_given ? q.at : std::max(q.at, imp.newest_ts());
        auto answer =
          imp.query(q.titles, q.windows_ms, at, c.params().user.impressions);
        if (auto refusal = std::get_if<impression_refusal>(&answer))
          return make_error(errc::bad_request, std::move(refusal->message));
        return impressions_result{
          at, std::get<std::vector<impression_row>>(std::move(answer))};
      });
    },
    [with](dump_atom, int64_t at) {
      return with([at](user_cell& c) {
        const auto& st = c.state();
        const auto& imp = st.impressions();
        user_dump d;
        d.recent = st.recent_plays();
        d.watched = st.watched();
        d.in_progress = st.in_progress();
        d.feedback = st.feedback();
        d.profile = st.profile();
        auto top_at = std::max(at, imp.newest_ts());
        d.top_impressions =
          imp.top(dump_impression_rows, top_at, c.params().user.impressions);
        d.impressed_titles = imp.title_count();
        d.raw_impressions = imp.raw_count();
        d.newest_impression = imp.title_count() > 0 ? imp.newest_ts() : 0;
        d.events = st.events_applied();
        d.applied_through = c.applied_through();
        d.at = top_at;
        return d;
      });
    },
  };
}

} // namespace

user_actor spawn_user_actor(caf::actor_system& sys,
                            std::shared_ptr<user_cell> cell) {
  // Lazily: the actor is scheduled when its first message arrives, not
  // also at spawn (one wake-up of a scheduler thread less per activation).
  return sys.spawn<caf::lazy_init>(user_actor_impl, std::move(cell));
}

user_actor spawn_user_actor(caf::actor_system& sys, user_key user,
                            std::shared_ptr<const service_params> p,
                            std::optional<stored_user> stored,
                            std::shared_ptr<variant_stats> stats) {
  return spawn_user_actor(sys, std::make_shared<user_cell>(user, std::move(p),
                                                           std::move(stored),
                                                           std::move(stats)));
}

} // namespace marquee
