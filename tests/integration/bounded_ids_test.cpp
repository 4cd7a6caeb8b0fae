// Bounded ids and titles (issue 10, defect 6): caps on distinct ids with
// their dead letters, titles that leave memory and come back whole, and a
// restart that restores trending without activating every stored title.

#include "harness.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace marquee;
using namespace marquee::testing;

namespace {

uint64_t live_titles(harness& h) {
  return h.ask_v1("admin.it1.stats").json["actors"]["title"].GetUint64();
}

std::string play(const std::string& title, int64_t ts,
                 const std::string& extra = "") {
  return R"({"title":")" + title + R"(","ts":)" + std::to_string(ts) + extra +
         "}";
}

/// The items of a trending answer as "title=plays", in order.
std::vector<std::string> listed(const reply& r) {
  std::vector<std::string> out;
  for (const auto& item : r.json["items"].GetArray())
    out.push_back(std::string{item["title"].GetString()} + "=" +
                  std::to_string(item["plays"].GetUint64()));
  return out;
}

bool caught_up(harness& h) {
  return h.ask_v1("admin.it1.stats").json["ingest"]["caught_up"].GetBool();
}

struct capped_case {
  const char* tail;
  const char* body;
  const char* reason;
  const char* error;
};

} // namespace

TEST_CASE("a new id past its cap is dead-lettered with a reason of the "
          "contract, a header naming the cap and its key, and the body "
          "unchanged; known ids keep working",
          "[integration][dlq][limits]") {
  harness h{{{"limits.max_users", "2"},
             {"limits.max_titles", "2"},
             {"limits.max_regions", "1"},
             {"limits.max_genres", "1"}}};
  std::string error;
  auto watcher = nats_client::connect(h.server().url(), error);
  REQUIRE(watcher != nullptr);
  REQUIRE(watcher->subscribe("marquee.v1.dlq.>", error));
  const int64_t ts = now_ms() - 60'000;
  // Every cap filled: u1, u2; t1, t2; US; Drama.
  h.publish("events.play.u1", play("t1", ts, R"(,"region":"US")"));
  h.publish("catalog.t2", R"({"genres":["Drama"],"regions":["US"]})");
  h.publish("profile.u2", R"({"region":"US"})");
  h.await_events(3);
  const auto users = "user limit reached: 2 distinct users (limits.max_users)";
  const auto titles =
    "title limit reached: 2 distinct titles (limits.max_titles)";
  const std::vector<capped_case> cases = {
    {"events.play.u3", R"({"title":"t1"})", "id", users},
    {"profile.u3", R"({"max_age":12})", "id", users},
    {"events.impression.u1", R"({"title":"t3","position":2})", "id", titles},
    {"catalog.t3", R"({"name":"Three"})", "id", titles},
    {"events.play.u1", R"({"title":"t1","region":"GB"})", "schema",
     "region limit reached: 1 distinct regions (limits.max_regions)"},
    {"catalog.t1", R"({"genres":["Comedy"]})", "schema",
     "genre limit reached: 1 distinct genres (limits.max_genres)"},
  };
  for (const auto& c : cases)
    h.publish(c.tail, c.body);
  auto letters = collect(*watcher, cases.size());
  for (const auto& c : cases) {
    INFO(c.tail << " " << c.body);
    auto letter = take_letter(letters, h.subject(c.tail), c.body);
    CHECK(letter.subject == std::string{"marquee.v1.dlq."} + c.reason);
    CHECK(letter.header("Marquee-Error") == c.error);
  }
  // Known ids still pass at every cap.
  h.publish("events.play.u2", play("t2", ts + 1, R"(,"region":"US")"));
  h.publish("catalog.t1", R"({"name":"One","genres":["Drama"]})");
  h.await_events(3 + cases.size() + 2);
  auto stats = h.ask_v1("admin.it1.stats");
  INFO(stats.msg.body);
  CHECK(stats.json["dlq"]["id"].GetUint64() == 4);
  CHECK(stats.json["dlq"]["schema"].GetUint64() == 2);
  CHECK(stats.json["events"]["play"].GetUint64() == 2);
  CHECK(stats.json["events"]["catalog"].GetUint64() == 2);
  auto& ids = stats.json["ids"];
  CHECK(ids["users"]["count"].GetUint64() == 2);
  CHECK(ids["users"]["limit"].GetUint64() == 2);
  CHECK(ids["titles"]["count"].GetUint64() == 2);
  CHECK(ids["regions"]["count"].GetUint64() == 1);
  CHECK(ids["genres"]["count"].GetUint64() == 1);
  // Requests naming unknown ids past the caps: clear answers, and nothing
  // interned.
  auto rec = h.ask_v1("rec.user.u3", R"({"row":"home"})");
  CHECK(rec.error_code() == 0);
  CHECK(rec.json["fallback"].GetBool());
  auto similar = h.ask_v1("rec.similar.t3");
  CHECK(similar.error_code() == 404);
  CHECK(h.ask_v1("admin.all.title", R"({"id":"t3"})").error_code() == 404);
  auto imp = h.ask_v1("impressions.u3", R"({"titles":["t3"]})");
  CHECK(imp.error_code() == 0);
  auto trending = h.ask_v1("rec.trending", R"({"region":"GB"})");
  CHECK(trending.error_code() == 0);
  auto after = h.ask_v1("admin.it1.stats");
  CHECK(after.json["ids"]["users"]["count"].GetUint64() == 2);
  CHECK(after.json["ids"]["titles"]["count"].GetUint64() == 2);
  CHECK(after.json["ids"]["regions"]["count"].GetUint64() == 1);
  CHECK(after.json["actors"]["user"].GetUint64() == 2);
}

TEST_CASE("beyond the live budget titles leave memory and come back from the "
          "store with their counters and trending state",
          "[integration][durable][passivation][title]") {
  harness h{{{"ingest.mode", "durable"},
             {"checkpoint.events", "20"},
             {"checkpoint.interval_ms", "100"},
             {"passivation.max_titles", "5"},
             {"passivation.idle_ms", "0"}}};
  constexpr int titles = 50;
  const int64_t ts = now_ms() - 60'000;
  // Two plays of each title, the second after every other title's first.
  for (int round = 0; round < 2; ++round)
    for (int t = 0; t < titles; ++t)
      h.publish("events.play.u" + std::to_string(t % 10),
                play("t" + std::to_string(t), ts + round * 1000 + t));
  h.publish("catalog.t7", R"({"name":"Seven","genres":["Drama"]})");
  h.await_applied(2 * titles + 1);
  REQUIRE(harness::eventually([&] { return live_titles(h) <= 5; }));
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["store"]["titles_passivated"].GetUint64() >= titles - 5);
  // Every title is listed with both plays, whether live or not.
  auto top = h.ask_v1("rec.trending", R"({"k":60,"window":"1d"})");
  INFO(top.msg.body);
  REQUIRE(top.json["items"].Size() == titles);
  for (const auto& item : top.json["items"].GetArray())
    CHECK(item["plays"].GetUint64() == 2);
  // A passivated title's dump comes from the store, whole.
  for (int t = 0; t < titles; t += 7) {
    auto id = "t" + std::to_string(t);
    auto dump = h.ask_v1("admin.all.title", R"({"id":")" + id + R"("})");
    INFO(dump.msg.body);
    CHECK(dump.json["plays"].GetUint64() == 2);
  }
  auto seven = h.ask_v1("admin.all.title", R"({"id":"t7"})");
  CHECK(std::string{seven.json["metadata"]["name"].GetString()} == "Seven");
  // A passivated title takes a new play on top of its stored state.
  REQUIRE(harness::eventually([&] { return live_titles(h) <= 5; }));
  h.publish("events.play.u1", play("t3", ts + 5000));
  h.await_applied(2 * titles + 2);
  auto t3 = h.ask_v1("admin.all.title", R"({"id":"t3"})");
  CHECK(t3.json["plays"].GetUint64() == 3);
  CHECK(t3.json["applied_through"].GetUint64() == 2 * titles + 2);
  auto first = h.ask_v1("rec.trending", R"({"k":1,"window":"1d"})");
  REQUIRE(first.json["items"].Size() == 1);
  CHECK(listed(first) == std::vector<std::string>{"t3=3"});
  auto stats_reply = h.ask_v1("admin.it1.stats");
  auto store = stats_reply.json["store"].GetObject();
  CHECK(store["refused"].GetUint64() == 0);
  CHECK(store["unreadable"].GetUint64() == 0);
}

TEST_CASE("a restart restores trending and the catalog filters from the "
          "title index and activates titles only when they are needed",
          "[integration][durable][title]") {
  harness h{{{"ingest.mode", "durable"}}};
  const int64_t ts = now_ms() - 60'000;
  h.publish("catalog.t1", R"({"name":"One","genres":["Drama"]})");
  h.publish("catalog.t4", R"({"name":"Four","genres":["Comedy"]})");
  h.publish("catalog.t5", R"({"name":"Five","available":false})");
  const std::map<std::string, int> plays = {
    {"t1", 5}, {"t2", 4}, {"t3", 3}, {"t4", 2}, {"t5", 6}};
  int n = 0;
  for (const auto& [title, count] : plays)
    for (int i = 0; i < count; ++i, ++n)
      h.publish("events.play.u" + std::to_string(n % 4),
                play(title, ts + n, R"(,"region":"US")"));
  // Titles only ever shown: no catalog entry, no play, nothing trending
  // needs.
  constexpr int shown = 200;
  for (int i = 0; i < shown; ++i)
    h.publish("events.impression.u9", play("s" + std::to_string(i), ts + i));
  const uint64_t total = 3 + static_cast<uint64_t>(n) + shown;
  h.await_applied(total);
  auto all_before = h.ask_v1("rec.trending", R"({"k":10,"window":"1d"})");
  auto us_before =
    h.ask_v1("rec.trending", R"({"k":10,"window":"1h","region":"US"})");
  auto comedy_before = h.ask_v1("rec.trending", R"({"genres":["Comedy"]})");
  REQUIRE(listed(all_before) ==
          std::vector<std::string>{"t1=5", "t2=4", "t3=3", "t4=2"});
  h.restart_service();
  REQUIRE(harness::eventually([&] { return caught_up(h); }));
  auto stats = h.ask_v1("admin.it1.stats");
  INFO(stats.msg.body);
  CHECK(stats.json["ingest"]["position"].GetUint64() == total);
  CHECK(stats.json["actors"]["title"].GetUint64() == 0);
  CHECK(stats.json["store"]["restored"].GetUint64() == 0);
  // The titles trending needs were read; the ones only shown were not.
  CHECK(stats.json["ids"]["titles"]["count"].GetUint64() == 5);
  // The same lists and filters (t5 is unavailable), without a title actor.
  CHECK(listed(h.ask_v1("rec.trending", R"({"k":10,"window":"1d"})")) ==
        listed(all_before));
  CHECK(listed(h.ask_v1("rec.trending",
                        R"({"k":10,"window":"1h","region":"US"})")) ==
        listed(us_before));
  CHECK(listed(h.ask_v1("rec.trending", R"({"genres":["Comedy"]})")) ==
        listed(comedy_before));
  CHECK(live_titles(h) == 0);
  // A title comes back when a request needs it: one only shown, too.
  auto s7 = h.ask_v1("admin.all.title", R"({"id":"s7"})");
  INFO(s7.msg.body);
  REQUIRE(s7.error_code() == 0);
  CHECK(s7.json["impressions"].GetUint64() == 1);
  CHECK(h.ask_v1("rec.similar.s7").error_code() == 0);
  auto t1 = h.ask_v1("admin.all.title", R"({"id":"t1"})");
  CHECK(t1.json["plays"].GetUint64() == 5);
  CHECK(std::string{t1.json["metadata"]["name"].GetString()} == "One");
  CHECK(live_titles(h) == 2);
  // Or an event: a new play moves t4 up, on top of its stored counts.
  for (int i = 0; i < 4; ++i)
    h.publish("events.play.u1", play("t4", ts + 1000 + i));
  h.await_applied(total + 4);
  CHECK(listed(h.ask_v1("rec.trending", R"({"k":2,"window":"1d"})")) ==
        std::vector<std::string>{"t4=6", "t1=5"});
  auto after = h.ask_v1("admin.it1.stats");
  auto final_stats = after.json["store"].GetObject();
  CHECK(final_stats["refused"].GetUint64() == 0);
  CHECK(final_stats["unreadable"].GetUint64() == 0);
}
