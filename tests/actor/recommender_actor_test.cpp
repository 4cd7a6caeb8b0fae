#include "tests/actor/service_fixture.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <optional>

using namespace marquee;
using namespace marquee::test;

namespace {

constexpr user_key alice = 1;
constexpr user_key stranger = 2; // never sends an event
constexpr region_key region_de = 10;
constexpr title_key no_catalog = 7;
constexpr title_key only_in_de = 8;

/// Titles 1 to 6 (genre 1, or 2 for even titles) everywhere, 7 without a
/// catalog entry, 8 only in de. Other users play title t (9 - t) times for
/// t < 7, and titles 7 and 8 most of all, so that the trending order
/// without filters is 8, 7, 1, 2, 3, 4, 5, 6.
struct rec_fixture : service_fixture {
  rec_fixture() {
    for (title_key t = 1; t <= 6; ++t)
      router.route(catalog_event{t, meta_of({t % 2 == 0 ? 2u : 1u})});
    router.route(catalog_event{only_in_de, meta_of({1}, {region_de})});
    user_key other = 100;
    auto plays_of = [&](title_key t, int n) {
      for (int i = 0; i < n; ++i)
        router.route(play_event{other++, t, base_ts, 1.0, all_regions});
    };
    for (title_key t = 1; t <= 6; ++t)
      plays_of(t, 9 - static_cast<int>(t));
    plays_of(no_catalog, 20);
    plays_of(only_in_de, 20);
    run();
  }

  rec_result ask_rec(user_key user, rec_row row, uint32_t k = 20) {
    rec_query q;
    q.user = user;
    q.row = row;
    q.k = k;
    q.at = at;
    return ask<rec_result>(recommender, q);
  }

  int64_t at = base_ts + 6 * ms_per_hour;
};

/// Alice watched 1 and then 4, has 3 and then 2 in progress, and started 7.
struct alice_fixture : rec_fixture {
  alice_fixture() {
    router.route(
      play_event{alice, 1, base_ts + 1 * ms_per_hour, 1.0, all_regions});
    router.route(play_event{alice, no_catalog, base_ts + 90 * ms_per_minute,
                            0.5, all_regions});
    router.route(
      play_event{alice, 3, base_ts + 2 * ms_per_hour, 0.3, all_regions});
    router.route(
      play_event{alice, 2, base_ts + 3 * ms_per_hour, 0.6, all_regions});
    router.route(
      play_event{alice, 4, base_ts + 4 * ms_per_hour, 0.95, all_regions});
    run();
  }
};

std::vector<title_key> all_trending_shown{1, 2, 3, 4, 5, 6};

/// The result waiting for `reply`; an error fails the test.
template <class Handle>
rec_result result_of(Handle& reply) {
  std::optional<rec_result> got;
  reply.receive(
    [&](rec_result& res) { got = std::move(res); },
    [&](caf::error& err) { FAIL("expected a reply, got " << to_string(err)); });
  REQUIRE(got);
  return std::move(*got);
}

} // namespace

TEST_CASE_METHOD(rec_fixture,
                 "a user never seen gets trending titles marked as fallback "
                 "in every row",
                 "[actor][recommender]") {
  REQUIRE_FALSE(dir->find_user(stranger));
  for (auto row :
       {rec_row::home, rec_row::trending, rec_row::because_you_watched}) {
    INFO("row " << static_cast<int>(row));
    auto res = ask_rec(stranger, row);
    CHECK(res.row == row);
    CHECK(res.fallback);
    CHECK(res.variant == "control");
    CHECK(res.at == at);
    CHECK(res.source == no_title);
    // Neither the title without catalog entry nor the regional one: the
    // stranger's region is unknown.
    CHECK(titles_of(res.items) == all_trending_shown);
    for (const auto& item : res.items) {
      CHECK(item.reason == rec_reason::trending);
      CHECK(item.source == no_title);
      CHECK(item.features.empty());
    }
  }
  // Asking does not activate an actor for the stranger.
  CHECK_FALSE(dir->find_user(stranger));
  SECTION("k bounds the row") {
    auto res = ask_rec(stranger, rec_row::home, 2);
    CHECK(titles_of(res.items) == std::vector<title_key>{1, 2});
  }
  SECTION("the request's exclusions and genres apply") {
    rec_query q;
    q.user = stranger;
    q.at = at;
    q.exclude = {3};
    q.genres = {1};
    auto res = ask<rec_result>(recommender, q);
    CHECK(titles_of(res.items) == std::vector<title_key>{1, 5});
  }
  SECTION("with explain, items carry their trending score and plays") {
    rec_query q;
    q.user = stranger;
    q.at = at;
    q.k = 1;
    q.explain = true;
    auto res = ask<rec_result>(recommender, q);
    REQUIRE(res.items.size() == 1);
    const auto& item = res.items[0];
    REQUIRE(item.features.size() == 2);
    CHECK(item.features[0].name == "trending");
    CHECK(item.features[0].value == Approx(item.score));
    CHECK(item.features[1].name == "plays");
    CHECK(item.features[1].value == 8.0);
    // Eight plays at base_ts, six hours before, in the 1d window.
    CHECK(item.score == Approx(8 * std::pow(0.5, 6.0 / 24.0)));
  }
  SECTION("titles popular over the week take turns with trending ones") {
    // Title 6 had 30 plays five days ago: last in the 1d window (whose
    // order is 1..5, 6), first of the 7d window (6, 1..5).
    for (int i = 0; i < 30; ++i)
      router.route(play_event{static_cast<user_key>(500 + i), 6,
                              base_ts - 5 * ms_per_day, 1.0, all_regions});
    run();
    auto res = ask_rec(stranger, rec_row::home, 4);
    CHECK(res.fallback);
    CHECK(titles_of(res.items) == std::vector<title_key>{1, 6, 2, 3});
    std::vector<rec_reason> reasons;
    for (const auto& item : res.items)
      reasons.push_back(item.reason);
    CHECK(reasons ==
          std::vector<rec_reason>{rec_reason::trending, rec_reason::popular,
                                  rec_reason::trending, rec_reason::trending});
    // The popular item's score is its decayed count in the 7d window.
    CHECK(res.items[1].score ==
          Approx(30 * std::pow(0.5, (5.0 * 24 + 6) / (7.0 * 24)) +
                 3 * std::pow(0.5, 6.0 / (7.0 * 24))));
    // The trending row stays trending alone.
    auto trending = ask_rec(stranger, rec_row::trending, 4);
    CHECK(titles_of(trending.items) == std::vector<title_key>{1, 2, 3, 4});
  }
  SECTION("continue watching is empty") {
    auto res = ask_rec(stranger, rec_row::continue_watching);
    CHECK(res.fallback);
    CHECK(res.items.empty());
  }
}

TEST_CASE_METHOD(alice_fixture,
                 "the trending row of a known user leaves out the titles "
                 "they watched and is not a fallback",
                 "[actor][recommender]") {
  auto res = ask_rec(alice, rec_row::trending);
  CHECK_FALSE(res.fallback);
  CHECK(res.source == no_title);
  // Alice's own plays count too: 1 and 4 have one play more, in-progress
  // titles are still candidates.
  CHECK(titles_of(res.items) == std::vector<title_key>{2, 3, 5, 6});
  SECTION("a thumbs down removes a title too") {
    router.route(feedback_event{alice, 5, base_ts + 5 * ms_per_hour, -1});
    run();
    res = ask_rec(alice, rec_row::trending);
    CHECK(titles_of(res.items) == std::vector<title_key>{2, 3, 6});
  }
  SECTION("a regional title shows once the user's region matches") {
    user_profile profile;
    profile.region = region_de;
    router.route(profile_event{alice, profile});
    run();
    res = ask_rec(alice, rec_row::trending);
    CHECK(titles_of(res.items) ==
          std::vector<title_key>{only_in_de, 2, 3, 5, 6});
  }
}

TEST_CASE_METHOD(alice_fixture,
                 "the home row of a known user is filtered trending marked "
                 "as fallback",
                 "[actor][recommender]") {
  auto res = ask_rec(alice, rec_row::home);
  CHECK(res.fallback);
  CHECK(res.row == rec_row::home);
  CHECK(titles_of(res.items) == std::vector<title_key>{2, 3, 5, 6});
}

TEST_CASE_METHOD(alice_fixture,
                 "continue watching lists the titles in progress, newest "
                 "first, with their progress",
                 "[actor][recommender]") {
  auto res = ask_rec(alice, rec_row::continue_watching);
  CHECK_FALSE(res.fallback);
  // 7 is in progress too, but has no catalog entry: it cannot be shown.
  REQUIRE(titles_of(res.items) == std::vector<title_key>{2, 3});
  CHECK(res.items[0].reason == rec_reason::continue_watching);
  CHECK(res.items[0].score == Approx(0.6));
  CHECK(res.items[1].score == Approx(0.3));
  SECTION("k bounds the row") {
    res = ask_rec(alice, rec_row::continue_watching, 1);
    CHECK(titles_of(res.items) == std::vector<title_key>{2});
  }
  SECTION("finishing a title takes it off the row") {
    router.route(
      play_event{alice, 2, base_ts + 5 * ms_per_hour, 1.0, all_regions});
    run();
    res = ask_rec(alice, rec_row::continue_watching);
    CHECK(titles_of(res.items) == std::vector<title_key>{3});
  }
  SECTION("with explain, items carry progress and the time of the play") {
    rec_query q;
    q.user = alice;
    q.row = rec_row::continue_watching;
    q.at = at;
    q.explain = true;
    res = ask<rec_result>(recommender, q);
    REQUIRE(res.items.size() == 2);
    REQUIRE(res.items[0].features.size() == 2);
    CHECK(res.items[0].features[0].name == "progress");
    CHECK(res.items[0].features[1].name == "last_played");
    CHECK(res.items[0].features[1].value ==
          static_cast<double>(base_ts + 3 * ms_per_hour));
  }
}

TEST_CASE_METHOD(alice_fixture,
                 "because you watched names the latest watched title as its "
                 "source",
                 "[actor][recommender]") {
  auto res = ask_rec(alice, rec_row::because_you_watched);
  CHECK(res.source == 4);
  CHECK(res.fallback);
  CHECK(titles_of(res.items) == std::vector<title_key>{2, 3, 5, 6});
  SECTION("a newer full play moves the source") {
    router.route(
      play_event{alice, 6, base_ts + 5 * ms_per_hour, 1.0, all_regions});
    run();
    res = ask_rec(alice, rec_row::because_you_watched);
    CHECK(res.source == 6);
  }
  SECTION("a newer partial play does not") {
    router.route(
      play_event{alice, 5, base_ts + 5 * ms_per_hour, 0.5, all_regions});
    run();
    res = ask_rec(alice, rec_row::because_you_watched);
    CHECK(res.source == 4);
  }
}

TEST_CASE_METHOD(rec_fixture,
                 "a variant that does not exist is a bad request and the "
                 "reply names the variant asked for",
                 "[actor][recommender][experiments]") {
  rec_query q;
  q.user = stranger;
  q.at = at;
  q.variant = 2;
  auto err = ask_error<rec_result>(recommender, q);
  CHECK(err.code == errc::bad_request);
  CHECK_THAT(err.message, Catch::Contains("control, b"));
  q.variant = 1;
  auto res = ask<rec_result>(recommender, q);
  CHECK(res.variant == "b");
  CHECK(titles_of(res.items) == all_trending_shown);
}

TEST_CASE_METHOD(alice_fixture,
                 "plays of titles recommended shortly before count for the "
                 "variant that recommended them, once",
                 "[actor][recommender][experiments]") {
  const auto& stats = *dir->experiment_stats();
  rec_query q;
  q.user = alice;
  q.row = rec_row::trending;
  q.at = at;
  q.k = 3;
  q.variant = 1;
  auto res = ask<rec_result>(recommender, q);
  // Alice watched 1 and 4; 2 and 3 in progress are not excluded.
  REQUIRE(titles_of(res.items) == std::vector<title_key>{2, 3, 5});
  run();
  CHECK(stats.read(1).requests == 1);
  CHECK(stats.read(1).recommended == 3);
  CHECK(stats.read(0).requests == 0);
  // A title not recommended; a recommended one within the hour, twice
  // (counts once); another recommended one after the hour (does not).
  auto play = [&](title_key t, int64_t ts) {
    router.route(play_event{alice, t, ts, 0.2, all_regions});
    run();
  };
  play(6, at + ms_per_minute);
  CHECK(stats.read(1).plays == 0);
  play(5, at + 30 * ms_per_minute);
  play(5, at + 40 * ms_per_minute);
  CHECK(stats.read(1).plays == 1);
  play(2, at + ms_per_hour + 1);
  CHECK(stats.read(1).plays == 1);
  CHECK(stats.read(0).plays == 0);
  // continue_watching lists are no recommendations to count.
  q.row = rec_row::continue_watching;
  q.at = at + 2 * ms_per_hour;
  res = ask<rec_result>(recommender, q);
  REQUIRE_FALSE(res.items.empty());
  run();
  CHECK(stats.read(1).requests == 2);
  CHECK(stats.read(1).recommended == 3);
  play(res.items.front().title, q.at + ms_per_minute);
  CHECK(stats.read(1).plays == 1);
}

TEST_CASE_METHOD(alice_fixture,
                 "a user actor that does not answer within the budget makes "
                 "the request fail as overloaded, and the recommender keeps "
                 "serving",
                 "[actor][recommender][budget]") {
  rec_query q;
  q.user = alice;
  q.row = rec_row::trending;
  q.at = at;
  auto reply = self->request(recommender, caf::infinite, q);
  REQUIRE(sched.jobs.size() == 1);
  sched.run_once(); // the recommender asks alice's actor for her view
  REQUIRE(sched.has_pending_timeout());
  // The budget runs out before alice's actor gets to run.
  REQUIRE(sched.trigger_timeout());
  REQUIRE(sched.prioritize(recommender));
  sched.run_once();
  run(); // alice's late answer reaches the recommender and is dropped
  REQUIRE(self->has_next_message());
  std::optional<caf::error> failure;
  reply.receive([&](rec_result&) { FAIL("expected an error, got a reply"); },
                [&](caf::error& err) { failure = err; });
  REQUIRE(failure);
  CHECK(describe(*failure).code == errc::overloaded);
  auto res = ask_rec(alice, rec_row::trending);
  CHECK(titles_of(res.items) == std::vector<title_key>{2, 3, 5, 6});
}

TEST_CASE_METHOD(alice_fixture,
                 "a similarity shard that does not answer in time leaves the "
                 "row to the fallback blend, answered within the budget",
                 "[actor][recommender][budget]") {
  // A shard that takes every question and never answers. Spawned with an
  // argument (its index, unused): CAF 0.17.6 binds a reference to a null
  // argument tuple for an actor spawned without any
  // (caf/detail/init_fun_factory.hpp), undefined behaviour UBSan stops on.
  auto silent = sys.spawn(
    [](similarity_actor::pointer self,
       uint32_t) -> similarity_actor::behavior_type {
      return {
        [](const co_play_batch&) {},
        [self](const neighbours_query&) -> caf::result<neighbours_result> {
          return self->make_response_promise<neighbours_result>();
        },
        [](dump_atom, title_key) { return similarity_dump{}; },
        [](freeze_atom, uint64_t) {},
        [](snapshot_atom, uint64_t) { return similarity_snapshot{}; },
      };
    },
    uint32_t{0});
  auto rec = spawn_recommender_actor(sys, params, dir, trending,
                                     similarity_shards{{silent}});
  rec_query q;
  q.user = alice;
  q.at = at;
  q.k = 3;
  auto reply = self->request(rec, caf::infinite, q);
  run(); // alice's view arrives, the shard is asked and stays silent
  REQUIRE_FALSE(self->has_next_message());
  REQUIRE(sched.has_pending_timeout());
  REQUIRE(sched.trigger_timeout()); // the shard's share of the budget ends
  run();
  REQUIRE(self->has_next_message());
  auto got = result_of(reply);
  CHECK(got.fallback);
  // The blend, filtered for alice (1 and 4 watched).
  CHECK(titles_of(got.items) == std::vector<title_key>{2, 3, 5});
  anon_send_exit(silent, caf::exit_reason::user_shutdown);
  anon_send_exit(rec, caf::exit_reason::user_shutdown);
  run();
}

namespace {

/// A similarity shard that answers every seed with the same neighbours.
similarity_actor scripted_shard(caf::actor_system& sys,
                                std::vector<neighbour> neighbours) {
  // One unused argument, as for the silent shard above (UBSan).
  return sys.spawn(
    [neighbours](similarity_actor::pointer,
                 uint32_t) -> similarity_actor::behavior_type {
      return {
        [](const co_play_batch&) {},
        [neighbours](const neighbours_query& q) {
          return neighbours_result{
            std::vector<std::vector<neighbour>>(q.titles.size(), neighbours)};
        },
        [](dump_atom, title_key) { return similarity_dump{}; },
        [](freeze_atom, uint64_t) {},
        [](snapshot_atom, uint64_t) { return similarity_snapshot{}; },
      };
    },
    uint32_t{0});
}

/// Alice with a shard that finds 6 (similarity 1 per seed) and 5 (0.9),
/// ranked by similarity and trending over 7d alone: `control` weighs
/// trending 0.3, `b` 50.
struct ranked_fixture : alice_fixture {
  ranked_fixture()
    : shard(scripted_shard(sys, {{6, 1.0}, {5, 0.9}})),
      ranked_params(make_ranked_params()),
      rec(spawn_recommender_actor(sys, ranked_params, dir, trending,
                                  similarity_shards{{shard}})) {
    // nop
  }

  ~ranked_fixture() {
    anon_send_exit(shard, caf::exit_reason::user_shutdown);
    anon_send_exit(rec, caf::exit_reason::user_shutdown);
    run();
  }

  static std::shared_ptr<const service_params> make_ranked_params() {
    auto p = *test_params();
    auto& r = p.rec.ranking;
    r.genre_weight = 0;
    r.fatigue_weight = 0;
    r.diversity = 0;
    r.trending_weight = 0.3;
    r.trending_window = 2;
    p.experiments.variants = {{"control", 1, r}, {"b", 0, r}};
    p.experiments.variants[1].ranking.trending_weight = 50;
    return std::make_shared<const service_params>(std::move(p));
  }

  rec_result ask_ranked(uint32_t variant, uint32_t k) {
    rec_query q;
    q.user = alice;
    q.at = at;
    q.k = k;
    q.variant = variant;
    q.explain = true;
    return ask<rec_result>(rec, q);
  }

  /// The trending score over 7d of every title, and the best one.
  std::map<title_key, double> trending_7d() {
    trending_query q;
    q.k = 100;
    q.window = 2;
    q.at = at;
    q.at_given = true;
    std::map<title_key, double> out;
    for (const auto& e : ask<trending_result>(trending, q).items)
      out[e.title] = e.score;
    return out;
  }

  similarity_actor shard;
  std::shared_ptr<const service_params> ranked_params;
  recommender_actor rec;
};

double feature(const rec_item& item, const std::string& name) {
  for (const auto& f : item.features)
    if (f.name == name)
      return f.value;
  FAIL("no feature " << name);
  return 0;
}

} // namespace

TEST_CASE_METHOD(ranked_fixture,
                 "each variant ranks with its own parameters, and the "
                 "trending feature is the title's trending score over the "
                 "best one's",
                 "[actor][recommender][experiments]") {
  auto scores = trending_7d();
  double best = 0;
  for (const auto& [t, s] : scores)
    best = std::max(best, s);
  REQUIRE(scores.at(5) > scores.at(6)); // 5 has one play more
  auto control = ask_ranked(0, 2);
  auto b = ask_ranked(1, 2);
  CHECK(control.variant == "control");
  CHECK(b.variant == "b");
  CHECK_FALSE(control.fallback);
  // Similarity first under control; b's weight on trending lifts 5 over 6.
  CHECK(titles_of(control.items) == std::vector<title_key>{6, 5});
  CHECK(titles_of(b.items) == std::vector<title_key>{5, 6});
  for (const auto* res : {&control, &b}) {
    auto weight = res == &control ? 0.3 : 50.0;
    for (const auto& item : res->items) {
      INFO("variant " << res->variant << ", title " << item.title);
      CHECK(item.reason == rec_reason::because_you_watched);
      auto trend = feature(item, "trending");
      CHECK(trend == Approx(scores.at(item.title) / best));
      CHECK(item.score ==
            Approx(feature(item, "similarity") * (1 + weight * trend)));
    }
  }
}

TEST_CASE_METHOD(ranked_fixture,
                 "a row with too few similar titles is filled from the "
                 "blend, and is no fallback",
                 "[actor][recommender]") {
  auto res = ask_ranked(0, 4);
  CHECK_FALSE(res.fallback);
  // 6 and 5 similar; then trending (1d) and popular (7d) in turn, without
  // alice's watched 1 and 4 and what is listed already.
  REQUIRE(titles_of(res.items) == std::vector<title_key>{6, 5, 2, 3});
  CHECK(res.items[0].reason == rec_reason::because_you_watched);
  CHECK(res.items[1].reason == rec_reason::because_you_watched);
  CHECK(res.items[2].reason == rec_reason::trending);
  CHECK(res.items[3].reason == rec_reason::trending);
  CHECK(feature(res.items[2], "plays") > 0);
}

TEST_CASE_METHOD(ranked_fixture,
                 "when the fill lists do not come in time, the similar titles "
                 "already ranked are the answer",
                 "[actor][recommender][budget]") {
  // Ranks and filters as the trending actor does; never answers for lists.
  auto real = trending;
  // One unused argument, as for the silent shard above (UBSan).
  auto late = sys.spawn(
    [real](trending_actor::pointer self,
           uint32_t) -> trending_actor::behavior_type {
      return {
        [](const trending_update&) {},
        [](const catalog_event&) {},
        [self](const trending_query&) -> caf::result<trending_result> {
          return self->make_response_promise<trending_result>();
        },
        [self](const candidates_query&) -> caf::result<trending_result> {
          return self->make_response_promise<trending_result>();
        },
        [self, real](filter_query& q) {
          return self->delegate(real, std::move(q));
        },
        [self, real](rank_query& q) {
          return self->delegate(real, std::move(q));
        },
      };
    },
    uint32_t{0});
  auto rec2 = spawn_recommender_actor(sys, ranked_params, dir, late,
                                      similarity_shards{{shard}});
  rec_query q;
  q.user = alice;
  q.at = at;
  q.k = 4;
  auto reply = self->request(rec2, caf::infinite, q);
  run(); // ranked; both fill lists asked and never answered
  REQUIRE_FALSE(self->has_next_message());
  sched.trigger_timeouts();
  run();
  REQUIRE(self->has_next_message());
  auto got = result_of(reply);
  CHECK_FALSE(got.fallback);
  CHECK(titles_of(got.items) == std::vector<title_key>{6, 5});
  anon_send_exit(late, caf::exit_reason::user_shutdown);
  anon_send_exit(rec2, caf::exit_reason::user_shutdown);
  run();
}
