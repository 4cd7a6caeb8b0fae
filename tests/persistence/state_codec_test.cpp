#include "persistence/lmdb_store.hpp"
#include "persistence/payload_archive.hpp"
#include "persistence/state_codec.hpp"
#include "persistence/value_codec.hpp"
#include "tests/support/temp_dir.hpp"

#include "domain/window.hpp"

#include <catch2/catch.hpp>
#include <cereal/types/vector.hpp>

using namespace marquee;
using marquee::testing::temp_dir;

namespace {

constexpr int64_t base_ts = 1'700'000'000'000;

user_params user_test_params() {
  user_params p;
  p.impressions =
    impression_params::make(0.5, {ms_per_day, 7 * ms_per_day}, ms_per_day, 64);
  return p;
}

trending_params trending_test_params() {
  return trending_params::make(0.5, {ms_per_hour, ms_per_day}, 100);
}

uint32_t key(interner& table, std::string_view name) {
  return *table.intern(name);
}

/// A user with plays, thumbs, impressions and a profile, its ids interned
/// into `ids`.
user_state sample_user(id_tables& ids, const user_params& p) {
  user_state s;
  auto t = [&](std::string_view name) { return key(ids.titles, name); };
  s.apply_profile(user_profile{12, key(ids.regions, "GB")});
  s.apply_play(t("metropolis"), base_ts, 0.95, key(ids.regions, "DE"), p);
  s.apply_play(t("nosferatu"), base_ts + 10, 0.4, std::nullopt, p);
  s.apply_feedback(t("zulu"), base_ts + 20, -1);
  s.apply_feedback(t("alpha"), base_ts + 21, 1);
  for (int i = 0; i < 5; ++i)
    s.apply_impression(i % 2 ? t("alpha") : t("zulu"), base_ts + 100 * i, p);
  return s;
}

title_state sample_title(id_tables& ids, const trending_params& p) {
  title_state s;
  title_meta meta;
  meta.name = "Metropolis";
  meta.genres = {key(ids.genres, "SciFi"), key(ids.genres, "Drama")};
  std::sort(meta.genres.begin(), meta.genres.end());
  meta.regions = {key(ids.regions, "US"), key(ids.regions, "DE")};
  std::sort(meta.regions.begin(), meta.regions.end());
  meta.min_age = 12;
  meta.year = 1927;
  s.apply_catalog(meta);
  s.apply_play(base_ts, key(ids.regions, "US"), p);
  s.apply_play(base_ts + 5, key(ids.regions, "FR"), p);
  s.apply_play(base_ts + 9, all_regions, p);
  s.apply_impression(base_ts + 1);
  s.apply_feedback(1);
  return s;
}

/// Tables in which other ids came first, so every key differs.
void intern_decoys(id_tables& ids) {
  for (auto name : {"d1", "d2", "d3", "zulu", "d4", "alpha", "d5"})
    ids.titles.intern(name);
  for (auto name : {"FR", "XX", "DE", "YY", "GB", "US"})
    ids.regions.intern(name);
  for (auto name : {"Drama", "Western"})
    ids.genres.intern(name);
}

std::vector<std::string> names_of(const std::vector<uint32_t>& keys,
                                  const interner& table) {
  std::vector<std::string> out;
  for (auto k : keys)
    out.emplace_back(table.name(k));
  return out;
}

} // namespace

TEST_CASE("a user's stored value restores under another process's keys and "
          "encodes back to the same bytes",
          "[persistence][state]") {
  auto p = user_test_params();
  id_tables first;
  auto original = sample_user(first, p);
  auto snap = snapshot_of(original);
  snap.last_sequence = 77;
  auto value = encode_user_value(snap, first);
  id_tables second;
  intern_decoys(second);
  user_snapshot_data decoded;
  REQUIRE_FALSE(decode_user_value(value, second, decoded));
  CHECK(decoded.last_sequence == 77);
  auto restored = restore_user(decoded, p);
  REQUIRE(restored.has_value());
  // The same titles, by name, in the same roles.
  CHECK(names_of(restored->watched(), second.titles) ==
        names_of(original.watched(), first.titles));
  CHECK(second.regions.name(*restored->profile().region) == "GB");
  CHECK(restored->view().thumbed_down.size() == 1);
  CHECK(second.titles.name(restored->view().thumbed_down[0]) == "zulu");
  auto at = base_ts + ms_per_hour;
  auto rows_of = [&](const user_state& s, const id_tables& ids) {
    std::vector<std::pair<std::string, std::vector<double>>> out;
    for (const auto& r : s.impressions().top(10, at, p.impressions))
      out.emplace_back(ids.titles.name(r.title), r.ema);
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(rows_of(*restored, second) == rows_of(original, first));
  // Canonical: the restored state stores exactly what the original did.
  auto again = snapshot_of(*restored);
  again.last_sequence = 77;
  CHECK(encode_user_value(again, second) == value);
}

TEST_CASE("a title's stored value restores under another process's keys",
          "[persistence][state]") {
  auto p = trending_test_params();
  id_tables first;
  auto original = sample_title(first, p);
  auto value = encode_title_value(snapshot_of(original), first);
  id_tables second;
  intern_decoys(second);
  title_snapshot_data decoded;
  REQUIRE_FALSE(decode_title_value(value, second, decoded));
  auto restored = restore_title(decoded, p);
  REQUIRE(restored.has_value());
  REQUIRE(restored->meta() != nullptr);
  auto sorted = [](std::vector<std::string> xs) {
    std::sort(xs.begin(), xs.end());
    return xs;
  };
  CHECK(sorted(names_of(restored->meta()->genres, second.genres)) ==
        std::vector<std::string>{"Drama", "SciFi"});
  CHECK(sorted(names_of(restored->meta()->regions, second.regions)) ==
        std::vector<std::string>{"DE", "US"});
  CHECK(restored->plays() == 3);
  CHECK(restored->thumbs_up() == 1);
  auto us = restored->trending().find(*second.regions.find("US"));
  REQUIRE(us != nullptr);
  CHECK(us->plays == 1);
  CHECK(encode_title_value(snapshot_of(*restored), second) == value);
}

TEST_CASE("user and title values survive a checkpoint and a reopen of the "
          "store",
          "[persistence][state]") {
  temp_dir dir{"marquee-state"};
  auto up = user_test_params();
  auto tp = trending_test_params();
  id_tables ids;
  auto user = snapshot_of(sample_user(ids, up));
  auto title = snapshot_of(sample_title(ids, tp));
  {
    std::error_code ec;
    std::string detail;
    auto store = lmdb_store::open({dir.str()}, ec, detail);
    REQUIRE(store);
    REQUIRE_FALSE(store->write_checkpoint(
      {{user_store_key("u42"), encode_user_value(user, ids)},
       {title_store_key("metropolis"), encode_title_value(title, ids)}},
      9));
  }
  std::error_code ec;
  std::string detail;
  auto store = lmdb_store::open({dir.str()}, ec, detail);
  REQUIRE(store);
  id_tables fresh;
  std::string raw;
  REQUIRE_FALSE(store->get("u/u42", raw));
  user_snapshot_data u;
  REQUIRE_FALSE(decode_user_value(raw, fresh, u));
  CHECK(restore_user(u, up).has_value());
  REQUIRE_FALSE(store->get("t/metropolis", raw));
  title_snapshot_data t;
  REQUIRE_FALSE(decode_title_value(raw, fresh, t));
  CHECK(restore_title(t, tp).has_value());
}

TEST_CASE("a stored state that does not decode is refused with a reason",
          "[persistence][state]") {
  auto p = user_test_params();
  id_tables ids;
  auto good = encode_user_value(snapshot_of(sample_user(ids, p)), ids);
  framed_value framed;
  REQUIRE_FALSE(
    unframe_value(good, value_kind::user, user_value_version, framed));
  auto payload = std::string{framed.payload};
  user_snapshot_data out;
  SECTION("a title value read as a user") {
    auto title = encode_title_value(
      snapshot_of(sample_title(ids, trending_test_params())), ids);
    CHECK(decode_user_value(title, ids, out) == persistence_errc::wrong_kind);
  }
  SECTION("a payload cut short, framed anew so the checksum holds") {
    auto cut = frame_value(value_kind::user, user_value_version,
                           payload.substr(0, payload.size() / 2));
    CHECK(decode_user_value(cut, ids, out) == persistence_errc::undecodable);
  }
  SECTION("trailing bytes") {
    auto longer =
      frame_value(value_kind::user, user_value_version, payload + "xx");
    CHECK(decode_user_value(longer, ids, out) == persistence_errc::undecodable);
  }
  SECTION("garbage") {
    auto garbage = frame_value(value_kind::user, user_value_version,
                               std::string(64, '\xff'));
    CHECK(decode_user_value(garbage, ids, out) ==
          persistence_errc::undecodable);
  }
  SECTION("a dictionary entry that is not a valid id") {
    user_state s;
    s.apply_play(key(ids.titles, "not an id!"), base_ts, 1.0, std::nullopt, p);
    auto bad = encode_user_value(snapshot_of(s), ids);
    CHECK(decode_user_value(bad, ids, out) == persistence_errc::undecodable);
  }
  SECTION("a newer format") {
    auto newer = frame_value(value_kind::user, user_value_version + 1, payload);
    CHECK(decode_user_value(newer, ids, out) ==
          persistence_errc::newer_version);
  }
}

TEST_CASE("a user encoded into a reused buffer is the value encoded alone",
          "[persistence][codec]") {
  id_tables ids;
  auto p = user_test_params();
  auto u = snapshot_of(sample_user(ids, p));
  std::string buffer(100000, 'x'); // what a larger value left behind
  encode_user_value(u, ids, buffer);
  CHECK(buffer == encode_user_value(u, ids));
  encode_user_value(user_snapshot_data{}, ids, buffer);
  CHECK(buffer == encode_user_value(user_snapshot_data{}, ids));
}

namespace {

/// A user value as format version 1 wrote it: the fields of
/// `user_snapshot_data` in this order, with an EMA row for every impression
/// title. `s` names titles and regions by their dictionary positions.
std::string user_value_v1(const user_snapshot_data& s,
                          const std::vector<std::string_view>& titles,
                          const std::vector<std::string_view>& regions) {
  return write_value(value_kind::user, 1, [&](payload_writer& ar) {
    write_names(ar, titles);
    write_names(ar, regions);
    ar(s.last_sequence, s.events_applied, s.windows, s.recent_titles,
       s.recent_ts, s.recent_progress, s.watched, s.progress_titles,
       s.progress_ts, s.progress_values, s.feedback_titles, s.feedback_ts,
       s.feedback_values, s.has_max_age, s.max_age, s.has_region, s.region,
       s.has_play_region, s.play_region, s.play_region_ts, s.impression_titles,
       s.impression_counts, s.impression_last_ts, s.impression_emas, s.raw_ts,
       s.raw_titles, s.newest_ts, s.covered_from);
  });
}

} // namespace

TEST_CASE("a user stored in format version 1, with EMAs for titles shown "
          "once, loads as the same user",
          "[persistence][state]") {
  auto p = user_test_params();
  // Ids interned in name order: keys are the dictionary's positions.
  id_tables ids;
  auto a = key(ids.titles, "a");
  auto b = key(ids.titles, "b");
  auto c = key(ids.titles, "c");
  REQUIRE((a == 0 && b == 1 && c == 2));
  user_state u;
  u.apply_play(c, base_ts, 0.5, std::nullopt, p);
  u.apply_impression(a, base_ts + 1, p);
  u.apply_impression(b, base_ts + 2, p);
  u.apply_impression(b, base_ts + 3 * ms_per_hour, p);
  u.apply_impression(c, base_ts + 4 * ms_per_hour, p);
  auto now = snapshot_of(u);
  now.last_sequence = 42;
  // Version 2 keeps EMAs for b alone, the one title shown twice.
  REQUIRE(now.windows == 2);
  REQUIRE(now.impression_emas.size() == 2);
  auto old = now;
  old.impression_emas = {
    1.0, 1.0, now.impression_emas[0], now.impression_emas[1], 1.0, 1.0};

  id_tables other;
  intern_decoys(other);
  user_snapshot_data out;
  REQUIRE_FALSE(
    decode_user_value(user_value_v1(old, {"a", "b", "c"}, {}), other, out));
  user_snapshot_data back;
  REQUIRE_FALSE(decode_user_value(encode_user_value(out, other), ids, back));
  CHECK(back == now);
  auto restored = restore_user(out, p);
  REQUIRE(restored);
  auto at = base_ts + ms_per_day;
  auto rows =
    std::get<std::vector<impression_row>>(restored->impressions().query(
      {}, {ms_per_day, 7 * ms_per_day}, at, p.impressions));
  auto expected = std::get<std::vector<impression_row>>(
    u.impressions().query({}, {ms_per_day, 7 * ms_per_day}, at, p.impressions));
  REQUIRE(rows.size() == 3);
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(other.titles.name(rows[i].title) ==
          ids.titles.name(expected[i].title));
    CHECK(rows[i].ema == expected[i].ema);
  }

  SECTION("a title shown once whose EMA is not 1 does not decode") {
    old.impression_emas[4] = 1.5;
    CHECK(decode_user_value(user_value_v1(old, {"a", "b", "c"}, {}), other,
                            out) == persistence_errc::undecodable);
  }
  SECTION("a version 1 value with only titles shown once keeps no EMAs") {
    user_state once;
    once.apply_impression(a, base_ts, p);
    auto s = snapshot_of(once);
    REQUIRE(s.windows == 0);
    s.windows = 2;
    s.impression_emas = {1.0, 1.0};
    REQUIRE_FALSE(decode_user_value(user_value_v1(s, {"a"}, {}), other, out));
    CHECK(out.windows == 0);
    CHECK(out.impression_emas.empty());
    CHECK(restore_user(out, p));
  }
}
