// Passivation and on-demand snapshots in durable mode: users leave memory
// when idle or beyond the live budget and come back from LMDB whole.

#include "harness.hpp"

#include <cstdlib>
#include <fstream>
#include <string_view>

using namespace marquee;
using namespace marquee::testing;

namespace {

uint64_t live_users(harness& h) {
  return h.ask_v1("admin.it1.stats").json["actors"]["user"].GetUint64();
}

uint64_t store_stat(harness& h, const char* field) {
  return h.ask_v1("admin.it1.stats").json["store"][field].GetUint64();
}

std::string play(int title, int64_t ts) {
  return R"({"title":"t)" + std::to_string(title) + R"(","ts":)" +
         std::to_string(ts) + "}";
}

} // namespace

TEST_CASE("beyond the live budget users leave memory and come back from the "
          "store with everything they applied",
          "[integration][durable][passivation]") {
  harness h{{{"ingest.mode", "durable"},
             {"checkpoint.events", "50"},
             {"checkpoint.interval_ms", "100"},
             {"passivation.max_users", "20"},
             {"passivation.idle_ms", "0"}}};
  constexpr int users = 300;
  const int64_t ts = now_ms() - 60'000;
  // Two plays each, the second after all the others: most users have left
  // memory in between.
  for (int round = 0; round < 2; ++round)
    for (int u = 0; u < users; ++u)
      h.publish("events.play.u" + std::to_string(u),
                play(round * 7 + u % 7, ts + round * 1000 + u));
  h.await_applied(2 * users);
  // Once the last checkpoint is taken, at most the budget stays live.
  REQUIRE(harness::eventually([&] { return live_users(h) <= 20; }));
  CHECK(store_stat(h, "passivated") >= users - 20);
  for (int u = 0; u < users; u += 37) {
    auto id = "u" + std::to_string(u);
    auto dump = h.ask_v1("admin.all.user", R"({"id":")" + id + R"("})");
    INFO(dump.msg.body);
    CHECK(dump.json["events"].GetUint64() == 2);
    CHECK(dump.json["watched"].Size() == 2);
  }
  // A user that left memory takes a new event on top of its stored state.
  h.publish("events.play.u1", play(42, ts + 5000));
  h.await_applied(2 * users + 1);
  auto u1 = h.ask_v1("admin.all.user", R"({"id":"u1"})");
  CHECK(u1.json["events"].GetUint64() == 3);
  CHECK(u1.json["applied_through"].GetUint64() == 2 * users + 1);
  CHECK(store_stat(h, "refused") == 0);
  CHECK(store_stat(h, "unreadable") == 0);
}

TEST_CASE("idle users leave memory; a request brings one back, not a "
          "stranger",
          "[integration][durable][passivation]") {
  harness h{{{"ingest.mode", "durable"},
             {"checkpoint.interval_ms", "50"},
             {"passivation.idle_ms", "200"}}};
  const int64_t ts = now_ms() - 60'000;
  for (int u = 0; u < 10; ++u)
    h.publish("events.play.u" + std::to_string(u), play(u, ts + u));
  h.await_applied(10);
  REQUIRE(harness::eventually([&] { return live_users(h) == 0; }));
  CHECK(store_stat(h, "passivated") == 10);
  auto rec = h.ask_v1("rec.user.u3", R"({"row":"continue_watching"})");
  CHECK_FALSE(rec.json["fallback"].GetBool());
  CHECK(live_users(h) == 1);
  auto dump = h.ask_v1("admin.all.user", R"({"id":"u3"})");
  CHECK(dump.json["events"].GetUint64() == 1);
  // Someone with no stored state is a stranger: the cold-start answer.
  auto stranger = h.ask_v1("rec.user.nobody", R"({"row":"home"})");
  CHECK(stranger.error_code() == 0);
  CHECK(stranger.json["fallback"].GetBool());
}

TEST_CASE("admin snapshot takes a checkpoint of everything sent so far",
          "[integration][durable][snapshot]") {
  harness h{{{"ingest.mode", "durable"},
             {"checkpoint.events", "1000000"},
             {"checkpoint.interval_ms", "3600000"}}};
  const int64_t ts = now_ms() - 60'000;
  for (int i = 0; i < 12; ++i)
    h.publish("events.play.u" + std::to_string(i % 3), play(i % 4, ts + i));
  h.await_applied(12);
  auto before = h.ask_v1("admin.it1.stats");
  CHECK(before.json["ingest"]["checkpoint"].GetUint64() == 0);
  auto snap = h.ask_v1("admin.it1.snapshot");
  INFO(snap.msg.body);
  REQUIRE(snap.error_code() == 0);
  CHECK(snap.json["sequence"].GetUint64() == 12);
  CHECK(snap.json["users"].GetUint64() == 3);
  CHECK(snap.json["titles"].GetUint64() == 4);
  auto after = h.ask_v1("admin.it1.stats");
  CHECK(after.json["ingest"]["checkpoint"].GetUint64() == 12);
  CHECK(after.json["ingest"]["checkpoints"].GetUint64() == 1);
  // Nothing new: the same checkpoint, nothing written again.
  auto again = h.ask_v1("admin.it1.snapshot");
  CHECK(again.json["sequence"].GetUint64() == 12);
  CHECK(again.json["users"].GetUint64() == 0);
  CHECK(h.ask_v1("admin.it1.stats").json["ingest"]["checkpoints"].GetUint64() ==
        1);
}

TEST_CASE("admin snapshot in core mode says why there is none",
          "[integration][snapshot]") {
  harness h{{{"ingest.mode", "core"}}};
  auto snap = h.ask_v1("admin.it1.snapshot");
  CHECK(snap.error_code() == 400);
  CHECK_THAT(snap.msg.body, Catch::Contains("durable"));
}

namespace {

/// Anonymous resident memory of this process (the service runs in it), in
/// bytes: file-backed pages such as LMDB's map are left out.
uint64_t rss_anon() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssAnon:", 0) == 0)
      return std::stoull(line.substr(8)) * 1024;
  return 0;
}

} // namespace

TEST_CASE("memory stays flat while users grow far beyond the live budget",
          "[integration][durable][passivation][memory]") {
  harness h{{{"ingest.mode", "durable"},
             {"checkpoint.events", "2000"},
             {"checkpoint.interval_ms", "100"},
             {"passivation.max_users", "500"},
             {"passivation.idle_ms", "0"}}};
  const int64_t ts = now_ms() - 60'000;
  int published = 0;
  auto grow_to = [&](int users) {
    for (; published < users; ++published)
      h.publish("events.play.u" + std::to_string(published),
                play(published % 50, ts + published));
    h.await_applied(published);
    REQUIRE(harness::eventually([&] { return live_users(h) <= 500; },
                                std::chrono::milliseconds{10000}));
  };
  grow_to(10'000);
  auto first = rss_anon();
  grow_to(40'000);
  auto second = rss_anon();
  // Measured here: about 2,000 bytes per user without passivation, about
  // 200 with it (the interned id of every user ever seen stays), and up to
  // 616 beside two busy loops (scripts/repeat.sh: the allocator keeps the
  // peak of the batches queued while the machine lags). Half the figure
  // without passivation tells the two apart whatever the load.
  auto per_user = (static_cast<double>(second) - first) / 30'000;
  INFO("anonymous RSS " << first << " -> " << second << " bytes, " << per_user
                        << " per added user");
  // Sanitizers keep memory of their own per allocation (shadow, quarantine,
  // history), so RSS measures them, not marquee: the bound holds only in
  // builds without them (docs/testing.md).
  if (std::string_view{MARQUEE_SANITIZE}.empty())
    CHECK(per_user < 1000);
  else
    WARN("RSS bound not checked under -fsanitize=" MARQUEE_SANITIZE);
  auto u = h.ask_v1("admin.all.user", R"({"id":"u123"})");
  CHECK(u.json["events"].GetUint64() == 1);
}
