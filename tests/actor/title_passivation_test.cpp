// Title passivation: the directory drops titles that are idle or beyond the
// live budget, never the pinned ones; a dropped title comes back from its
// stored state with its counters and trending state, and the trending cell
// it writes into again is unchanged. Time is the directory's injected clock.

#include "actors/directory.hpp"
#include "actors/trending_actor.hpp"
#include "tests/actor/fixture.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace marquee;
using namespace marquee::test;

namespace {

/// Stored title state held in memory, by key and by id.
class title_source : public state_source {
public:
  explicit title_source(std::shared_ptr<id_tables> ids) : ids_(std::move(ids)) {
    // nop
  }

  void store(title_key title, title_snapshot_data s) {
    std::lock_guard<std::mutex> guard{mu_};
    titles_[std::string{ids_->titles.name(title)}] = std::move(s);
  }

  /// Stores a title by id only, as a store read by a later process holds it.
  void store(std::string id, title_snapshot_data s) {
    std::lock_guard<std::mutex> guard{mu_};
    titles_[std::move(id)] = std::move(s);
  }

  std::optional<user_snapshot_data> load_user(user_key) override {
    return std::nullopt;
  }

  std::optional<title_snapshot_data> load_title(title_key title) override {
    if (title >= ids_->titles.size())
      return std::nullopt; // not interned: nothing stored by that id
    std::lock_guard<std::mutex> guard{mu_};
    auto i = titles_.find(std::string{ids_->titles.name(title)});
    if (i == titles_.end())
      return std::nullopt;
    return i->second;
  }

  bool has_user(std::string_view) override { return false; }

  bool has_title(std::string_view id) override {
    std::lock_guard<std::mutex> guard{mu_};
    return titles_.count(std::string{id}) > 0;
  }

  uint64_t unreadable() const override { return 0; }

private:
  std::shared_ptr<id_tables> ids_;
  std::mutex mu_;
  std::map<std::string, title_snapshot_data> titles_;
};

bool none(title_key) {
  return false;
}

bool alive(const caf::actor_addr& addr) {
  return caf::actor_cast<caf::strong_actor_ptr>(addr) != nullptr;
}

event_batch title_plays(title_key title, const std::vector<int64_t>& offsets,
                        uint64_t first_sequence, region_key region) {
  event_batch batch;
  auto seq = first_sequence;
  for (auto off : offsets) {
    batch.events.emplace_back(play_event{1, title, base_ts + off, 1.0, region});
    batch.sequences.push_back(seq++);
  }
  return batch;
}

struct title_fixture : fixture {
  std::shared_ptr<id_tables> ids = std::make_shared<id_tables>();
  std::shared_ptr<title_source> source = std::make_shared<title_source>(ids);
  std::shared_ptr<trending_cell> trending_state =
    std::make_shared<trending_cell>(params);
  /// The directory's clock: it moves only when a test moves it.
  std::shared_ptr<int64_t> now = std::make_shared<int64_t>(1'000);
  std::shared_ptr<directory> dir = std::make_shared<directory>(
    sys, params, trending_state, source, [t = now] { return *t; });

  ~title_fixture() { dir->clear(); }

  title_key key(const std::string& id) { return *ids->titles.intern(id); }

  /// Looks the titles up in this order, one clock tick apart.
  void look_up_in_order(const std::vector<title_key>& titles) {
    for (auto t : titles) {
      ++*now;
      dir->title(t);
    }
  }

  std::vector<title_key> live_of(const std::vector<title_key>& titles) {
    std::vector<title_key> out;
    for (auto t : titles)
      if (dir->live_title(t))
        out.push_back(t);
    return out;
  }

  trending_result top(region_key region = all_regions) {
    trending_query q;
    q.k = 10;
    q.window = 1;
    q.region = region;
    q.at = base_ts + ms_per_hour;
    q.at_given = true;
    return read([&] { return trending_state->trending(q); });
  }
};

} // namespace

TEST_CASE_METHOD(title_fixture,
                 "idle titles go, pinned ones stay, then the least recently "
                 "used beyond the live budget",
                 "[actor][passivation][title]") {
  look_up_in_order({1, 2, 3, 4, 5});
  REQUIRE(dir->title_count() == 5);
  directory::passivation p;
  SECTION("idle: looked up before now - idle_ms") {
    p.idle_ms = 3;
    // At 1'006, 1 (1'001), 2 (1'002) and 3 (1'003) are idle; 2 is pinned.
    auto pinned = [](title_key t) { return t == 2; };
    CHECK(dir->passivate_titles(pinned, p, *now + 1) == 2);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<title_key>{2, 4, 5});
    CHECK(dir->title_count() == 3);
    CHECK(dir->titles_passivated() == 2);
  }
  SECTION("beyond the budget: exactly the oldest unpinned ones") {
    p.max_titles = 2;
    auto pinned = [](title_key t) { return t == 1; };
    CHECK(dir->passivate_titles(pinned, p, *now) == 3);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<title_key>{1, 5});
  }
  SECTION("a title looked up again is the most recently used") {
    ++*now;
    REQUIRE(dir->find_title(1).has_value());
    p.max_titles = 2;
    CHECK(dir->passivate_titles(none, p, *now) == 3);
    CHECK(live_of({1, 2, 3, 4, 5}) == std::vector<title_key>{1, 5});
  }
  SECTION("users are not touched, titles within the budget stay") {
    dir->user(7);
    p.max_titles = 5;
    p.max_users = 0;
    CHECK(dir->passivate_titles(none, p, *now) == 0);
    CHECK(dir->user_count() == 1);
    CHECK(dir->title_count() == 5);
  }
}

TEST_CASE_METHOD(title_fixture,
                 "a passivated title comes back from its stored state with "
                 "its counters, and trending is unchanged",
                 "[actor][passivation][title]") {
  auto t7 = key("t7");
  auto us = *ids->regions.intern("US");
  auto hdl = dir->title(t7);
  caf::anon_send(hdl, title_plays(t7, {0, 1000, 2000}, 1, us));
  dir->catalog(catalog_event{t7, meta_of({}), 4}); // the actor and the cell
  run();
  source->store(t7, ask<title_snapshot_data>(hdl, snapshot_atom_v));
  auto before = ask<title_dump>(hdl, dump_atom_v, base_ts + ms_per_hour);
  REQUIRE(before.plays == 3);
  REQUIRE(before.applied_through == 4);
  auto trending_before = top();
  auto regional_before = top(us);
  REQUIRE(trending_before.items.size() == 1);
  auto old_addr = caf::actor_cast<caf::actor_addr>(hdl);
  hdl = title_actor{};
  directory::passivation p;
  p.idle_ms = 1;
  CHECK(dir->passivate_titles(none, p, *now + 1) == 1);
  run();
  CHECK_FALSE(alive(old_addr));
  CHECK(dir->title_count() == 0);
  // Back on the next lookup, whole.
  auto found = dir->find_title(t7);
  REQUIRE(found.has_value());
  CHECK(dir->restored() == 1);
  run();
  auto after = ask<title_dump>(*found, dump_atom_v, base_ts + ms_per_hour);
  CHECK(after.plays == before.plays);
  CHECK(after.has_meta);
  CHECK(after.applied_through == 4);
  REQUIRE(after.trending.size() == before.trending.size());
  for (size_t i = 0; i < after.trending.size(); ++i) {
    CHECK(after.trending[i].region == before.trending[i].region);
    CHECK(after.trending[i].scores == before.trending[i].scores);
  }
  // Announcing itself again changed nothing in trending.
  auto trending_after = top();
  REQUIRE(trending_after.items.size() == 1);
  CHECK(trending_after.items[0].title == t7);
  CHECK(trending_after.items[0].score == trending_before.items[0].score);
  CHECK(trending_after.items[0].plays == 3);
  CHECK(top(us).items.size() == regional_before.items.size());
  // It goes on from there: a replayed event is skipped, a new one applied.
  caf::anon_send(*found, title_plays(t7, {2000, 3000}, 4, us));
  run();
  auto next = ask<title_dump>(*found, dump_atom_v, base_ts + ms_per_hour);
  CHECK(next.plays == 4);
  CHECK(next.applied_through == 5);
  CHECK(top().items[0].plays == 4);
}

TEST_CASE_METHOD(title_fixture,
                 "a title stored but not interned yet is known to requests, "
                 "past the title limit too",
                 "[actor][passivation][title]") {
  // Not the source itself: it holds the ids, which would then hold it.
  ids->titles.set_limit(
    1, [s = source.get()](std::string_view id) { return s->has_title(id); });
  REQUIRE(ids->titles.intern("t1").has_value());
  // The limit is reached: a new title is refused, a stored one is not.
  CHECK_FALSE(ids->titles.intern("t_new").has_value());
  title_state state;
  auto meta = meta_of({});
  meta.name = "Stored";
  state.apply_catalog(meta);
  auto stored = snapshot_of(state);
  stored.last_sequence = 9;
  source->store(std::string{"t_stored"}, stored);
  CHECK_FALSE(ids->titles.find("t_stored").has_value());
  auto key = dir->known_title("t_stored", ids->titles);
  REQUIRE(key.has_value());
  auto actor = dir->find_title(*key);
  REQUIRE(actor.has_value());
  auto d = ask<title_dump>(*actor, dump_atom_v, base_ts);
  CHECK(d.has_meta);
  CHECK(d.meta.name == "Stored");
  CHECK(d.applied_through == 9);
  // Unknown and past the limit: nothing, and nothing interned.
  CHECK_FALSE(dir->known_title("t_never", ids->titles).has_value());
  CHECK_FALSE(ids->titles.find("t_never").has_value());
  CHECK(ids->titles.size() == 2);
}
