// The `marquee` executable as operators run it: embedded default, readiness,
// SIGTERM, exit codes.

#include "harness.hpp"

#include "tests/support/process.hpp"

#include <csignal>
#include <fstream>

using namespace marquee;
using namespace marquee::testing;

TEST_CASE("marquee serve starts its embedded nats-server, answers, and stops "
          "with exit 0 on SIGTERM",
          "[integration][process]") {
  temp_dir dir;
  auto port = free_port();
  auto url = "nats://127.0.0.1:" + std::to_string(port);
  child proc{{"serve", "--data-dir", (dir.path() / "data").string()},
             {"MARQUEE_NATS_PORT=" + std::to_string(port)},
             dir.path()};
  auto client = await_ready(url);
  INFO(proc.err());
  REQUIRE(client != nullptr);
  std::string error;
  auto reply = client->request("marquee.v1.rec.trending", "{}",
                               std::chrono::milliseconds{2000}, error);
  REQUIRE(reply.has_value());
  CHECK(reply->body.find("\"items\":[]") != std::string::npos);
  CHECK(std::filesystem::exists(dir.path() / "data" / "nats"));
  client.reset();
  proc.signal(SIGTERM);
  CHECK(proc.wait(std::chrono::milliseconds{15000}) == 0);
  // The embedded server stopped with the service.
  CHECK(nats_client::connect(url, error) == nullptr);
}

TEST_CASE("marquee demo loads a catalog and events that recommendations use",
          "[integration][process]") {
  temp_dir dir;
  auto port = free_port();
  auto url = "nats://127.0.0.1:" + std::to_string(port);
  child proc{{"demo", "--data-dir", (dir.path() / "data").string()},
             {"MARQUEE_NATS_PORT=" + std::to_string(port)},
             dir.path()};
  auto client = await_ready(url);
  REQUIRE(client != nullptr);
  std::string error;
  bool served = harness::eventually(
    [&] {
      auto r = client->request("marquee.v1.rec.user.u1", "{\"k\":5}",
                               std::chrono::milliseconds{2000}, error);
      return r && r->body.find("\"reason\":\"trending\"") != std::string::npos;
    },
    std::chrono::milliseconds{15000});
  INFO(proc.err());
  CHECK(served);
  CHECK(harness::eventually(
    [&] { return proc.out().find("marquee request") != std::string::npos; }));
  auto events_of_u1 = [&] {
    auto r = client->request("marquee.v1.admin.all.user", R"({"id":"u1"})",
                             std::chrono::milliseconds{2000}, error);
    rapidjson::Document d;
    return r && !d.Parse(r->body.c_str()).HasParseError() &&
               d.HasMember("events")
             ? d["events"].GetUint64()
             : 0;
  };
  // Once ingest has applied everything the demo published.
  auto position = [&] {
    auto r = client->request("marquee.v1.admin.all.stats", "",
                             std::chrono::milliseconds{2000}, error);
    rapidjson::Document d;
    return r && !d.Parse(r->body.c_str()).HasParseError()
             ? d["ingest"]["position"].GetUint64()
             : 0;
  };
  CHECK(harness::eventually(
    [&] {
      auto now = position();
      std::this_thread::sleep_for(std::chrono::milliseconds{300});
      return now > 0 && position() == now;
    },
    std::chrono::milliseconds{10000}));
  auto before = events_of_u1();
  CHECK(before > 0);
  client.reset();
  proc.signal(SIGINT);
  CHECK(proc.wait(std::chrono::milliseconds{15000}) == 0);
  // A second demo on the same data directory replays the stream and adds
  // nothing: u1 has the same events, not twice as many.
  temp_dir again_out;
  child again{{"demo", "--data-dir", (dir.path() / "data").string()},
              {"MARQUEE_NATS_PORT=" + std::to_string(port)},
              again_out.path()};
  client = await_ready(url);
  REQUIRE(client != nullptr);
  CHECK(harness::eventually(
    [&] { return again.out().find("already holds") != std::string::npos; }));
  uint64_t after = 0;
  CHECK(
    harness::eventually([&] { return (after = events_of_u1()) == before; }));
  CHECK(after == before);
  client.reset();
  again.signal(SIGINT);
  CHECK(again.wait(std::chrono::milliseconds{15000}) == 0);
}

TEST_CASE("bad configuration fails at once with a one-line reason",
          "[integration][process]") {
  temp_dir dir;
  {
    std::ofstream cfg{dir.path() / "bad.toml"};
    cfg << "[impressions]\nwindows = [\"1d\", \"fortnight\"]\n";
  }
  child bad_window{
    {"serve", "--config", (dir.path() / "bad.toml").string()}, {}, dir.path()};
  CHECK(bad_window.wait(std::chrono::milliseconds{10000}) == 1);
  CHECK(bad_window.err().find("fortnight") != std::string::npos);
  child bad_env{{"serve"}, {"MARQUEE_TRENDING_WINDOWZ=1h"}, dir.path()};
  CHECK(bad_env.wait(std::chrono::milliseconds{10000}) == 2);
  CHECK(bad_env.err().find("MARQUEE_TRENDING_WINDOWZ") != std::string::npos);
  child bad_size{{"serve"}, {"MARQUEE_STREAM_MAX_BYTES=0"}, dir.path()};
  CHECK(bad_size.wait(std::chrono::milliseconds{10000}) == 1);
  CHECK(bad_size.err().find("stream.max_bytes") != std::string::npos);
  child help{{"serve", "--help"}, {}, dir.path()};
  CHECK(help.wait(std::chrono::milliseconds{10000}) == 0);
  CHECK(help.out().find("--nats-url") != std::string::npos);
}

TEST_CASE("the embedded nats-server dies with marquee, even on kill -9",
          "[integration][process]") {
  temp_dir dir;
  auto port = free_port();
  auto url = "nats://127.0.0.1:" + std::to_string(port);
  child proc{{"serve", "--data-dir", (dir.path() / "data").string()},
             {"MARQUEE_NATS_PORT=" + std::to_string(port)},
             dir.path()};
  REQUIRE(await_ready(url) != nullptr);
  proc.signal(SIGKILL);
  CHECK(proc.wait(std::chrono::milliseconds{5000}) == 128 + SIGKILL);
  CHECK(harness::eventually(
    [&] {
      std::string error;
      return nats_client::connect(url, error) == nullptr;
    },
    std::chrono::milliseconds{10000}));
}

TEST_CASE("a second durable instance on the same data directory fails within "
          "a second, naming the first",
          "[integration][process][durable]") {
  temp_dir dir;
  auto port = free_port();
  auto url = "nats://127.0.0.1:" + std::to_string(port);
  auto data = (dir.path() / "data").string();
  child first{{"serve", "--data-dir", data},
              {"MARQUEE_NATS_PORT=" + std::to_string(port),
               "MARQUEE_INGEST_MODE=durable"},
              dir.path()};
  REQUIRE(await_ready(url) != nullptr);
  auto started = std::chrono::steady_clock::now();
  temp_dir other_out;
  child second{{"serve", "--data-dir", data, "--nats-url", url},
               {"MARQUEE_INGEST_MODE=durable"},
               other_out.path()};
  CHECK(second.wait(std::chrono::milliseconds{5000}) == 1);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{1});
  CHECK_THAT(second.err(),
             Catch::Contains("in use by another marquee process") &&
               Catch::Contains("pid"));
  // The first one is unharmed and stops cleanly.
  std::string error;
  auto client = nats_client::connect(url, error);
  REQUIRE(client);
  CHECK(client->request("$SRV.PING.marquee", "",
                        std::chrono::milliseconds{1000}, error));
  client.reset();
  first.signal(SIGTERM);
  CHECK(first.wait(std::chrono::milliseconds{15000}) == 0);
}

namespace {

/// The items of a `rec.similar` reply as sorted "title=score" lines: equal
/// scores may come in another order in another process (ties go by
/// interned key).
std::string scored_items(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.HasMember("items"))
    return "not a similar reply: " + body;
  std::vector<std::string> lines;
  for (const auto& item : d["items"].GetArray())
    lines.push_back(std::string{item["title"].GetString()} + "=" +
                    std::to_string(item["score"].GetDouble()));
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines)
    out += l + "\n";
  return out;
}

} // namespace

TEST_CASE("after kill -9 in durable mode, state comes back from the last "
          "checkpoint plus the stream after it: nothing lost, nothing twice",
          "[integration][process][durable][crash]") {
  temp_dir dir;
  auto port = free_port();
  auto url = "nats://127.0.0.1:" + std::to_string(port);
  auto data = (dir.path() / "data").string();
  const std::vector<std::string> env = {
    "MARQUEE_NATS_PORT=" + std::to_string(port), "MARQUEE_INGEST_MODE=durable",
    "MARQUEE_CHECKPOINT_EVENTS=1000", "MARQUEE_CHECKPOINT_INTERVAL_MS=600000",
    "MARQUEE_SERVICE_INSTANCE_ID=c1",
    // One user's plays: every pair is seen once.
    "MARQUEE_SIMILARITY_MIN_SUPPORT=1"};
  auto stat = [&](nats_client& c, const std::string& field) -> uint64_t {
    std::string error;
    auto r = c.request("marquee.v1.admin.c1.stats", "",
                       std::chrono::milliseconds{2000}, error);
    if (!r)
      return 0;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    return d["ingest"][field.c_str()].GetUint64();
  };
  uint64_t checkpoint = 0;
  std::vector<std::string> similar_before;
  {
    child first{{"serve", "--data-dir", data}, env, dir.path()};
    auto client = await_ready(url);
    REQUIRE(client != nullptr);
    std::string error;
    auto play = [&](int from, int to) {
      for (int i = from; i < to; ++i)
        REQUIRE(client->publish("marquee.v1.events.play.u1",
                                R"({"title":"t)" + std::to_string(i) +
                                  R"(","ts":)" +
                                  std::to_string(1700000000000 + i) + "}",
                                error));
      REQUIRE(client->flush(std::chrono::milliseconds{5000}, error));
      REQUIRE(harness::eventually(
        [&] { return stat(*client, "position") == static_cast<uint64_t>(to); },
        std::chrono::milliseconds{15000}));
    };
    // A checkpoint at exactly 30 (taken on request: the event count and the
    // interval are set beyond reach), then 5 events only the stream holds.
    play(0, 30);
    auto snap = client->request("marquee.v1.admin.c1.snapshot", "",
                                std::chrono::milliseconds{10000}, error);
    REQUIRE(snap);
    INFO(snap->body);
    REQUIRE(stat(*client, "checkpoint") == 30);
    play(30, 35);
    checkpoint = stat(*client, "checkpoint");
    REQUIRE(checkpoint == 30);
    // Item similarity as of all 35 plays: the checkpoint's 30, and 5 more
    // only in memory.
    REQUIRE(
      harness::eventually([&] { return stat(*client, "applied") == 35; }));
    for (const char* title : {"t10", "t33"}) {
      auto r =
        client->request(std::string{"marquee.v1.rec.similar."} + title,
                        R"({"k":50})", std::chrono::milliseconds{2000}, error);
      REQUIRE(r);
      similar_before.push_back(scored_items(r->body));
    }
    first.signal(SIGKILL);
    CHECK(first.wait(std::chrono::milliseconds{5000}) == 128 + SIGKILL);
  }
  // The embedded nats-server goes down with marquee (it flushes its store
  // on the way, holding the port a moment): the next start waits for the
  // port and brings up a new server on the same store.
  temp_dir out;
  child second{{"serve", "--data-dir", data}, env, out.path()};
  auto client = await_ready(url);
  INFO(second.err());
  REQUIRE(client != nullptr);
  bool caught =
    harness::eventually([&] { return stat(*client, "position") == 35; },
                        std::chrono::milliseconds{10000});
  if (!caught) {
    std::string e;
    auto r = client->request("marquee.v1.admin.c1.stats", "",
                             std::chrono::milliseconds{2000}, e);
    INFO((r ? r->body : e) << "\n" << second.err() << second.out());
    REQUIRE(caught);
  }
  std::string error;
  auto stats = client->request("marquee.v1.admin.c1.stats", "",
                               std::chrono::milliseconds{2000}, error);
  REQUIRE(stats);
  rapidjson::Document d;
  d.Parse(stats->body.c_str());
  // Only the events after the checkpoint were replayed.
  CHECK(d["events"]["play"].GetUint64() == 35 - checkpoint);
  auto user = client->request("marquee.v1.admin.all.user", R"({"id":"u1"})",
                              std::chrono::milliseconds{2000}, error);
  REQUIRE(user);
  rapidjson::Document u;
  u.Parse(user->body.c_str());
  CHECK(u["events"].GetUint64() == 35);
  CHECK(u["applied_through"].GetUint64() == 35);
  CHECK(u["watched"].Size() == 35);
  // Item similarity: stored at the checkpoint, the rest replayed, exactly.
  std::vector<std::string> similar_after;
  for (const char* title : {"t10", "t33"}) {
    auto r =
      client->request(std::string{"marquee.v1.rec.similar."} + title,
                      R"({"k":50})", std::chrono::milliseconds{2000}, error);
    REQUIRE(r);
    similar_after.push_back(scored_items(r->body));
  }
  CHECK(similar_after == similar_before);
  CHECK(similar_before[1].find("t32=") != std::string::npos);
  client.reset();
  second.signal(SIGTERM);
  CHECK(second.wait(std::chrono::milliseconds{15000}) == 0);
}

TEST_CASE("after kill -9, a replay sends no dead letter twice: the "
          "dead-letter stream holds each bad event once",
          "[integration][process][durable][crash][dlq]") {
  temp_dir dir;
  auto port = free_port();
  auto url = "nats://127.0.0.1:" + std::to_string(port);
  auto data = (dir.path() / "data").string();
  const std::vector<std::string> env = {
    "MARQUEE_NATS_PORT=" + std::to_string(port),
    "MARQUEE_CHECKPOINT_EVENTS=100000", "MARQUEE_CHECKPOINT_INTERVAL_MS=600000",
    "MARQUEE_SERVICE_INSTANCE_ID=c1"};
  auto stats = [&](nats_client& c) {
    std::string error;
    auto r = c.request("marquee.v1.admin.c1.stats", "",
                       std::chrono::milliseconds{2000}, error);
    rapidjson::Document d;
    d.Parse(r ? r->body.c_str() : "{}");
    return d;
  };
  auto position = [&](nats_client& c) -> uint64_t {
    auto d = stats(c);
    return d.HasMember("ingest") ? d["ingest"]["position"].GetUint64() : 0;
  };
  auto dead_letters_stored = [&](nats_client& c) -> int64_t {
    std::string error;
    auto r = c.request("$JS.API.STREAM.INFO.MARQUEE_DLQ", "",
                       std::chrono::milliseconds{2000}, error);
    if (!r)
      return -1;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    return d.HasMember("state") ? d["state"]["messages"].GetInt64() : -1;
  };
  constexpr int bad = 20;
  {
    child first{{"serve", "--data-dir", data}, env, dir.path()};
    auto client = await_ready(url);
    REQUIRE(client != nullptr);
    std::string error;
    for (int i = 0; i < 5; ++i)
      REQUIRE(client->publish("marquee.v1.events.play.u1",
                              R"({"title":"t)" + std::to_string(i) + R"("})",
                              error));
    REQUIRE(harness::eventually([&] { return position(*client) == 5; }));
    REQUIRE(client->request("marquee.v1.admin.c1.snapshot", "",
                            std::chrono::milliseconds{10000}, error));
    // After the checkpoint: bad events among good ones, only in the stream.
    for (int i = 0; i < bad; ++i) {
      REQUIRE(
        client->publish("marquee.v1.events.play.u1", "{\"title\":", error));
      REQUIRE(client->publish("marquee.v1.events.play.u2", R"({"title":"t1"})",
                              error));
    }
    REQUIRE(
      harness::eventually([&] { return position(*client) == 5 + 2 * bad; }));
    REQUIRE(
      harness::eventually([&] { return dead_letters_stored(*client) == bad; }));
    first.signal(SIGKILL);
    CHECK(first.wait(std::chrono::milliseconds{5000}) == 128 + SIGKILL);
  }
  temp_dir out;
  child second{{"serve", "--data-dir", data}, env, out.path()};
  auto client = await_ready(url);
  INFO(second.err());
  REQUIRE(client != nullptr);
  REQUIRE(harness::eventually([&] { return position(*client) == 5 + 2 * bad; },
                              std::chrono::milliseconds{10000}));
  // The replay decoded and counted the bad events again, and sent none.
  auto d = stats(*client);
  CHECK(d["dlq"]["json"].GetUint64() == bad);
  CHECK(d["dlq_already_sent"].GetUint64() == bad);
  CHECK(dead_letters_stored(*client) == bad);
  // A new bad event is sent, with the next sequence as its identity.
  std::string error;
  REQUIRE(client->publish("marquee.v1.events.play.u1", "[]", error));
  CHECK(harness::eventually(
    [&] { return dead_letters_stored(*client) == bad + 1; }));
  client.reset();
  second.signal(SIGTERM);
  CHECK(second.wait(std::chrono::milliseconds{15000}) == 0);
}
