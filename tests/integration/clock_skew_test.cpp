// One producer's fast clock must not change everyone's answers (issue 10,
// defect 5): an event stamped ahead of the time it arrived counts as of its
// arrival, so trending decays as before and `at: <now>` stays valid.

#include "harness.hpp"

using namespace marquee;
using namespace marquee::testing;

TEST_CASE("a play stamped 23 hours ahead neither freezes trending nor makes "
          "'at' now a bad request",
          "[integration][time]") {
  harness h;
  auto start = now_ms();
  for (int i = 0; i < 3; ++i)
    h.publish("events.play.u" + std::to_string(i),
              R"({"title":"t1","ts":)" + std::to_string(start) + "}");
  h.publish("events.play.u9", R"({"title":"t2","ts":)" +
                                std::to_string(start + 23 * 3600 * 1000LL) +
                                "}");
  h.publish("events.impression.u9",
            R"({"title":"t3","ts":)" +
              std::to_string(start + 23 * 3600 * 1000LL) + "}");
  h.await_applied(5);
  auto at = std::to_string(now_ms());
  auto trending =
    h.ask_v1("rec.trending", R"({"window":"1h","at":)" + at + "}");
  REQUIRE(trending.error_code() == 0);
  auto& items = trending.json["items"];
  REQUIRE(items.Size() == 2);
  // Three plays a moment ago score about 3, the one "from the future" about
  // 1: neither is decayed by the producer's 23 hours.
  CHECK(std::string{items[0]["title"].GetString()} == "t1");
  CHECK(items[0]["score"].GetDouble() == Approx(3.0).epsilon(0.01));
  CHECK(items[1]["score"].GetDouble() == Approx(1.0).epsilon(0.01));
  auto rec = h.ask_v1("rec.user.u1", R"({"at":)" + at + "}");
  CHECK(rec.error_code() == 0);
  auto imp = h.ask_v1("impressions.u9", R"({"at":)" + at + "}");
  REQUIRE(imp.error_code() == 0);
  CHECK(imp.json["items"][0]["last_ts"].GetInt64() <= now_ms());
}
