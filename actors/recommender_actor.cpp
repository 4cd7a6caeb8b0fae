#include "actors/recommender_actor.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace marquee {

namespace {

using clock_type = std::chrono::steady_clock;

/// Time left until `deadline`, at least one millisecond.
std::chrono::milliseconds left(clock_type::time_point deadline) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  return std::max(d, std::chrono::milliseconds{1});
}

rec_item trending_item(const trending_entry& e, bool explain) {
  rec_item item{e.title, e.score, rec_reason::trending, no_title, {}};
  if (explain)
    item.features = {{"trending", e.score},
                     {"plays", static_cast<double>(e.plays)}};
  return item;
}

/// The newest fully watched title among recent plays, or `no_title`.
title_key latest_watched(const std::vector<play_record>& recent) {
  for (const auto& r : recent)
    if (r.progress >= watched_progress)
      return r.title;
  return no_title;
}

struct context {
  std::shared_ptr<const service_params> params;
  std::shared_ptr<directory> dir;
  trending_actor trending;
};

using response = caf::typed_response_promise<rec_result>;

/// Fills the reply with trending titles that pass the filters of `view`.
void answer_trending(recommender_actor::pointer self, const context& ctx,
                     response rp, rec_query q, user_view view, rec_result res,
                     clock_type::time_point deadline) {
  candidates_query cq{std::move(view), q.k, ctx.params->rec.trending_window,
                      q.at, q.at_given};
  self->request(ctx.trending, left(deadline), std::move(cq))
    .then(
      [=](const trending_result& found) mutable {
        res.at = found.at;
        for (const auto& e : found.items)
          res.items.push_back(trending_item(e, q.explain));
        rp.deliver(std::move(res));
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

void answer_continue_watching(recommender_actor::pointer self,
                              const context& ctx, response rp, rec_query q,
                              user_snapshot snap, rec_result res,
                              clock_type::time_point deadline) {
  filter_query fq{std::move(snap.view), {}};
  for (const auto& r : snap.in_progress)
    fq.titles.push_back(r.title);
  auto in_progress = std::move(snap.in_progress);
  self->request(ctx.trending, left(deadline), std::move(fq))
    .then(
      [=](const std::vector<title_key>& kept) mutable {
        for (const auto& r : in_progress) {
          if (res.items.size() >= q.k)
            break;
          if (std::find(kept.begin(), kept.end(), r.title) == kept.end())
            continue;
          rec_item item{
            r.title, r.progress, rec_reason::continue_watching, no_title, {}};
          if (q.explain)
            item.features = {{"progress", r.progress},
                             {"last_played", static_cast<double>(r.ts)}};
          res.items.push_back(std::move(item));
        }
        rp.deliver(std::move(res));
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

recommender_actor::behavior_type
recommender_actor_impl(recommender_actor::pointer self, context ctx) {
  return {
    [self, ctx](rec_query& q) -> caf::result<rec_result> {
      if (!q.variant.empty() && q.variant != default_variant)
        return make_error(errc::bad_request,
                          "unknown variant '" + q.variant +
                            "'; variants: " + default_variant);
      auto deadline = clock_type::now() +
                      std::chrono::milliseconds{ctx.params->rec.budget_ms};
      rec_result res;
      res.row = q.row;
      res.variant = default_variant;
      res.at = q.at;
      auto rp = self->make_response_promise<rec_result>();
      auto user = ctx.dir->find_user(q.user);
      if (!user) {
        // Never seen: the cold-start blend, trending for everyone.
        res.fallback = true;
        user_view view;
        view.exclude = q.exclude;
        view.genres = q.genres;
        if (q.row == rec_row::continue_watching)
          rp.deliver(std::move(res));
        else
          answer_trending(self, ctx, rp, std::move(q), std::move(view),
                          std::move(res), deadline);
        return rp;
      }
      self->request(*user, left(deadline), view_atom_v)
        .then(
          [=](user_snapshot& snap) mutable {
            snap.view.exclude = q.exclude;
            snap.view.genres = q.genres;
            switch (q.row) {
            case rec_row::continue_watching:
              answer_continue_watching(self, ctx, rp, std::move(q),
                                       std::move(snap), std::move(res),
                                       deadline);
              return;
            case rec_row::because_you_watched:
              res.source = latest_watched(snap.recent);
              res.fallback = true;
              break;
            case rec_row::home:
              res.fallback = true;
              break;
            case rec_row::trending:
              break;
            }
            answer_trending(self, ctx, rp, std::move(q), std::move(snap.view),
                            std::move(res), deadline);
          },
          // Without the user's state no filter can be trusted: no answer
          // that might show a watched title, an error instead.
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

} // namespace

recommender_actor spawn_recommender_actor(
  caf::actor_system& sys, std::shared_ptr<const service_params> p,
  std::shared_ptr<directory> dir, trending_actor trending) {
  return sys.spawn(recommender_actor_impl,
                   context{std::move(p), std::move(dir), std::move(trending)});
}

} // namespace marquee
