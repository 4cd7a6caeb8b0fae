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
  similarity_shards similarity;
};

/// The promise of one answer. Counts the answer for its variant and tells
/// the user's actor (if it has one) which titles it was recommended: the
/// first `remembered` (what it can remember, so that the rate's numerator
/// and denominator count the same titles), asked at `at`.
struct response {
  caf::typed_response_promise<rec_result> promise;
  std::shared_ptr<variant_stats> stats;
  std::optional<user_actor> user;
  uint32_t variant = 0;
  uint32_t remembered = 0;
  int64_t at = 0;

  void deliver(rec_result res) {
    size_t listed = 0;
    if (user && res.row != rec_row::continue_watching && !res.items.empty()) {
      recommended_list shown{{}, at, variant};
      auto n = std::min<size_t>(res.items.size(), remembered);
      shown.titles.reserve(n);
      for (size_t i = 0; i < n; ++i)
        shown.titles.push_back(res.items[i].title);
      listed = shown.titles.size();
      caf::anon_send(*user, std::move(shown));
    }
    if (stats)
      stats->count_request(variant, listed);
    promise.deliver(std::move(res));
  }

  void deliver(caf::error err) { promise.deliver(std::move(err)); }
};

/// The ranking parameters of the query's variant.
const ranking_params& ranking_of(const context& ctx, const rec_query& q) {
  const auto& vs = ctx.params->experiments.variants;
  return q.variant < vs.size() ? vs[q.variant].ranking
                               : ctx.params->rec.ranking;
}

/// Delivers `err`, or past a timeout the titles `res` already holds, if
/// any: a late list must not throw away the ones ranked before it.
void deliver_failure(response& rp, rec_result res, caf::error err) {
  if (err == caf::sec::request_timeout && !res.items.empty())
    rp.deliver(std::move(res));
  else
    rp.deliver(std::move(err));
}

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
      [=](caf::error& err) mutable {
        deliver_failure(rp, std::move(res), std::move(err));
      });
}

rec_item popular_item(const trending_entry& e, bool explain) {
  rec_item item{e.title, e.score, rec_reason::popular, no_title, {}};
  if (explain)
    item.features = {{"popular", e.score},
                     {"plays", static_cast<double>(e.plays)}};
  return item;
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

/// Fills the reply with the fallback blend: trending titles (the trending
/// row's window) and popular ones (the longest trending window) in turn,
/// each once, all passing the filters of `view`, both asked at once. When
/// the trending row's window is the longest, it is the trending row. One
/// list that fails leaves the other; both failing leave the titles `res`
/// holds past a timeout, else the error.
void answer_blend(recommender_actor::pointer self, const context& ctx,
                  response rp, rec_query q, user_view view, rec_result res,
                  clock_type::time_point deadline) {
  auto trending_window = ctx.params->rec.trending_window;
  auto popular_window =
    static_cast<uint32_t>(ctx.params->trending.windows_ms.size()) - 1;
  if (ctx.params->trending.windows_ms.empty() ||
      popular_window == trending_window)
    return answer_trending(self, ctx, rp, std::move(q), std::move(view),
                           std::move(res), deadline);
  struct pending {
    response rp;
    rec_result res;
    uint32_t k;
    bool explain;
    std::optional<trending_result> lists[2]; // trending, popular
    caf::error err;
    int waiting = 2;

    void one_done() {
      if (--waiting > 0)
        return;
      if (!lists[0] && !lists[1])
        return deliver_failure(rp, std::move(res), std::move(err));
      static const std::vector<trending_entry> none;
      res.at = lists[0] ? lists[0]->at : lists[1]->at;
      blend(res, lists[0] ? lists[0]->items : none,
            lists[1] ? lists[1]->items : none, k, explain);
      rp.deliver(std::move(res));
    }
  };
  auto st = std::make_shared<pending>(
    pending{std::move(rp), std::move(res), q.k, q.explain, {}, {}, 2});
  candidates_query tq{view, q.k, trending_window, q.at, q.at_given};
  candidates_query pq{std::move(view), q.k, popular_window, q.at, q.at_given};
  for (size_t i = 0; i < 2; ++i)
    self->request(ctx.trending, left(deadline), i == 0 ? tq : pq)
      .then(
        [st, i](trending_result& found) {
          st->lists[i] = std::move(found);
          st->one_done();
        },
        [st](caf::error& err) {
          st->err = std::move(err);
          st->one_done();
        });
}

/// Asks the shards for the neighbours of `seeds` (one request per shard
/// that owns some), then calls `done` with the lists, parallel to `seeds`.
/// Shards that fail or are late leave their lists empty.
template <class Done>
void gather_neighbours(recommender_actor::pointer self, const context& ctx,
                       const std::vector<seed>& seeds,
                       clock_type::time_point deadline, Done done) {
  struct pending {
    std::vector<std::vector<neighbour>> lists;
    size_t waiting = 0;
    Done done;
  };
  auto shards = ctx.similarity.actors.size();
  auto state = std::make_shared<pending>(pending{{}, 0, std::move(done)});
  state->lists.resize(seeds.size());
  if (shards == 0 || seeds.empty()) {
    state->done(std::move(state->lists));
    return;
  }
  // Seed positions per shard.
  std::vector<std::vector<size_t>> by_shard(shards);
  for (size_t i = 0; i < seeds.size(); ++i)
    by_shard[seeds[i].title % shards].push_back(i);
  for (const auto& positions : by_shard)
    if (!positions.empty())
      ++state->waiting;
  auto n = ctx.params->similarity.neighbours;
  for (size_t s = 0; s < shards; ++s) {
    if (by_shard[s].empty())
      continue;
    neighbours_query q;
    q.n = n;
    for (auto i : by_shard[s])
      q.titles.push_back(seeds[i].title);
    auto positions = by_shard[s];
    auto one_done = [state] {
      if (--state->waiting == 0)
        state->done(std::move(state->lists));
    };
    self->request(ctx.similarity.actors[s], left(deadline), std::move(q))
      .then(
        [state, positions, one_done](neighbours_result& res) {
          for (size_t j = 0; j < positions.size() && j < res.lists.size(); ++j)
            state->lists[positions[j]] = std::move(res.lists[j]);
          one_done();
        },
        [one_done](caf::error&) { one_done(); });
  }
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

/// The personalised rows: similar titles first, then trending to fill.
void answer_similar(recommender_actor::pointer self, const context& ctx,
                    response rp, rec_query q, user_snapshot snap,
                    rec_result res, std::vector<seed> seeds,
                    clock_type::time_point deadline) {
  // The shards get 60% of the time left, so that past a late shard the
  // ranking and the fallback still fit in the budget.
  auto now = clock_type::now();
  auto shard_deadline =
    deadline > now ? now + (deadline - now) * 6 / 10 : deadline;
  gather_neighbours(
    self, ctx, seeds, shard_deadline,
    [=](std::vector<std::vector<neighbour>> lists) mutable {
      // More than k: the catalog filters may drop some.
      auto limit = static_cast<size_t>(q.k) * 2 + 20;
      auto ranked = score_candidates(seeds, lists, snap.view, limit);
      if (ranked.empty()) {
        res.fallback = true;
        return answer_blend(self, ctx, rp, std::move(q), std::move(snap.view),
                            std::move(res), deadline);
      }
      rank_query rq{snap.view,    std::move(ranked),  seeds,
                    snap.fatigue, ranking_of(ctx, q), q.k,
                    q.at};
      self->request(ctx.trending, left(deadline), std::move(rq))
        .then(
          [=](const rank_result& kept) mutable {
            for (const auto& c : kept.items) {
              if (res.items.size() >= q.k)
                break;
              res.items.push_back(similar_item(c, q.explain));
            }
            if (res.items.size() >= q.k || res.items.empty()) {
              res.fallback = res.items.empty();
              if (res.items.empty())
                return answer_blend(self, ctx, rp, std::move(q),
                                    std::move(snap.view), std::move(res),
                                    deadline);
              rp.deliver(std::move(res));
              return;
            }
            // Fill up with trending titles not listed yet.
            auto view = snap.view;
            for (const auto& item : res.items)
              view.exclude.push_back(item.title);
            std::sort(view.exclude.begin(), view.exclude.end());
            auto wanted = q.k - static_cast<uint32_t>(res.items.size());
            auto fill_q = q;
            fill_q.k = wanted;
            answer_blend(self, ctx, rp, std::move(fill_q), std::move(view),
                         std::move(res), deadline);
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
    });
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
      const auto& variants = ctx.params->experiments.variants;
      if (q.variant >= variants.size())
        return make_error(errc::bad_request,
                          "unknown variant " + std::to_string(q.variant) +
                            "; variants: " + ctx.params->experiments.names());
      auto deadline = clock_type::now() +
                      std::chrono::milliseconds{ctx.params->rec.budget_ms};
      rec_result res;
      res.row = q.row;
      res.variant = variants[q.variant].name;
      res.at = q.at;
      auto promise = self->make_response_promise<rec_result>();
      auto user = ctx.dir->find_user(q.user);
      response rp{promise,   ctx.dir->experiment_stats(),        user,
                  q.variant, ctx.params->experiments.remembered, q.at};
      if (!user) {
        // Never seen: the cold-start blend, trending for everyone.
        res.fallback = true;
        user_view view;
        view.exclude = q.exclude;
        view.genres = q.genres;
        if (q.row == rec_row::continue_watching)
          rp.deliver(std::move(res));
        else if (q.row == rec_row::trending)
          answer_trending(self, ctx, rp, std::move(q), std::move(view),
                          std::move(res), deadline);
        else
          answer_blend(self, ctx, rp, std::move(q), std::move(view),
                       std::move(res), deadline);
        return promise;
      }
      self->request(*user, left(deadline), view_atom_v, q.at)
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
            case rec_row::because_you_watched: {
              res.source = latest_watched(snap.recent);
              std::vector<seed> seeds;
              if (res.source != no_title)
                seeds.push_back({res.source, 1.0, 1.0, 1.0});
              answer_similar(self, ctx, rp, std::move(q), std::move(snap),
                             std::move(res), std::move(seeds), deadline);
              return;
            }
            case rec_row::home: {
              auto seeds = pick_seeds(snap.recent, snap.view.thumbed_down,
                                      snap.view.thumbed_up, ranking_of(ctx, q));
              answer_similar(self, ctx, rp, std::move(q), std::move(snap),
                             std::move(res), std::move(seeds), deadline);
              return;
            }
            case rec_row::trending:
              break;
            }
            answer_trending(self, ctx, rp, std::move(q), std::move(snap.view),
                            std::move(res), deadline);
          },
          // Without the user's state no filter can be trusted: no answer
          // that might show a watched title, an error instead.
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return promise;
    },
  };
}

} // namespace

recommender_actor
spawn_recommender_actor(caf::actor_system& sys,
                        std::shared_ptr<const service_params> p,
                        std::shared_ptr<directory> dir, trending_actor trending,
                        similarity_shards similarity) {
  return sys.spawn(recommender_actor_impl,
                   context{std::move(p), std::move(dir), std::move(trending),
                           std::move(similarity)});
}

} // namespace marquee
