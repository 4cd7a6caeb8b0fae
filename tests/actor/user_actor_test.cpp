#include "actors/user_actor.hpp"

#include "tests/actor/fixture.hpp"

#include <caf/send.hpp>

#include <catch2/catch.hpp>

using namespace marquee;
using namespace marquee::test;

namespace {

constexpr user_key alice = 1;
constexpr region_key region_de = 10;
constexpr region_key region_fr = 11;
constexpr region_key region_us = 12;

play_event play(title_key title, int64_t ts, double progress = 1.0,
                region_key region = all_regions) {
  return play_event{alice, title, ts, progress, region};
}

struct user_fixture : fixture {
  std::shared_ptr<user_cell> cell = std::make_shared<user_cell>(alice, params);
  user_actor user = spawn_user_actor(sys, cell);

  template <class... Ts>
  void tell(Ts... xs) {
    (caf::anon_send(user, std::move(xs)), ...);
    run();
  }

  /// What the request path reads of the user (ADR 23).
  user_snapshot snapshot() { return cell->view(base_ts); }
  user_view view() { return snapshot().view; }
};

} // namespace

TEST_CASE_METHOD(user_fixture,
                 "a new user actor has an empty view and an empty dump",
                 "[actor][user]") {
  auto snap = snapshot();
  CHECK(snap.view.watched.empty());
  CHECK(snap.view.thumbed_down.empty());
  CHECK_FALSE(snap.view.region);
  CHECK_FALSE(snap.view.max_age);
  CHECK(snap.in_progress.empty());
  CHECK(snap.recent.empty());
  auto d = ask<user_dump>(user, dump_atom_v, base_ts);
  CHECK(d.events == 0);
  CHECK(d.recent.empty());
  CHECK(d.impressed_titles == 0);
  CHECK(d.newest_impression == 0);
  CHECK(d.at == base_ts);
}

TEST_CASE_METHOD(user_fixture,
                 "a full play makes a title watched and a partial play puts "
                 "it in progress, newest first",
                 "[actor][user]") {
  tell(play(5, base_ts + 1000, 1.0), play(3, base_ts + 2000, 0.95),
       play(7, base_ts + 3000, 0.2), play(8, base_ts + 4000, 0.5));
  auto snap = snapshot();
  CHECK(snap.view.watched == std::vector<title_key>{3, 5});
  CHECK(titles_of(snap.in_progress) == std::vector<title_key>{8, 7});
  CHECK(titles_of(snap.recent) == std::vector<title_key>{8, 7, 3, 5});
  SECTION("finishing a title in progress moves it to watched") {
    tell(play(7, base_ts + 5000, 1.0));
    snap = snapshot();
    CHECK(snap.view.watched == std::vector<title_key>{3, 5, 7});
    CHECK(titles_of(snap.in_progress) == std::vector<title_key>{8});
  }
}

TEST_CASE_METHOD(user_fixture,
                 "a thumbs down hides a title from the view until a newer "
                 "thumbs up",
                 "[actor][user]") {
  tell(feedback_event{alice, 4, base_ts + 10, -1},
       feedback_event{alice, 2, base_ts + 10, -1},
       feedback_event{alice, 9, base_ts + 10, +1});
  CHECK(view().thumbed_down == std::vector<title_key>{2, 4});
  tell(feedback_event{alice, 4, base_ts + 20, +1});
  CHECK(view().thumbed_down == std::vector<title_key>{2});
  // An older thumbs down does not override the newer thumbs up.
  tell(feedback_event{alice, 4, base_ts + 15, -1});
  CHECK(view().thumbed_down == std::vector<title_key>{2});
}

TEST_CASE_METHOD(user_fixture,
                 "the view's region is the profile's, else that of the "
                 "latest play with a region",
                 "[actor][user]") {
  tell(play(1, base_ts + 2000, 1.0, region_de));
  CHECK(view().region == region_de);
  // An older play elsewhere does not move the user.
  tell(play(2, base_ts + 1000, 1.0, region_fr));
  CHECK(view().region == region_de);
  // A play without a region does not forget the known one.
  tell(play(3, base_ts + 3000, 1.0));
  CHECK(view().region == region_de);
  tell(play(4, base_ts + 4000, 1.0, region_fr));
  CHECK(view().region == region_fr);
  user_profile profile;
  profile.region = region_us;
  profile.max_age = 12;
  tell(profile_event{alice, profile});
  auto v = view();
  CHECK(v.region == region_us);
  CHECK(v.max_age == 12);
  // A newer play does not override the profile's region.
  tell(play(5, base_ts + 5000, 1.0, region_de));
  CHECK(view().region == region_us);
  // A profile without a region falls back to the latest play's.
  tell(profile_event{alice, user_profile{}});
  v = view();
  CHECK(v.region == region_de);
  CHECK_FALSE(v.max_age);
}

TEST_CASE_METHOD(user_fixture,
                 "the dump shows plays, feedback, profile, impressions and "
                 "the number of events applied",
                 "[actor][user]") {
  user_profile profile;
  profile.max_age = 16;
  tell(play(5, base_ts + 1000, 1.0), play(6, base_ts + 2000, 0.4),
       feedback_event{alice, 7, base_ts + 3000, -1},
       impression_event{alice, 8, base_ts + 4000, 2},
       impression_event{alice, 8, base_ts + 5000, 0},
       impression_event{alice, 9, base_ts + 6000, 1},
       profile_event{alice, profile});
  auto at = base_ts + ms_per_hour;
  auto d = ask<user_dump>(user, dump_atom_v, at);
  CHECK(titles_of(d.recent) == std::vector<title_key>{6, 5});
  CHECK(d.watched == std::vector<title_key>{5});
  CHECK(titles_of(d.in_progress) == std::vector<title_key>{6});
  REQUIRE(d.feedback.size() == 1);
  CHECK(d.feedback[0].title == 7);
  CHECK(d.feedback[0].value == -1);
  CHECK(d.profile.max_age == 16);
  CHECK(d.impressed_titles == 2);
  CHECK(d.raw_impressions == 3);
  CHECK(d.newest_impression == base_ts + 6000);
  CHECK(d.events == 7);
  CHECK(d.at == at);
  // Rows of the configured windows (1d, 7d), highest first-window EMA first.
  REQUIRE(d.top_impressions.size() == 2);
  CHECK(d.top_impressions[0].title == 8);
  CHECK(d.top_impressions[0].count == 2);
  REQUIRE(d.top_impressions[0].ema.size() == 2);
  CHECK(d.top_impressions[0].ema[0] ==
        Approx(literal_ema({base_ts + 4000, base_ts + 5000}, at, ms_per_day)));
  CHECK(d.top_impressions[1].title == 9);
  SECTION("a dump asked for before the newest impression is scored at it") {
    d = ask<user_dump>(user, dump_atom_v, base_ts);
    CHECK(d.at == base_ts + 6000);
  }
}

TEST_CASE_METHOD(user_fixture,
                 "an impressions query returns EMAs equal to the sum of "
                 "alpha ^ ((at - ts) / W) over the title's impressions",
                 "[actor][user][impressions]") {
  // Title 8 seen four times over two hours, out of order; title 9 once.
  std::vector<int64_t> seen_8{base_ts, base_ts + 90 * ms_per_minute,
                              base_ts + 30 * ms_per_minute,
                              base_ts + 2 * ms_per_hour};
  for (auto ts : seen_8)
    caf::anon_send(user, impression_event{alice, 8, ts, -1});
  caf::anon_send(user, impression_event{alice, 9, base_ts + ms_per_hour, 3});
  run();
  auto at = base_ts + 5 * ms_per_hour;
  // 1d and 7d are configured (incremental); 1h is computed from the raw
  // impressions.
  std::vector<int64_t> windows{ms_per_day, ms_per_hour, 7 * ms_per_day};
  auto res = ask<impressions_result>(
    user, impressions_query{alice, {8, 9, 42}, windows, at});
  CHECK(res.at == at);
  REQUIRE(res.rows.size() == 3);
  const auto& r8 = res.rows[0];
  CHECK(r8.title == 8);
  CHECK(r8.count == 4);
  CHECK(r8.last_ts == base_ts + 2 * ms_per_hour);
  REQUIRE(r8.ema.size() == 3);
  for (size_t i = 0; i < windows.size(); ++i) {
    INFO("window " << format_window(windows[i]));
    CHECK(r8.ema[i] ==
          Approx(literal_ema(seen_8, at, windows[i])).epsilon(1e-12));
  }
  const auto& r9 = res.rows[1];
  CHECK(r9.title == 9);
  CHECK(r9.count == 1);
  REQUIRE(r9.ema.size() == 3);
  CHECK(r9.ema[1] == Approx(0.0625).epsilon(1e-12)); // 4 half-lives of 1h
  CHECK(r9.ema[0] == Approx(std::pow(0.5, 4.0 / 24.0)).epsilon(1e-12));
  // A title never shown: a row of zeros.
  const auto& r42 = res.rows[2];
  CHECK(r42.title == 42);
  CHECK(r42.count == 0);
  CHECK(r42.ema == std::vector<double>(3, 0.0));
  SECTION("without titles, every title comes back, newest first") {
    res = ask<impressions_result>(
      user, impressions_query{alice, {}, {ms_per_day}, at});
    CHECK(titles_of(res.rows) == std::vector<title_key>{8, 9});
  }
}

TEST_CASE_METHOD(user_fixture,
                 "an impressions query given an 'at' before the newest "
                 "impression comes back as a bad request",
                 "[actor][user][impressions]") {
  tell(impression_event{alice, 8, base_ts + 1000, -1});
  auto err = ask_error<impressions_result>(
    user, impressions_query{alice, {8}, {ms_per_day}, base_ts, true});
  CHECK(err.code == errc::bad_request);
  CHECK_THAT(err.message, Catch::Contains("earlier than the newest"));
  SECTION("the actor survives the refusal and answers the next query") {
    auto res = ask<impressions_result>(
      user, impressions_query{alice, {8}, {ms_per_day}, base_ts + 1000});
    REQUIRE(res.rows.size() == 1);
    CHECK(res.rows[0].ema == std::vector<double>{1.0});
  }
  SECTION("without a given 'at' the answer moves up to the newest impression") {
    auto res = ask<impressions_result>(
      user, impressions_query{alice, {8}, {ms_per_day}, base_ts, false});
    CHECK(res.at == base_ts + 1000);
    CHECK(res.rows[0].ema == std::vector<double>{1.0});
  }
}

TEST_CASE_METHOD(user_fixture,
                 "an impressions query for an unconfigured window beyond the "
                 "retained raw impressions is a bad request",
                 "[actor][user][impressions]") {
  // Raw retention is one day: the impression two days back is dropped, so a
  // 1h window cannot be computed over its ten-hour look-back any more.
  tell(impression_event{alice, 8, base_ts, -1},
       impression_event{alice, 8, base_ts + 2 * ms_per_day, -1});
  auto at = base_ts + 2 * ms_per_day + 12 * ms_per_hour;
  auto ok = ask<impressions_result>(
    user, impressions_query{alice, {8}, {ms_per_hour}, at});
  REQUIRE(ok.rows.size() == 1);
  auto err = ask_error<impressions_result>(
    user, impressions_query{alice, {8}, {6 * ms_per_hour}, at});
  CHECK(err.code == errc::bad_request);
  CHECK_THAT(err.message, Catch::Contains("6h"));
}
