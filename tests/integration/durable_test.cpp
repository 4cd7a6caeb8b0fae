// Durable ingest: events read from the JetStream stream, applied once, and
// rebuilt by replaying the stream after a restart.

#include "harness.hpp"

#include "wire/event_stream.hpp"

#include <nats/nats.h>

using namespace marquee;
using namespace marquee::testing;

namespace {

const std::vector<std::pair<std::string, std::string>> durable = {
  {"ingest.mode", "durable"}};

/// Publishes with a `Nats-Msg-Id`, as a producer that retries does.
void publish_with_id(harness& h, const std::string& tail,
                     const std::string& body, const std::string& id) {
  std::string error;
  REQUIRE(
    h.client().publish(h.subject(tail), body, {{"Nats-Msg-Id", id}}, error));
}

bool caught_up(harness& h) {
  auto r = h.ask_v1("admin.it1.stats");
  return r.json["ingest"]["caught_up"].GetBool();
}

} // namespace

TEST_CASE("in durable mode events come from the stream, a retried "
          "Nats-Msg-Id counts once, and rejects are dead-lettered",
          "[integration][durable]") {
  harness h{durable};
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(std::string{stats.json["ingest"]["mode"].GetString()} == "durable");
  publish_with_id(h, "events.play.u1", R"({"title":"t1","progress":0.5})",
                  "p-1");
  publish_with_id(h, "events.play.u1", R"({"title":"t1","progress":0.5})",
                  "p-1"); // the producer's retry
  publish_with_id(h, "events.play.u1", R"({"title":"t2"})", "p-2");
  h.publish("profile.u1", R"({"region":"GB"})");
  h.publish("events.play.u1", R"({"title":"bad id"})");
  h.await_events(4);
  auto u = h.ask_v1("admin.all.user", R"({"id":"u1"})");
  INFO(u.msg.body);
  CHECK(u.json["recent_plays"].Size() == 2);
  // Stream sequences: 1 and 2 the plays (the retry stored once), 3 the
  // profile, 4 the rejected play.
  CHECK(u.json["applied_through"].GetUint64() == 3);
  CHECK(std::string{u.json["profile"]["region"].GetString()} == "GB");
  auto after = h.ask_v1("admin.it1.stats");
  CHECK(after.json["dlq"]["id"].GetUint64() == 1);
  CHECK(after.json["ingest"]["position"].GetUint64() == 4);
}

TEST_CASE("a graceful stop in durable mode checkpoints every actor; the "
          "next start restores them and replays nothing already applied",
          "[integration][durable]") {
  harness h{durable};
  for (int i = 0; i < 50; ++i)
    h.publish("events.play.u" + std::to_string(i % 5),
              R"({"title":"t)" + std::to_string(i % 7) + R"("})");
  h.publish("catalog.t1", R"({"name":"One"})");
  h.await_events(51);
  auto before = h.ask_v1("admin.all.user", R"({"id":"u3"})").msg.body;
  auto title_before = h.ask_v1("admin.all.title", R"({"id":"t1"})");
  h.restart_service();
  REQUIRE(harness::eventually([&] { return caught_up(h); }));
  // The stop took a checkpoint at sequence 51: nothing is replayed, the
  // state comes back from LMDB.
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["ingest"]["position"].GetUint64() == 51);
  CHECK(stats.json["events"]["play"].GetUint64() == 0);
  // Titles stay in the store until an event or a request needs them
  // (trending came back from the title index).
  CHECK(stats.json["actors"]["title"].GetUint64() == 0);
  // A user this process never saw an event of is known by its stored state:
  // not answered as a stranger.
  auto rec = h.ask_v1("rec.user.u3", R"({"row":"trending"})");
  CHECK_FALSE(rec.json["fallback"].GetBool());
  auto restored_stats = h.ask_v1("admin.it1.stats");
  auto store = restored_stats.json["store"].GetObject();
  CHECK(store["restored"].GetUint64() == 1); // u3
  CHECK(store["refused"].GetUint64() == 0);
  CHECK(store["unreadable"].GetUint64() == 0);
  auto after = h.ask_v1("admin.all.user", R"({"id":"u3"})");
  // The same live state, up to the time the dump was taken.
  auto strip_at = [](std::string body) {
    auto a = body.find("\"at\":");
    auto b = body.find(',', a);
    return body.erase(a, b - a);
  };
  CHECK(strip_at(after.msg.body) == strip_at(before));
  auto title_after = h.ask_v1("admin.all.title", R"({"id":"t1"})");
  CHECK(title_after.json["plays"].GetUint64() ==
        title_before.json["plays"].GetUint64());
  CHECK(std::string{title_after.json["metadata"]["name"].GetString()} == "One");
  auto trending = h.ask_v1("rec.trending", R"({"k":1})");
  CHECK(trending.error_code() == 0);
}

TEST_CASE("a title with only a catalog entry has no actor; its entry is "
          "checkpointed, and a catalog change to a stored title that has no "
          "actor keeps its counts",
          "[integration][durable][catalog]") {
  harness h{durable};
  h.publish("events.play.u1", R"({"title":"t1"})");
  h.publish("catalog.t9", R"({"name":"Nine","genres":["Drama"]})");
  h.await_events(2);
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["actors"]["title"].GetUint64() == 1); // t1 alone
  // The catalog filters see it at once.
  auto trending = h.ask_v1("rec.trending", R"({"k":5})");
  CHECK(trending.error_code() == 0);
  h.restart_service(); // a graceful stop checkpoints
  REQUIRE(harness::eventually([&] { return caught_up(h); }));
  // Only the stream position and the store know them now.
  CHECK(h.ask_v1("admin.it1.stats").json["actors"]["title"].GetUint64() == 0);
  // t1 is stored with its play; its catalog entry comes while it has no
  // actor.
  h.publish("catalog.t1", R"({"name":"One"})");
  h.await_events(1);
  CHECK(h.ask_v1("admin.it1.stats").json["actors"]["title"].GetUint64() == 0);
  // A checkpoint now reads t1's stored state to keep its counts: a read,
  // not an activation.
  auto snap = h.ask_v1("admin.it1.snapshot");
  INFO(snap.msg.body);
  REQUIRE(snap.error_code() == 0);
  auto read = h.ask_v1("admin.it1.stats");
  CHECK(read.json["actors"]["title"].GetUint64() == 0);
  CHECK(read.json["store"]["restored"].GetUint64() == 0);
  h.restart_service();
  REQUIRE(harness::eventually([&] { return caught_up(h); }));
  auto stats_after = h.ask_v1("admin.it1.stats");
  CHECK(stats_after.json["ingest"]["position"].GetUint64() == 3);
  CHECK(stats_after.json["events"]["catalog"].GetUint64() == 0); // no replay
  auto t1 = h.ask_v1("admin.all.title", R"({"id":"t1"})");
  INFO(t1.msg.body);
  CHECK(t1.json["plays"].GetUint64() == 1);
  CHECK(std::string{t1.json["metadata"]["name"].GetString()} == "One");
  auto t9 = h.ask_v1("admin.all.title", R"({"id":"t9"})");
  INFO(t9.msg.body);
  CHECK(t9.json["plays"].GetUint64() == 0);
  CHECK(std::string{t9.json["metadata"]["name"].GetString()} == "Nine");
}

TEST_CASE("events published while marquee is down are replayed from the "
          "checkpoint on, each once",
          "[integration][durable]") {
  harness h{durable};
  h.publish("events.play.u1", R"({"title":"t1","ts":1700000000000})");
  h.await_events(1);
  h.stop_service();
  // Published while no marquee runs: only the stream has them.
  h.publish("events.play.u1", R"({"title":"t2","ts":1700000000001})");
  h.publish("events.play.u2", R"({"title":"t2","ts":1700000000002})");
  h.start_service();
  REQUIRE(harness::eventually([&] { return caught_up(h); }));
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["events"]["play"].GetUint64() == 2);
  auto u1 = h.ask_v1("admin.all.user", R"({"id":"u1"})");
  CHECK(u1.json["recent_plays"].Size() == 2);
  CHECK(u1.json["applied_through"].GetUint64() == 2);
  auto t2 = h.ask_v1("admin.all.title", R"({"id":"t2"})");
  CHECK(t2.json["plays"].GetUint64() == 2);
}

TEST_CASE("a stream that ends before the last checkpoint stops the start "
          "with a clear error instead of skipping new events",
          "[integration][durable]") {
  harness h{durable};
  for (int i = 0; i < 3; ++i)
    h.publish("events.play.u1", R"({"title":"t1"})");
  h.await_events(3);
  h.stop_service(); // checkpoint at 3
  // The stream is lost (as after a power loss before nats-server synced
  // it) and begins again from 1.
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, h.server().url().c_str()) == NATS_OK);
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  REQUIRE(js_DeleteStream(js, "MARQUEE", nullptr, nullptr) == NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  std::string error;
  CHECK_FALSE(h.try_start_service(error));
  CHECK_THAT(error, Catch::Contains("covers stream sequence 3") &&
                      Catch::Contains("ends at 0") &&
                      Catch::Contains("lost events"));
}

TEST_CASE("the stream takes its retention from the configuration",
          "[integration][durable]") {
  harness h{{{"ingest.mode", "durable"},
             {"stream.max_age", "7d"},
             {"stream.max_bytes", "1048576"}}};
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, h.server().url().c_str()) == NATS_OK);
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  jsStreamInfo* si = nullptr;
  REQUIRE(js_GetStreamInfo(&si, js, "MARQUEE", nullptr, nullptr) == NATS_OK);
  CHECK(si->Config->MaxBytes == 1048576);
  CHECK(si->Config->MaxAge == int64_t{7} * 24 * 3600 * 1'000'000'000);
  CHECK(si->Config->Storage == js_FileStorage);
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

TEST_CASE("a stream that goes backwards under a running service stops "
          "ingest; requests and health say why",
          "[integration][durable]") {
  harness h{durable};
  for (int i = 0; i < 3; ++i)
    h.publish("events.play.u1", R"({"title":"t1"})");
  h.await_events(3);
  // The stream is deleted and created anew: it starts again at 1.
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, h.server().url().c_str()) == NATS_OK);
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  REQUIRE(js_DeleteStream(js, "MARQUEE", nullptr, nullptr) == NATS_OK);
  std::string error;
  REQUIRE(ensure_stream(nc, stream_config{}, error));
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  h.publish("events.play.u1", R"({"title":"t1"})");
  // The reader notices within its consumer check (5 s).
  REQUIRE(harness::eventually(
    [&] {
      auto health = h.ask_v1("admin.it1.health");
      return std::string{health.json["status"].GetString()} == "degraded";
    },
    std::chrono::milliseconds{15000}));
  auto health = h.ask_v1("admin.it1.health");
  CHECK_THAT(std::string{health.json["ingest"].GetString()},
             Catch::Contains("went backwards"));
  auto rec = h.ask_v1("rec.user.u1", "{}");
  CHECK(rec.error_code() == 503);
  CHECK_THAT(rec.msg.body, Catch::Contains("event ingest stopped"));
}

TEST_CASE("a request with 'after' is answered from state that has applied "
          "the stream through that sequence",
          "[integration][durable][after]") {
  // 'after' waits for the stream at most the time budget: a long one, so
  // that a loaded machine's slow apply is waited for, not refused (503).
  // A request returns as soon as its sequence is applied; the 503 below
  // takes the whole budget.
  harness h{{{"ingest.mode", "durable"}, {"rec.budget_ms", "3000"}}};
  // 150 titles, each played by a user of its own; the last play goes
  // through the stream's PubAck, which names its sequence.
  constexpr int titles = 150;
  for (int i = 0; i < titles; ++i) // unknown titles are never recommended
    h.publish("catalog.t" + std::to_string(i), R"({"name":"T"})");
  for (int i = 0; i < titles - 1; ++i)
    h.publish("events.play.p" + std::to_string(i),
              R"({"title":"t)" + std::to_string(i) + R"("})");
  auto ack = h.ask_v1("events.play.p" + std::to_string(titles - 1),
                      R"({"title":"t)" + std::to_string(titles - 1) + R"("})");
  INFO(ack.msg.body);
  REQUIRE(ack.json.HasMember("seq"));
  auto seq = ack.json["seq"].GetUint64();
  REQUIRE(seq == 2 * titles);
  // Without polling: every title is in the trending row.
  auto r = h.ask_v1("rec.user.viewer", R"({"row":"trending","k":200,"after":)" +
                                         std::to_string(seq) + "}");
  INFO(r.msg.body);
  CHECK(r.error_code() == 0);
  CHECK(r.json["items"].Size() == titles);
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["ingest"]["applied"].GetUint64() >= seq);

  SECTION("a sequence the stream does not reach yet is a 503 once the time "
          "budget has passed") {
    auto late = h.ask_v1("rec.user.viewer",
                         R"({"after":)" + std::to_string(seq + 1000) + "}");
    INFO(late.msg.body);
    CHECK(late.error_code() == 503);
    CHECK_THAT(late.msg.body, Catch::Contains("not applied through sequence " +
                                              std::to_string(seq + 1000)));
  }
  SECTION("a bad 'after' is a 400") {
    auto bad = h.ask_v1("rec.user.viewer", R"({"after":-1})");
    CHECK(bad.error_code() == 400);
  }
}

TEST_CASE("a user first named by the events through 'after' is answered as "
          "that user, never as a stranger",
          "[integration][durable][after]") {
  // The request may arrive before its user's first event is applied, and
  // be answered once it is: the user is looked up only then. Looked up on
  // arrival, a user applied in between got a stranger's cold start (no
  // history, no profile), which a loaded CI machine once showed. Each new
  // user here fully watches t0, the only title, right before asking.
  harness h{{{"ingest.mode", "durable"}, {"rec.budget_ms", "4000"}}};
  h.publish("catalog.t0", R"({"name":"T"})");
  for (int i = 0; i < 100; ++i) {
    auto user = "n" + std::to_string(i);
    auto ack =
      h.ask_v1("events.play." + user, R"({"title":"t0","progress":1.0})");
    REQUIRE(ack.json.HasMember("seq"));
    auto r = h.ask_v1("rec.user." + user,
                      R"({"row":"trending","after":)" +
                        std::to_string(ack.json["seq"].GetUint64()) + "}");
    INFO(user << " -> " << r.msg.body);
    REQUIRE(r.error_code() == 0);
    // A stranger gets the cold start (fallback) with t0 trending in it.
    CHECK_FALSE(r.json["fallback"].GetBool());
    CHECK(r.json["items"].Size() == 0);
  }
}

TEST_CASE("'after' needs durable ingest", "[integration][after]") {
  harness h{{{"ingest.mode", "core"}}};
  auto r = h.ask_v1("rec.user.viewer", R"({"after":1})");
  INFO(r.msg.body);
  CHECK(r.error_code() == 400);
  CHECK_THAT(r.msg.body, Catch::Contains("durable"));
}
