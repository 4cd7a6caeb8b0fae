#include "harness.hpp"

#include <algorithm>
#include <cmath>

using namespace marquee::testing;

namespace {

constexpr int64_t hour = 3600 * 1000;
constexpr int64_t day = 24 * hour;

std::vector<std::string> titles_of(const rapidjson::Value& items) {
  std::vector<std::string> out;
  for (auto& item : items.GetArray())
    out.emplace_back(item["title"].GetString());
  return out;
}

bool has(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

TEST_CASE("the service answers $SRV.PING with the micro ping document",
          "[integration][srv]") {
  harness h;
  for (auto subject :
       {"$SRV.PING", "$SRV.PING.marquee", "$SRV.PING.marquee.it1"}) {
    auto r = h.ask(subject);
    CHECK(std::string{r.json["type"].GetString()} ==
          "io.nats.micro.v1.ping_response");
    CHECK(std::string{r.json["name"].GetString()} == "marquee");
    CHECK(std::string{r.json["id"].GetString()} == "it1");
    CHECK(r.json["metadata"].IsObject());
  }
}

TEST_CASE("$SRV.INFO and $SRV.STATS list the four endpoints in queue group q",
          "[integration][srv]") {
  harness h;
  auto info = h.ask("$SRV.INFO.marquee");
  CHECK(std::string{info.json["type"].GetString()} ==
        "io.nats.micro.v1.info_response");
  REQUIRE(info.json["endpoints"].Size() == 4);
  std::vector<std::string> names;
  for (auto& ep : info.json["endpoints"].GetArray()) {
    names.emplace_back(ep["name"].GetString());
    CHECK(std::string{ep["queue_group"].GetString()} == "q");
  }
  CHECK(names == std::vector<std::string>{"recommend", "similar", "trending",
                                          "impressions"});
  h.ask_v1("rec.trending", "{\"k\":0}");
  auto stats = h.ask("$SRV.STATS.marquee.it1");
  CHECK(std::string{stats.json["type"].GetString()} ==
        "io.nats.micro.v1.stats_response");
  CHECK(stats.json["started"].IsString());
  auto& trending = stats.json["endpoints"][2];
  CHECK(trending["num_requests"].GetUint64() == 1);
  CHECK(trending["num_errors"].GetUint64() == 1);
  CHECK(std::string{trending["last_error"].GetString()}.rfind("400:", 0) == 0);
  CHECK(trending["processing_time"].IsInt64());
}

TEST_CASE("a play, a partial play, a thumb and a profile show in the user's "
          "admin state",
          "[integration][events]") {
  harness h;
  auto t0 = now_ms() - hour;
  h.publish("events.play.u1",
            "{\"title\":\"t1\",\"ts\":" + std::to_string(t0) + "}");
  h.publish("events.play.u1", "{\"title\":\"t2\",\"ts\":" +
                                std::to_string(t0 + 1) + ",\"progress\":0.4}");
  h.publish("events.feedback.u1", "{\"title\":\"t3\",\"value\":-1,\"ts\":" +
                                    std::to_string(t0) + "}");
  h.publish("profile.u1", "{\"max_age\":12,\"region\":\"GB\"}");
  h.await_events(4);
  auto r = h.ask_v1("admin.all.user", "{\"id\":\"u1\"}");
  INFO(r.msg.body);
  REQUIRE(r.json["watched"].Size() == 1);
  CHECK(std::string{r.json["watched"][0].GetString()} == "t1");
  CHECK(std::string{r.json["in_progress"][0]["title"].GetString()} == "t2");
  CHECK(std::string{r.json["recent_plays"][0]["title"].GetString()} == "t2");
  CHECK(r.json["feedback"][0]["value"].GetInt() == -1);
  CHECK(r.json["profile"]["max_age"].GetInt() == 12);
  CHECK(std::string{r.json["profile"]["region"].GetString()} == "GB");
  CHECK(r.json["events"].GetUint64() == 4);
}

TEST_CASE("impression history equals the contract's sum for configured and "
          "on-the-fly windows",
          "[integration][impressions]") {
  harness h;
  auto at = now_ms();
  std::vector<int64_t> ts = {at - 3 * hour, at - 2 * day, at - 20 * 60000,
                             at - 5 * hour};
  for (auto t : ts)
    h.publish("events.impression.u7",
              "{\"title\":\"t9\",\"row\":\"home\",\"position\":2,\"ts\":" +
                std::to_string(t) + "}");
  h.await_events(ts.size());
  auto r = h.ask_v1(
    "impressions.u7",
    "{\"windows\":[\"1d\",\"7d\",\"10m\"],\"at\":" + std::to_string(at) + "}");
  INFO(r.msg.body);
  REQUIRE(r.error_code() == 0);
  REQUIRE(r.json["items"].Size() == 1);
  auto& item = r.json["items"][0];
  CHECK(item["count"].GetUint() == 4);
  CHECK(item["last_ts"].GetInt64() == at - 20 * 60000);
  auto literal = [&](int64_t w, bool lookback) {
    double sum = 0;
    for (auto t : ts)
      if (!lookback || at - t <= 10 * w)
        sum += std::pow(0.5, static_cast<double>(at - t) / w);
    return sum;
  };
  CHECK(item["ema"]["1d"].GetDouble() ==
        Approx(literal(day, false)).epsilon(1e-9));
  CHECK(item["ema"]["7d"].GetDouble() ==
        Approx(literal(7 * day, false)).epsilon(1e-9));
  CHECK(item["ema"]["10m"].GetDouble() ==
        Approx(literal(10 * 60000, true)).epsilon(1e-9));
}

TEST_CASE("impression history refuses what it cannot answer, with a 400 that "
          "says why",
          "[integration][impressions]") {
  harness h{{{"impressions.raw_max", "2"}}};
  auto at = now_ms();
  for (int i = 0; i < 3; ++i)
    h.publish(
      "events.impression.u8",
      "{\"title\":\"t1\",\"ts\":" + std::to_string(at - (3 - i) * hour) + "}");
  h.await_events(3);
  auto before =
    h.ask_v1("impressions.u8", "{\"at\":" + std::to_string(at - 2 * day) + "}");
  CHECK(before.error_code() == 400);
  CHECK(std::string{before.json["error"]["message"].GetString()}.find(
          "newest") != std::string::npos);
  auto uncovered = h.ask_v1("impressions.u8", "{\"windows\":[\"2h\"]}");
  CHECK(uncovered.error_code() == 400);
  std::string msg = uncovered.json["error"]["message"].GetString();
  CHECK(msg.find("1d, 7d, 30d, 180d, 365d") != std::string::npos);
  CHECK(uncovered.msg.header("Nats-Service-Error") == msg);
  auto bad = h.ask_v1("impressions.u8", "{\"windows\":[\"2x\"]}");
  CHECK(bad.error_code() == 400);
  auto unknown = h.ask_v1("impressions.nobody");
  CHECK(unknown.error_code() == 0);
  CHECK(unknown.json["items"].Size() == 0);
}

TEST_CASE("trending ranks titles by decayed plays, per window and region",
          "[integration][trending]") {
  harness h;
  auto at = now_ms();
  h.publish("catalog.tA", "{\"name\":\"A\",\"genres\":[\"Comedy\"]}");
  h.publish("catalog.tB", "{\"name\":\"B\",\"genres\":[\"Drama\"]}");
  h.publish("catalog.tC", "{\"name\":\"C\",\"genres\":[\"Drama\"],"
                          "\"available\":false}");
  int n = 3;
  for (int i = 0; i < 3; ++i)
    h.publish("events.play.v" + std::to_string(i),
              "{\"title\":\"tB\",\"region\":\"US\",\"ts\":" +
                std::to_string(at - hour) + "}");
  for (int i = 0; i < 2; ++i)
    h.publish("events.play.w" + std::to_string(i),
              "{\"title\":\"tA\",\"region\":\"GB\",\"ts\":" +
                std::to_string(at - hour) + "}");
  for (int i = 0; i < 5; ++i)
    h.publish("events.play.x" + std::to_string(i),
              "{\"title\":\"tC\",\"ts\":" + std::to_string(at - hour) + "}");
  h.await_events(n + 3 + 2 + 5);
  auto r =
    h.ask_v1("rec.trending",
             "{\"k\":5,\"window\":\"1h\",\"at\":" + std::to_string(at) + "}");
  INFO(r.msg.body);
  CHECK(std::string{r.json["window"].GetString()} == "1h");
  CHECK(titles_of(r.json["items"]) == std::vector<std::string>{"tB", "tA"});
  CHECK(r.json["items"][0]["score"].GetDouble() == Approx(1.5));
  CHECK(r.json["items"][0]["plays"].GetUint64() == 3);
  auto gb = h.ask_v1("rec.trending", "{\"region\":\"GB\"}");
  CHECK(titles_of(gb.json["items"]) == std::vector<std::string>{"tA"});
  auto drama = h.ask_v1("rec.trending", "{\"genres\":[\"Drama\"]}");
  CHECK(titles_of(drama.json["items"]) == std::vector<std::string>{"tB"});
  auto bad = h.ask_v1("rec.trending", "{\"window\":\"2h\"}");
  CHECK(bad.error_code() == 400);
  CHECK(std::string{bad.json["error"]["message"].GetString()}.find(
          "1h, 1d, 7d") != std::string::npos);
}

TEST_CASE("recommendations never show watched, thumbed-down, too-old, "
          "out-of-region, unavailable or excluded titles",
          "[integration][rec]") {
  harness h;
  auto at = now_ms() - hour;
  // Titles t0..t7; t5 is for adults, t6 only in GB, t7 withdrawn.
  for (int t = 0; t < 8; ++t) {
    std::string body = "{\"name\":\"T" + std::to_string(t) +
                       "\",\"genres\":[\"" + (t % 2 ? "Drama" : "Comedy") +
                       "\"]";
    if (t == 5)
      body += ",\"min_age\":18";
    if (t == 6)
      body += ",\"regions\":[\"GB\"]";
    if (t == 7)
      body += ",\"available\":false";
    h.publish("catalog.t" + std::to_string(t), body + "}");
  }
  // Everyone else plays every title, so all are trending.
  int events = 8;
  for (int u = 0; u < 3; ++u)
    for (int t = 0; t < 8; ++t, ++events)
      h.publish("events.play.crowd" + std::to_string(u),
                "{\"title\":\"t" + std::to_string(t) +
                  "\",\"ts\":" + std::to_string(at) + "}");
  h.publish("profile.kid", "{\"max_age\":12,\"region\":\"US\"}");
  h.publish("events.play.kid",
            "{\"title\":\"t0\",\"ts\":" + std::to_string(at) + "}");
  h.publish("events.play.kid", "{\"title\":\"t1\",\"progress\":0.5,\"ts\":" +
                                 std::to_string(at + 1) + "}");
  h.publish("events.feedback.kid", "{\"title\":\"t2\",\"value\":-1,\"ts\":" +
                                     std::to_string(at) + "}");
  events += 4;
  h.await_events(events);
  auto home = h.ask_v1("rec.user.kid", "{\"k\":10,\"exclude\":[\"t3\"]}");
  INFO(home.msg.body);
  REQUIRE(home.error_code() == 0);
  auto got = titles_of(home.json["items"]);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"t1", "t4"});
  // The crowd co-played everything: t4 comes as similar to the kid's plays,
  // t1 (in progress, so not watched) as trending to fill the row.
  CHECK_FALSE(home.json["fallback"].GetBool());
  CHECK(std::string{home.json["row"].GetString()} == "home");
  CHECK(std::string{home.json["variant"].GetString()} == "control");
  CHECK(std::string{home.json["items"][0]["reason"].GetString()} ==
        "because_you_watched");
  auto trending = h.ask_v1("rec.user.kid", "{\"row\":\"trending\"}");
  CHECK_FALSE(trending.json["fallback"].GetBool());
  CHECK(titles_of(trending.json["items"]) ==
        std::vector<std::string>{"t1", "t3", "t4"});
  auto comedy = h.ask_v1("rec.user.kid", "{\"genres\":[\"Comedy\"]}");
  CHECK(titles_of(comedy.json["items"]) == std::vector<std::string>{"t4"});
  auto cw = h.ask_v1("rec.user.kid", "{\"row\":\"continue_watching\"}");
  CHECK(titles_of(cw.json["items"]) == std::vector<std::string>{"t1"});
  CHECK(std::string{cw.json["items"][0]["reason"].GetString()} ==
        "continue_watching");
  auto explained = h.ask_v1("rec.user.kid", "{\"explain\":true,\"k\":1}");
  CHECK(explained.json["items"][0]["features"].HasMember("similarity"));
  auto cold = h.ask_v1("rec.user.stranger", "{\"k\":3}");
  CHECK(cold.json["fallback"].GetBool());
  CHECK(cold.json["items"].Size() == 3);
  CHECK_FALSE(has(titles_of(cold.json["items"]), "t6"));
  CHECK_FALSE(has(titles_of(cold.json["items"]), "t7"));
}

TEST_CASE("bad requests get a 400 with the service error headers",
          "[integration][errors]") {
  harness h;
  for (auto [subject, body] : std::vector<std::pair<std::string, std::string>>{
         {"rec.user.u1", "{\"k\":0}"},
         {"rec.user.u1", "{\"k\":201}"},
         {"rec.user.u1", "{\"row\":\"sideways\"}"},
         {"rec.user.u1", "{\"exclude\":[\"bad id\"]}"},
         {"rec.user.u1", "{\"variant\":\"Z\"}"},
         {"rec.user.u1", "[1,2]"},
         {"rec.user.u1", "{not json"},
         {"rec.trending", "{\"k\":\"ten\"}"},
         {"impressions.u1", "{\"titles\":\"t1\"}"},
         {"impressions.u1", "{\"windows\":[]}"},
         {"rec.similar.t1", "{\"k\":-1}"},
       }) {
    auto r = h.ask_v1(subject, body);
    INFO(subject << " " << body << " -> " << r.msg.body);
    CHECK(r.error_code() == 400);
    CHECK(r.json["error"]["code"].GetInt() == 400);
    CHECK_FALSE(r.msg.header("Nats-Service-Error").empty());
  }
  auto similar = h.ask_v1("rec.similar.never_seen");
  CHECK(similar.error_code() == 404);
}

TEST_CASE("admin verbs report actors, title state and unknown targets",
          "[integration][admin]") {
  harness h;
  h.publish("catalog.t1", "{\"name\":\"One\",\"genres\":[\"Drama\"],"
                          "\"regions\":[\"US\"]}");
  h.publish("events.play.u1", "{\"title\":\"t1\",\"region\":\"US\"}");
  h.publish("events.impression.u1", "{\"title\":\"t1\"}");
  h.await_events(3);
  auto actors = h.ask_v1("admin.it1.actors");
  CHECK(actors.json["user"].GetUint64() == 1);
  CHECK(actors.json["title"].GetUint64() == 1);
  auto title = h.ask_v1("admin.all.title", "{\"id\":\"t1\"}");
  INFO(title.msg.body);
  CHECK(std::string{title.json["metadata"]["name"].GetString()} == "One");
  CHECK(title.json["plays"].GetUint64() == 1);
  CHECK(title.json["impressions"].GetUint64() == 1);
  CHECK(std::string{title.json["trending"][1]["region"].GetString()} == "US");
  CHECK(h.ask_v1("admin.all.user", "{\"id\":\"ghost\"}").error_code() == 404);
  CHECK(h.ask_v1("admin.all.user", "{}").error_code() == 400);
  CHECK(h.ask_v1("admin.all.reboot").error_code() == 404);
  CHECK(h.ask_v1("admin.it1.health").json["status"] == "ok");
}

TEST_CASE("trending is not taken back in time: an 'at' before the newest play "
          "is a 400, a default 'at' moves up to it",
          "[integration][trending]") {
  harness h;
  auto hour_ago = now_ms() - hour;
  h.publish("catalog.tF", "{\"name\":\"F\"}");
  h.publish("events.play.u1", "{\"title\":\"tF\"}");
  h.publish("events.feedback.u1", "{\"title\":\"tF\",\"value\":-1}");
  h.publish("events.feedback.u2", "{\"title\":\"tF\",\"value\":1}");
  h.await_applied(4);
  auto played = h.ask_v1("admin.all.title", "{\"id\":\"tF\"}")
                  .json["last_play_ts"]
                  .GetInt64();
  auto past =
    h.ask_v1("rec.trending", "{\"at\":" + std::to_string(hour_ago) + "}");
  CHECK(past.error_code() == 400);
  CHECK(std::string{past.json["error"]["message"].GetString()}.find(
          "newest applied play") != std::string::npos);
  auto rec_past =
    h.ask_v1("rec.user.u3", "{\"at\":" + std::to_string(hour_ago) + "}");
  CHECK(rec_past.error_code() == 400);
  auto current = h.ask_v1("rec.trending", "{\"window\":\"1h\"}");
  REQUIRE(current.error_code() == 0);
  CHECK(current.json["at"].GetInt64() >= played);
  CHECK(current.json["items"][0]["score"].GetDouble() <= 1.0);
  auto title = h.ask_v1("admin.all.title", "{\"id\":\"tF\"}");
  CHECK(title.json["thumbs_up"].GetUint64() == 1);
  CHECK(title.json["thumbs_down"].GetUint64() == 1);
}

TEST_CASE("a window named twice is answered once",
          "[integration][impressions]") {
  harness h;
  h.publish("events.impression.u1", "{\"title\":\"t1\"}");
  h.await_events(1);
  auto r = h.ask_v1("impressions.u1", "{\"windows\":[\"1d\",\"1d\",\"7d\"]}");
  REQUIRE(r.error_code() == 0);
  CHECK(r.json["items"][0]["ema"].MemberCount() == 2);
}

TEST_CASE("an impression stamped ahead of the server clock counts as of its "
          "arrival, and a default 'at' answers at once",
          "[integration][impressions]") {
  harness h;
  auto before = now_ms();
  h.publish("events.impression.u1",
            "{\"title\":\"t1\",\"ts\":" + std::to_string(before + hour) + "}");
  h.await_applied(1);
  auto r = h.ask_v1("impressions.u1");
  REQUIRE(r.error_code() == 0);
  auto last_ts = r.json["items"][0]["last_ts"].GetInt64();
  CHECK(last_ts >= before);
  CHECK(last_ts <= now_ms());
  CHECK(r.json["at"].GetInt64() <= now_ms());
  CHECK(r.json["items"][0]["ema"]["1d"].GetDouble() == Approx(1.0));
  auto explicit_past =
    h.ask_v1("impressions.u1", "{\"at\":" + std::to_string(last_ts - 1) + "}");
  CHECK(explicit_past.error_code() == 400);
}

TEST_CASE("after nats-server restarts, marquee reconnects, says so, and serves "
          "again",
          "[integration][nats]") {
  harness h;
  h.publish("events.play.u1", "{\"title\":\"t1\"}");
  h.await_events(1);
  h.restart_server();
  std::string body;
  bool back = harness::eventually(
    [&] {
      std::string error;
      auto msg = h.client().request("marquee.v1.admin.it1.health", "",
                                    std::chrono::milliseconds{500}, error);
      if (!msg)
        return false;
      body = msg->body;
      return body.find("\"status\":\"ok\"") != std::string::npos &&
             body.find("\"reconnects\":1") != std::string::npos;
    },
    std::chrono::milliseconds{20000});
  INFO(body);
  CHECK(back);
  // State survived in memory; new events are applied again.
  h.publish("events.play.u1", "{\"title\":\"t2\"}");
  h.await_events(2);
  auto r = h.ask_v1("admin.all.user", "{\"id\":\"u1\"}");
  CHECK(r.json["recent_plays"].Size() == 2);
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["nats"]["disconnects"].GetUint64() >= 1);
}

TEST_CASE("a title named only in feedback is known, as docs/wire.md says: its "
          "dump counts the thumbs and rec.similar answers with no items",
          "[integration][admin]") {
  harness h;
  h.publish("events.feedback.u1", R"({"title":"tf","value":1})");
  h.publish("events.feedback.u2", R"({"title":"tf","value":-1})");
  h.await_applied(2);
  auto dump = h.ask_v1("admin.it1.title", R"({"id":"tf"})");
  REQUIRE(dump.error_code() == 0);
  CHECK(dump.json["thumbs_up"].GetUint64() == 1);
  CHECK(dump.json["thumbs_down"].GetUint64() == 1);
  CHECK(dump.json["plays"].GetUint64() == 0);
  auto similar = h.ask_v1("rec.similar.tf");
  REQUIRE(similar.error_code() == 0);
  CHECK(similar.json["items"].Size() == 0);
  // A title no event named is a 404 on both.
  CHECK(h.ask_v1("admin.it1.title", R"({"id":"tz"})").error_code() == 404);
  CHECK(h.ask_v1("rec.similar.tz").error_code() == 404);
}
