#include "harness.hpp"

using namespace marquee;
using namespace marquee::testing;

namespace {

struct dlq_case {
  const char* tail;
  std::string body;
  const char* reason;
};

} // namespace

TEST_CASE("every rejected event goes to the dead-letter subject of its reason "
          "with its headers and unchanged body",
          "[integration][dlq]") {
  harness h;
  std::string error;
  auto watcher = nats_client::connect(h.server().url(), error);
  REQUIRE(watcher != nullptr);
  REQUIRE(watcher->subscribe("marquee.v1.dlq.>", error));
  auto far_future = std::to_string(now_ms() + 2 * 24 * 3600 * 1000LL);
  std::vector<dlq_case> cases = {
    {"events.play.u1", "{\"title\":", "json"},
    {"events.play.u1", "not json at all", "json"},
    {"events.play.u1", "[1,2,3]", "schema"},
    {"events.play.u1", "{}", "schema"},
    {"events.play.u1", "{\"title\":7}", "schema"},
    {"events.play.u1", "{\"title\":\"t1\",\"progress\":1.5}", "schema"},
    {"events.play.u1", "{\"title\":\"t1\",\"progress\":\"full\"}", "schema"},
    {"events.play.u1", "{\"title\":\"t1\",\"ts\":1.5}", "schema"},
    {"events.play.u1", "{\"title\":\"t1\",\"ts\":-5}", "schema"},
    {"events.play.u1", "{\"title\":\"t1\",\"region\":5}", "schema"},
    {"events.impression.u1", "{\"title\":\"t1\",\"position\":-1}", "schema"},
    {"events.feedback.u1", "{\"title\":\"t1\",\"value\":0}", "schema"},
    {"events.feedback.u1", "{\"title\":\"t1\"}", "schema"},
    {"events.feedback.u1", "{\"title\":\"t1\",\"value\":2}", "schema"},
    {"events.rating.u1", "{\"title\":\"t1\"}", "schema"},
    {"catalog.t1", "{\"genres\":\"Drama\"}", "schema"},
    {"catalog.t1", "{\"min_age\":-3}", "schema"},
    {"catalog.t1", "{\"available\":\"yes\"}", "schema"},
    {"profile.u1", "{\"max_age\":\"twelve\"}", "schema"},
    {"events.play.u1", "{\"title\":\"bad title\"}", "id"},
    {"events.play.u1", "{\"title\":\"" + std::string(65, 'x') + "\"}", "id"},
    {"events.play.u1.extra", "{\"title\":\"t1\"}", "id"},
    {"events.play.u\xc3\xa9", "{\"title\":\"t1\"}", "id"},
    {"catalog.t1.x", "{}", "id"},
    {"events.play.u1",
     "{\"title\":\"t1\",\"pad\":\"" + std::string(70000, 'p') + "\"}", "size"},
    {"events.play.u1", "{\"title\":\"t1\",\"ts\":" + far_future + "}", "time"},
  };
  for (const auto& c : cases)
    h.publish(c.tail, c.body);
  auto letters = collect(*watcher, cases.size());
  for (const auto& c : cases) {
    INFO(c.tail << " " << c.body.substr(0, 60));
    auto letter = take_letter(letters, h.subject(c.tail), c.body);
    CHECK(letter.subject == std::string{"marquee.v1.dlq."} + c.reason);
    CHECK_FALSE(letter.header("Marquee-Error").empty());
  }
  CHECK_FALSE(watcher->next(std::chrono::milliseconds{100}).has_value());
  auto stats = h.ask_v1("admin.it1.stats");
  auto& dlq = stats.json["dlq"];
  std::map<std::string, uint64_t> expected;
  for (const auto& c : cases)
    expected[c.reason] += 1;
  for (const auto& [reason, n] : expected) {
    INFO(reason);
    CHECK(dlq[reason.c_str()].GetUint64() == n);
  }
  // Nothing was applied.
  CHECK(stats.json["events"]["play"].GetUint64() == 0);
  CHECK(h.ask_v1("admin.it1.actors").json["user"].GetUint64() == 0);
}

TEST_CASE("valid events with unknown fields, nulls and no ts are accepted",
          "[integration][dlq]") {
  harness h;
  h.publish("events.play.u1", "{\"title\":\"t1\",\"extra\":{\"a\":[1]},"
                              "\"region\":null}");
  h.publish("catalog.t1", "{}");
  h.publish("profile.u1", "{}");
  h.await_events(3);
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["events"]["play"].GetUint64() == 1);
  CHECK(stats.json["events"]["catalog"].GetUint64() == 1);
  CHECK(stats.json["events"]["profile"].GetUint64() == 1);
  uint64_t rejected = 0;
  for (auto& kv : stats.json["dlq"].GetObject())
    rejected += kv.value.GetUint64();
  CHECK(rejected == 0);
}
