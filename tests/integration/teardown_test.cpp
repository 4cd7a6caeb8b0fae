// Stopping the service while nats.c still has callbacks queued for its
// connection. The edge used to be freed when the last actor let go of it,
// and the disconnected handler that closing the connection queues then
// wrote into freed memory: heap corruption at every stop or failed start,
// reported as `malloc(): invalid size (unsorted)` (issue 10, defect 1).
// Built normally this test passes either way; the sanitizer suites
// (scripts/sanitize.sh) report the write into freed memory at once. A
// start that connects and then gives up is the same path
// (durable_test.cpp: "a stream that ends before the last checkpoint").

#include "harness.hpp"

using namespace marquee;
using namespace marquee::testing;

TEST_CASE("a service stopped right after it started frees its "
          "NATS connection only after the connection's last callback",
          "[integration][teardown]") {
  auto mode = GENERATE(std::string{"core"}, std::string{"durable"});
  harness h{{{"ingest.mode", mode}}};
  h.publish("events.play.u1", R"({"title":"t1"})");
  h.await_events(1);
  for (int round = 0; round < 10; ++round) {
    h.restart_service();
    // Each new service answers; in durable mode with the state the last
    // one checkpointed (core mode starts empty).
    auto stats = h.ask_v1("admin.it1.stats");
    REQUIRE(stats.error_code() == 0);
    if (mode == "durable") {
      auto u = h.ask_v1("admin.all.user", R"({"id":"u1"})");
      INFO("round " << round << ": " << u.msg.body);
      CHECK(u.json["recent_plays"].Size() == 1);
    }
  }
}
