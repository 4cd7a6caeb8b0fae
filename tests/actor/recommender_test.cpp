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
    return answer(q);
  }

  /// The answer to `q`; an error fails the test.
  rec_result answer(const rec_query& q) { return answer_with(sources, q); }

  /// Why there is no answer to `q`; an answer fails the test.
  error_info refusal(const rec_query& q) {
    auto res = recommend(sources, q);
    if (res)
      FAIL("expected an error, got a reply");
    return describe(res.error());
  }

  static rec_result answer_with(const rec_sources& src, const rec_query& q) {
    auto res = recommend(src, q);
    if (!res)
      FAIL("expected a reply, got " << to_string(res.error()));
    return std::move(*res);
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
    auto res = answer(q);
    CHECK(titles_of(res.items) == std::vector<title_key>{1, 5});
  }
  SECTION("with explain, items carry their trending score and plays") {
    rec_query q;
    q.user = stranger;
    q.at = at;
    q.k = 1;
    q.explain = true;
    auto res = answer(q);
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
    res = answer(q);
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
  auto err = refusal(q);
  CHECK(err.code == errc::bad_request);
  CHECK_THAT(err.message, Catch::Contains("control, b"));
  q.variant = 1;
  auto res = answer(q);
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
  auto res = answer(q);
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
  res = answer(q);
  REQUIRE_FALSE(res.items.empty());
  run();
  CHECK(stats.read(1).requests == 2);
  CHECK(stats.read(1).recommended == 3);
  play(res.items.front().title, q.at + ms_per_minute);
  CHECK(stats.read(1).plays == 1);
}

namespace {

/// Neighbours that are the same for every seed.
neighbour_fn scripted(std::vector<neighbour> neighbours) {
  return [neighbours](title_key, uint32_t n) {
    return std::vector<neighbour>(neighbours.begin(),
                                  neighbours.begin() +
                                    std::min<size_t>(n, neighbours.size()));
  };
}

/// Alice with neighbours 6 (similarity 1 per seed) and 5 (0.9),
/// ranked by similarity and trending over 7d alone: `control` weighs
/// trending 0.3, `b` 50.
struct ranked_fixture : alice_fixture {
  ranked_fixture()
    : ranked_params(make_ranked_params()), ranked{
                                             ranked_params, dir, trending_state,
                                             scripted({{6, 1.0}, {5, 0.9}})} {
    // nop
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
    return answer_with(ranked, q);
  }

  /// The trending score over 7d of every title, and the best one.
  std::map<title_key, double> trending_7d() {
    trending_query q;
    q.k = 100;
    q.window = 2;
    q.at = at;
    q.at_given = true;
    std::map<title_key, double> out;
    for (const auto& e :
         read([&] { return trending_state->trending(q); }).items)
      out[e.title] = e.score;
    return out;
  }

  std::shared_ptr<const service_params> ranked_params;
  rec_sources ranked;
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
