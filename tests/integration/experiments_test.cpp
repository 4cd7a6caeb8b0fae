#include "harness.hpp"

#include "domain/experiments.hpp"

#include <string>
#include <vector>

using namespace marquee;
using namespace marquee::testing;

namespace {

std::vector<std::pair<std::string, std::string>> two_variants() {
  return {{"experiments.variants", "control:1,b:1"},
          {"experiments.salt", "test-salt"},
          {"experiments.attribution", "1h"},
          {"variant.b.diversity", "0"},
          {"variant.b.seeds", "1"}};
}

} // namespace

TEST_CASE("each user gets the variant of the hash of their id, the reply "
          "names it, and a request may force one",
          "[integration][experiments]") {
  harness h{two_variants()};
  experiment_params p;
  p.variants = {{"control", 1, {}}, {"b", 1, {}}};
  p.salt = "test-salt";
  std::vector<int> seen(2, 0);
  for (int i = 0; i < 40; ++i) {
    auto user = "m" + std::to_string(i);
    auto r = h.ask_v1("rec.user." + user, "{\"k\":3}");
    INFO(r.msg.body);
    REQUIRE(r.error_code() == 0);
    auto expected = p.assign(user);
    CHECK(std::string{r.json["variant"].GetString()} ==
          p.variants[expected].name);
    ++seen[expected];
    auto forced = h.ask_v1("rec.user." + user, "{\"variant\":\"b\"}");
    CHECK(std::string{forced.json["variant"].GetString()} == "b");
  }
  CHECK(seen[0] > 5);
  CHECK(seen[1] > 5);
  auto bad = h.ask_v1("rec.user.m1", "{\"variant\":\"c\"}");
  CHECK(bad.error_code() == 400);
  CHECK_THAT(bad.json["error"]["message"].GetString(),
             Catch::Contains("control, b"));
}

TEST_CASE("admin stats count per variant the requests, the titles "
          "recommended and the plays of them within the hour after",
          "[integration][experiments]") {
  harness h{two_variants()};
  int64_t at = 1'700'000'000'000;
  // The crowd makes t1..t5 trending; u1 has played t1.
  uint64_t events = 0;
  for (int t = 1; t <= 5; ++t) {
    h.publish("catalog.t" + std::to_string(t),
              "{\"name\":\"T\",\"genres\":[\"Drama\"]}");
    ++events;
  }
  for (int u = 0; u < 5; ++u)
    for (int t = 1; t <= 5; ++t) {
      h.publish("events.play.c" + std::to_string(u),
                "{\"title\":\"t" + std::to_string(t) +
                  "\",\"progress\":1,\"ts\":" + std::to_string(at) + "}");
      ++events;
    }
  h.publish("events.play.u1", "{\"title\":\"t1\",\"progress\":1,\"ts\":" +
                                std::to_string(at) + "}");
  ++events;
  h.await_events(events);
  auto r = h.ask_v1("rec.user.u1",
                    "{\"variant\":\"b\",\"row\":\"trending\",\"k\":2,\"at\":" +
                      std::to_string(at + 1000) + "}");
  INFO(r.msg.body);
  REQUIRE(r.json["items"].Size() == 2);
  std::string first = r.json["items"][0]["title"].GetString();
  // Not recommended: t1 again; recommended: `first`, 10 minutes later.
  h.publish("events.play.u1", "{\"title\":\"t1\",\"progress\":1,\"ts\":" +
                                std::to_string(at + 2000) + "}");
  h.publish("events.play.u1", "{\"title\":\"" + first +
                                "\",\"progress\":0.1,\"ts\":" +
                                std::to_string(at + 600'000) + "}");
  events += 2;
  h.await_events(events);
  auto plays_of_b = [&] {
    auto s = h.ask_v1("admin.it1.stats");
    return s.json["experiments"]["b"]["plays"].GetUint64();
  };
  CHECK(harness::eventually([&] { return plays_of_b() == 1; }));
  auto s = h.ask_v1("admin.it1.stats");
  INFO(s.msg.body);
  const auto& b = s.json["experiments"]["b"];
  CHECK(b["share"].GetUint() == 1);
  CHECK(b["requests"].GetUint64() == 1);
  CHECK(b["recommended"].GetUint64() == 2);
  CHECK(b["plays"].GetUint64() == 1);
  CHECK(b["play_through"].GetDouble() == Approx(0.5));
  const auto& control = s.json["experiments"]["control"];
  CHECK(control["requests"].GetUint64() == 0);
  CHECK(control["plays"].GetUint64() == 0);
}
