// Every request gets an answer and every dead letter is deliverable, however
// large the state or the event (issue 10, defects 2 and 3): lists in replies
// are paged or cut, a reply that still cannot fit the server's max_payload
// is a 413, and a dead letter too large with its headers is cut.

#include "harness.hpp"

#include <set>

using namespace marquee;
using namespace marquee::testing;

namespace {

/// The server's default max_payload (nats-server 2.9).
constexpr size_t server_max_payload = 1024 * 1024;

std::string title_of(size_t i) {
  return "t" + std::to_string(i);
}

} // namespace

TEST_CASE("an event as large as the server's max_payload reaches the DLQ cut, "
          "with its original size and its identity",
          "[integration][dlq][bounded]") {
  harness h;
  std::string error;
  auto watcher = nats_client::connect(h.server().url(), error);
  REQUIRE(watcher != nullptr);
  REQUIRE(watcher->subscribe("marquee.v1.dlq.>", error));
  REQUIRE(watcher->flush(std::chrono::milliseconds{5000}, error));
  std::string body = R"({"title":"t1","pad":")";
  body += std::string(server_max_payload - body.size() - 2, 'p');
  body += "\"}";
  REQUIRE(body.size() == server_max_payload);
  h.publish("events.play.u1", body);
  auto letter = watcher->next(std::chrono::milliseconds{10000});
  REQUIRE(letter.has_value());
  CHECK(letter->subject == "marquee.v1.dlq.size");
  CHECK(letter->header("Marquee-Original-Size") ==
        std::to_string(server_max_payload));
  CHECK(letter->header("Marquee-Subject") == "marquee.v1.events.play.u1");
  CHECK(letter->header("Marquee-Sequence") == "1");
  CHECK_FALSE(letter->header("Nats-Msg-Id").empty());
  REQUIRE(letter->body.size() < body.size());
  CHECK(body.compare(0, letter->body.size(), letter->body) == 0);
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["dlq"]["size"].GetUint64() == 1);
  CHECK(stats.json["dlq_truncated"].GetUint64() == 1);
  CHECK(stats.json["dlq_publish_failures"].GetUint64() == 0);
  // A small dead letter is whole and has no size header.
  h.publish("events.play.u1", "{\"title\":");
  letter = watcher->next(std::chrono::milliseconds{10000});
  REQUIRE(letter.has_value());
  CHECK(letter->body == "{\"title\":");
  CHECK(letter->header("Marquee-Original-Size").empty());
  CHECK(letter->header("Marquee-Sequence") == "2");
}

TEST_CASE("the impression history of a user shown 15,000 titles is answered "
          "in pages that together hold every title",
          "[integration][impressions][bounded]") {
  harness h;
  constexpr size_t titles = 15000;
  auto ts = now_ms() - 30LL * 24 * 3600 * 1000;
  for (size_t i = 0; i < titles; ++i)
    h.publish("events.impression.u1",
              R"({"title":")" + title_of(i) + R"(","ts":)" +
                std::to_string(ts + static_cast<int64_t>(i)) + "}");
  h.await_applied(titles);
  std::set<std::string> seen;
  size_t offset = 0;
  size_t pages = 0;
  for (;;) {
    auto r = h.ask_v1("impressions.u1",
                      R"({"offset":)" + std::to_string(offset) + "}");
    REQUIRE(r.error_code() == 0);
    CHECK(r.json["total"].GetUint64() == titles);
    auto& items = r.json["items"];
    REQUIRE(items.Size() > 0);
    CHECK(items.Size() <= 1000);
    for (auto& item : items.GetArray())
      seen.insert(item["title"].GetString());
    ++pages;
    if (!r.json.HasMember("next_offset"))
      break;
    REQUIRE(r.json["next_offset"].GetUint64() == offset + items.Size());
    offset = r.json["next_offset"].GetUint64();
  }
  CHECK(pages == 15);
  CHECK(seen.size() == titles);
  // The most a request may ask for, with sixteen windows (the configured
  // ones, and others on the fly): as many items as fit the server's
  // max_payload, and the rest in the next page.
  std::string windows = R"("1d","7d","30d","180d","365d")";
  for (int w = 1; w <= 11; ++w)
    windows += ",\"" + std::to_string(w) + "m\"";
  auto wide = h.ask_v1("impressions.u1",
                       R"({"limit":10000,"windows":[)" + windows + "]}");
  INFO(wide.msg.body.substr(0, 300));
  REQUIRE(wide.error_code() == 0);
  CHECK(wide.msg.body.size() <= server_max_payload);
  CHECK(wide.json["items"].Size() < 10000);
  CHECK(wide.json["next_offset"].GetUint64() == wide.json["items"].Size());
  // Seventeen windows are refused, naming the limit.
  auto many =
    h.ask_v1("impressions.u1", R"({"windows":[)" + windows + R"(,"17m"]})");
  CHECK(many.error_code() == 400);
  CHECK_THAT(many.msg.body, Catch::Contains("more than 16 windows"));
}

TEST_CASE("the dump of a user with 25,000 feedback entries is cut to its limit "
          "with the totals, and a limit that cannot fit is a 413",
          "[integration][admin][bounded]") {
  harness h;
  constexpr size_t titles = 25000;
  for (size_t i = 0; i < titles; ++i)
    h.publish("events.feedback.u1",
              R"({"title":")" + title_of(i) + R"(","value":1})");
  h.await_applied(titles);
  auto d = h.ask_v1("admin.it1.user", R"({"id":"u1"})");
  REQUIRE(d.error_code() == 0);
  CHECK(d.json["feedback"].Size() == 1000);
  CHECK(d.json["totals"]["feedback"].GetUint64() == titles);
  CHECK(d.json["truncated"].GetBool());
  // Name order: t0, t1, t10, t100, ...
  CHECK(std::string{d.json["feedback"][0]["title"].GetString()} == "t0");
  CHECK(std::string{d.json["feedback"][2]["title"].GetString()} == "t10");
  auto small = h.ask_v1("admin.it1.user", R"({"id":"u1","limit":5})");
  CHECK(small.json["feedback"].Size() == 5);
  auto all = h.ask_v1("admin.it1.user", R"({"id":"u1","limit":100000})");
  CHECK(all.error_code() == 413);
  CHECK_THAT(all.msg.header("Nats-Service-Error"),
             Catch::Contains("max_payload"));
  auto stats = h.ask_v1("admin.it1.stats");
  CHECK(stats.json["replies_too_large"].GetUint64() == 1);
  CHECK(h.ask_v1("admin.it1.user", R"({"id":"u1","limit":0})").error_code() ==
        400);
}

TEST_CASE("the dump of a title played from 30,000 regions is cut to its limit "
          "with the totals",
          "[integration][admin][bounded]") {
  // Three times the default cap on distinct regions (10,000).
  harness h{{{"limits.max_regions", "30000"}}};
  constexpr size_t regions = 30000;
  for (size_t i = 0; i < regions; ++i)
    h.publish("events.play.u" + std::to_string(i % 50),
              R"({"title":"t1","region":"r)" + std::to_string(i) + R"("})");
  h.await_applied(regions);
  auto d = h.ask_v1("admin.it1.title", R"({"id":"t1"})");
  REQUIRE(d.error_code() == 0);
  CHECK(d.json["trending"].Size() == 1000);
  CHECK(std::string{d.json["trending"][0]["region"].GetString()} == "all");
  CHECK(d.json["totals"]["trending"].GetUint64() == regions + 1);
  CHECK(d.json["truncated"].GetBool());
  auto three = h.ask_v1("admin.it1.title", R"({"id":"t1","limit":3})");
  CHECK(three.json["trending"].Size() == 3);
}
