// The title index (ADR 21): a restart restores the trending cell from the
// stored titles it needs, without activating them; a store written before
// the index existed gets it at its first start, with the same result. Real
// LMDB and a real actor system, no network.

#include "actors/trending_actor.hpp"
#include "bootstrap/checkpoint.hpp"
#include "domain/window.hpp"
#include "persistence/state_codec.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace marquee;

namespace {

constexpr int64_t ts = 1'700'000'000'000;

std::shared_ptr<const service_params> index_params() {
  service_params p;
  p.trending =
    trending_params::make(0.5, {ms_per_hour, ms_per_day, 7 * ms_per_day}, 100);
  return std::make_shared<const service_params>(std::move(p));
}

/// A trending cell restored from `store`, read for its lists and filters as
/// requests read it.
struct restored {
  std::shared_ptr<const service_params> params = index_params();
  id_tables ids;
  trending_cell trending{params};
  size_t announced = 0;
  std::string error;

  restored(lmdb_store& store, uint64_t sequence) {
    announced =
      restore_trending(trending, ids, store, sequence, params->trending, error);
  }

  /// "title=plays" of the 1d list in `region` (empty: all regions).
  std::vector<std::string> listed(const std::string& region = "") {
    trending_query q;
    q.window = 1;
    q.at = ts + ms_per_hour;
    q.at_given = true;
    if (!region.empty())
      q.region = *ids.regions.find(region);
    auto r = trending.trending(q);
    if (!r)
      FAIL(caf::to_string(r.error()));
    std::vector<std::string> out;
    for (const auto& e : r->items)
      out.push_back(std::string{ids.titles.name(e.title)} + "=" +
                    std::to_string(e.plays));
    return out;
  }

  /// The titles of `names` any listing may show (catalog filter).
  std::vector<std::string> shown(const std::vector<std::string>& names) {
    filter_query q;
    q.listing = true;
    for (const auto& n : names)
      q.titles.push_back(*ids.titles.find(n));
    std::vector<std::string> out;
    for (auto t : trending.filter(q))
      out.emplace_back(ids.titles.name(t));
    return out;
  }
};

std::vector<std::string> keys(const lmdb_store& store,
                              std::string_view prefix) {
  std::vector<std::string> out;
  REQUIRE_FALSE(store.keys_with_prefix(prefix, out));
  return out;
}

} // namespace

TEST_CASE("a store without the title index is indexed at its first start; "
          "trending comes back the same from the index alone",
          "[integration][title][persistence]") {
  testing::temp_dir dir;
  std::error_code ec;
  std::string detail;
  auto store = lmdb_store::open({(dir.path() / "state").string()}, ec, detail);
  INFO(detail);
  REQUIRE(store != nullptr);
  // What an earlier version stored: titles, no index.
  auto params = index_params();
  id_tables writer;
  auto us = *writer.regions.intern("US");
  auto drama = *writer.genres.intern("Drama");
  auto meta = [&](bool available) {
    title_meta m;
    m.name = "x";
    m.genres = {drama};
    m.available = available;
    return m;
  };
  title_state played; // catalog entry and plays
  played.apply_catalog(meta(true));
  for (int i = 0; i < 3; ++i)
    played.apply_play(ts + i, us, params->trending);
  title_state unavailable; // catalog entry only, never recommended
  unavailable.apply_catalog(meta(false));
  title_state plain; // plays, no catalog entry
  plain.apply_play(ts, all_regions, params->trending);
  title_state shown; // impressions only: nothing trending needs
  shown.apply_impression(ts);
  std::vector<store_record> records;
  auto put = [&](const char* id, const title_state& s) {
    *writer.titles.intern(id);
    records.push_back(
      {title_store_key(id), encode_title_value(snapshot_of(s), writer)});
  };
  put("t1", played);
  put("t2", unavailable);
  put("t3", plain);
  put("s1", shown);
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });
  REQUIRE_FALSE(store->write_checkpoint(std::move(records), 7));
  REQUIRE(keys(*store, title_index_prefix).empty());

  std::vector<std::string> all_before;
  {
    restored first{*store, 7};
    INFO(first.error);
    REQUIRE(first.error.empty());
    CHECK(first.announced == 3);
    all_before = first.listed();
    CHECK(all_before == std::vector<std::string>{"t1=3", "t3=1"});
    CHECK(first.listed("US") == std::vector<std::string>{"t1=3"});
    CHECK(first.shown({"t1", "t2", "t3"}) ==
          std::vector<std::string>{"t1", "t3"});
    // Read for the index once, but not kept: a title only shown is not
    // interned.
    CHECK_FALSE(first.ids.titles.find("s1").has_value());
  }
  CHECK(keys(*store, title_index_prefix) ==
        std::vector<std::string>{"i/t1", "i/t2", "i/t3"});
  std::string value;
  CHECK_FALSE(store->get(title_index_done_key, value));
  uint64_t sequence = 0;
  REQUIRE_FALSE(store->checkpoint_sequence(sequence));
  CHECK(sequence == 7); // the index went in under the same checkpoint

  // The next start reads the index only.
  restored second{*store, 7};
  REQUIRE(second.error.empty());
  CHECK(second.announced == 3);
  CHECK(second.listed() == all_before);
  CHECK(second.listed("US") == std::vector<std::string>{"t1=3"});
  CHECK(second.shown({"t1", "t2", "t3"}) ==
        std::vector<std::string>{"t1", "t3"});
  CHECK(second.ids.titles.size() == 3);
}
