#include "wire/event_decoder.hpp"

#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <limits>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

using namespace marquee;

namespace {

/// The server clock of every test: 2023-11-14T22:13:20Z.
constexpr int64_t now = 1'700'000'000'000;

/// The default limit on how far ahead `ts` may be: 24 h (CONTRACT.md).
constexpr int64_t day_ahead = ms_per_day;

/// What a decoding came to: the kind of event accepted, or the DLQ reason.
std::string outcome_of(const decoded_event& ev) {
  if (std::holds_alternative<play_event>(ev))
    return "play";
  if (std::holds_alternative<impression_event>(ev))
    return "impression";
  if (std::holds_alternative<feedback_event>(ev))
    return "feedback";
  if (std::holds_alternative<catalog_event>(ev))
    return "catalog";
  if (std::holds_alternative<profile_event>(ev))
    return "profile";
  return std::string{"dlq."} + to_string(std::get<rejection>(ev).reason);
}

std::string message_of(const decoded_event& ev) {
  auto rej = std::get_if<rejection>(&ev);
  return rej != nullptr ? rej->message : std::string{};
}

decoded_event decode(std::string_view tail, std::string_view payload,
                     id_tables& ids) {
  return decode_event(tail, payload, now, decode_limits{}, ids);
}

/// A play payload of exactly `size` bytes, padded with an unknown field.
std::string play_of_size(size_t size) {
  const std::string head = R"({"title":"t1","pad":")";
  const std::string tail = R"("})";
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

std::string ts_payload(int64_t ts, const std::string& extra = "") {
  return R"({"title":"t1","ts":)" + std::to_string(ts) + extra + "}";
}

struct decode_case {
  std::string tail;
  std::string payload;
  /// `play`, `impression`, `feedback`, `catalog`, `profile`, or
  /// `dlq.<reason>`.
  std::string outcome;
  /// Part of the rejection message (empty for accepted events).
  std::string fragment;
};

std::vector<decode_case> decode_cases() {
  const std::string id64(64, 'a');
  const std::string id65(65, 'a');
  const std::string limit = std::to_string(decode_limits{}.max_payload);
  return {
    // -- accepted: the contract's examples and the smallest valid events ----
    {"events.play.u42",
     R"({"title":"t7","ts":1699999999000,"progress":0.93,"region":"US",)"
     R"("device":"tv"})",
     "play", ""},
    {"events.play.u1", R"({"title":"t1"})", "play", ""},
    {"events.impression.u42",
     R"({"title":"t7","ts":1699999999000,"row":"home","position":3})",
     "impression", ""},
    {"events.impression.u1", R"({"title":"t1"})", "impression", ""},
    {"events.feedback.u42", R"({"title":"t7","ts":1699999999000,"value":1})",
     "feedback", ""},
    {"events.feedback.u1", R"({"title":"t1","value":-1})", "feedback", ""},
    {"catalog.t7",
     R"({"name":"Toy Story","genres":["Animation","Comedy"],"min_age":0,)"
     R"("year":1995,"regions":["US","GB"],"available":true})",
     "catalog", ""},
    {"catalog.t1", R"({})", "catalog", ""},
    {"profile.u42", R"({"max_age":12,"region":"US"})", "profile", ""},
    {"profile.u1", R"({})", "profile", ""},
    // -- accepted: ids at the edges of the grammar ---------------------------
    {"events.play.42", R"({"title":"42"})", "play", ""},
    {"events.play." + id64, R"({"title":")" + id64 + R"("})", "play", ""},
    {"events.play.a_b:C-9", R"({"title":"x_y:Z-0"})", "play", ""},
    {"catalog." + id64, R"({})", "catalog", ""},
    // -- accepted: values at the edges of their ranges -----------------------
    {"events.play.u1", R"({"title":"t1","progress":0})", "play", ""},
    {"events.play.u1", R"({"title":"t1","progress":1})", "play", ""},
    {"events.play.u1", R"({"title":"t1","progress":0.0})", "play", ""},
    {"events.play.u1", R"({"title":"t1","ts":0})", "play", ""},
    {"events.impression.u1", R"({"title":"t1","position":0})", "impression",
     ""},
    {"catalog.t1", R"({"regions":[],"genres":[]})", "catalog", ""},
    {"profile.u1", R"({"max_age":0})", "profile", ""},
    // -- accepted: unknown fields are ignored, null is absent ----------------
    {"events.play.u1",
     R"({"title":"t1","rating":"x","nested":{"a":[1,2,{"b":null}]}})", "play",
     ""},
    {"events.play.u1",
     R"({"title":"t1","ts":null,"progress":null,"region":null,"device":null})",
     "play", ""},
    {"events.impression.u1",
     R"({"title":"t1","ts":null,"row":null,"position":null})", "impression",
     ""},
    {"catalog.t1",
     R"({"name":null,"genres":null,"min_age":null,"year":null,)"
     R"("regions":null,"available":null})",
     "catalog", ""},
    {"profile.u1", R"({"max_age":null,"region":null})", "profile", ""},
    // -- size ----------------------------------------------------------------
    {"events.play.u1", play_of_size(decode_limits{}.max_payload), "play", ""},
    {"events.play.u1", play_of_size(decode_limits{}.max_payload + 1),
     "dlq.size", "over the limit of " + limit},
    {"catalog.t1", play_of_size(decode_limits{}.max_payload + 1), "dlq.size",
     std::to_string(decode_limits{}.max_payload + 1) + " bytes"},
    // -- id: the subject's last token ----------------------------------------
    {"events.play.", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play." + id65, R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play.u 1", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play.*", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play.>", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play.u\xc3\xbc", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play.u/1", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.play.u1.x", R"({"title":"t1"})", "dlq.id", "valid user id"},
    {"events.impression.u1.x", R"({"title":"t1"})", "dlq.id", "user id"},
    {"events.feedback.*", R"({"title":"t1","value":1})", "dlq.id", "user id"},
    {"catalog.", R"({})", "dlq.id", "valid title id"},
    {"catalog", R"({})", "dlq.id", "valid title id"},
    {"catalog.t1.x", R"({})", "dlq.id", "valid title id"},
    {"catalog." + id65, R"({})", "dlq.id", "valid title id"},
    {"profile.>", R"({})", "dlq.id", "valid user id"},
    {"profile.u1.x", R"({})", "dlq.id", "valid user id"},
    // -- id: the title in the body -------------------------------------------
    {"events.play.u1", R"({"title":""})", "dlq.id",
     "'title' is not a valid id"},
    {"events.play.u1", R"({"title":")" + id65 + R"("})", "dlq.id",
     "'title' is not a valid id"},
    {"events.play.u1", R"({"title":"t 1"})", "dlq.id",
     "'title' is not a valid id"},
    {"events.play.u1", R"({"title":"t.1"})", "dlq.id",
     "'title' is not a valid id"},
    {"events.impression.u1", R"({"title":"t*"})", "dlq.id",
     "'title' is not a valid id"},
    {"events.feedback.u1", R"({"title":">","value":1})", "dlq.id",
     "'title' is not a valid id"},
    // -- json ----------------------------------------------------------------
    {"events.play.u1", "", "dlq.json", "invalid JSON"},
    {"events.play.u1", "   ", "dlq.json", "invalid JSON"},
    {"events.play.u1", "{", "dlq.json", "invalid JSON"},
    {"events.play.u1", R"({"title":"t1")", "dlq.json", "invalid JSON"},
    {"events.play.u1", R"({"title":"t1",)", "dlq.json", "invalid JSON"},
    {"events.play.u1", R"({"title":"t1",})", "dlq.json", "invalid JSON"},
    {"events.play.u1", "garbage", "dlq.json", "invalid JSON"},
    {"events.play.u1", "{'title':'t1'}", "dlq.json", "invalid JSON"},
    {"events.play.u1", R"({"title":"t1"} {})", "dlq.json", "invalid JSON"},
    {"events.play.u1", "{\"title\":\"t1\",\"device\":\"\xff\"}", "dlq.json",
     "invalid JSON"},
    {"catalog.t1", "{", "dlq.json", "invalid JSON"},
    {"profile.u1", "nope", "dlq.json", "invalid JSON"},
    // Duplicate names (RFC 7493): never "the first one wins".
    {"events.play.u1", R"({"title":"t1","title":"bad id"})", "dlq.json",
     "the name 'title' appears twice"},
    {"events.play.u1", R"({"title":"t1","x":1,"x":2})", "dlq.json",
     "the name 'x' appears twice"},
    {"events.play.u1", R"({"title":"t1","\u0074itle":"t2"})", "dlq.json",
     "the name 'title' appears twice"},
    {"catalog.t1", R"({"name":"a","x":[{"k":1,"k":2}]})", "dlq.json",
     "the name 'k' appears twice"},
    {"profile.u1", R"({"max_age":12,"max_age":18})", "dlq.json",
     "the name 'max_age' appears twice"},
    // -- schema: the subject -------------------------------------------------
    {"events.rating.u1", R"({"title":"t1"})", "dlq.schema",
     "unknown event type 'rating'"},
    {"events..u1", R"({"title":"t1"})", "dlq.schema", "unknown event type"},
    {"events.Play.u1", R"({"title":"t1"})", "dlq.schema",
     "unknown event type 'Play'"},
    {"ratings.u1", R"({})", "dlq.schema", "unknown subject 'ratings.u1'"},
    {"event.play.u1", R"({"title":"t1"})", "dlq.schema", "unknown subject"},
    {"", R"({})", "dlq.schema", "unknown subject"},
    // -- schema: not an object -----------------------------------------------
    {"events.play.u1", "[]", "dlq.schema", "must be a JSON object"},
    {"events.play.u1", R"(["t1"])", "dlq.schema", "must be a JSON object"},
    {"events.play.u1", R"("t1")", "dlq.schema", "must be a JSON object"},
    {"events.play.u1", "42", "dlq.schema", "must be a JSON object"},
    {"events.play.u1", "null", "dlq.schema", "must be a JSON object"},
    {"catalog.t1", "true", "dlq.schema", "must be a JSON object"},
    {"profile.u1", "[]", "dlq.schema", "must be a JSON object"},
    // -- schema: title --------------------------------------------------------
    {"events.play.u1", R"({})", "dlq.schema", "missing field 'title'"},
    {"events.play.u1", R"({"title":null})", "dlq.schema",
     "missing field 'title'"},
    {"events.play.u1", R"({"Title":"t1"})", "dlq.schema",
     "missing field 'title'"},
    {"events.impression.u1", R"({"row":"home"})", "dlq.schema",
     "missing field 'title'"},
    {"events.feedback.u1", R"({"value":1})", "dlq.schema",
     "missing field 'title'"},
    {"events.play.u1", R"({"title":7})", "dlq.schema",
     "'title' must be a string"},
    {"events.play.u1", R"({"title":["t1"]})", "dlq.schema",
     "'title' must be a string"},
    {"events.impression.u1", R"({"title":true})", "dlq.schema",
     "'title' must be a string"},
    {"events.feedback.u1", R"({"title":{},"value":1})", "dlq.schema",
     "'title' must be a string"},
    // -- schema: ts, every kind that has one ---------------------------------
    {"events.play.u1", R"({"title":"t1","ts":"1700000000000"})", "dlq.schema",
     "'ts' must be an integer"},
    {"events.play.u1", R"({"title":"t1","ts":1700000000000.5})", "dlq.schema",
     "'ts' must be an integer"},
    {"events.play.u1", R"({"title":"t1","ts":true})", "dlq.schema",
     "'ts' must be an integer"},
    {"events.play.u1", R"({"title":"t1","ts":-1})", "dlq.schema",
     "'ts' must be an integer"},
    {"events.impression.u1", R"({"title":"t1","ts":-1700000000000})",
     "dlq.schema", "'ts' must be an integer"},
    {"events.impression.u1", R"({"title":"t1","ts":"now"})", "dlq.schema",
     "'ts' must be an integer"},
    {"events.feedback.u1", R"({"title":"t1","value":1,"ts":1.5})", "dlq.schema",
     "'ts' must be an integer"},
    {"events.feedback.u1", R"({"title":"t1","value":1,"ts":-5})", "dlq.schema",
     "'ts' must be an integer"},
    // -- schema: play ---------------------------------------------------------
    {"events.play.u1", R"({"title":"t1","progress":1.5})", "dlq.schema",
     "'progress' must be a number from 0 to 1"},
    {"events.play.u1", R"({"title":"t1","progress":1.0000001})", "dlq.schema",
     "'progress' must be a number from 0 to 1"},
    {"events.play.u1", R"({"title":"t1","progress":-0.1})", "dlq.schema",
     "'progress' must be a number from 0 to 1"},
    {"events.play.u1", R"({"title":"t1","progress":2})", "dlq.schema",
     "'progress'"},
    {"events.play.u1", R"({"title":"t1","progress":"0.5"})", "dlq.schema",
     "'progress'"},
    {"events.play.u1", R"({"title":"t1","progress":true})", "dlq.schema",
     "'progress'"},
    {"events.play.u1", R"({"title":"t1","region":5})", "dlq.schema",
     "'region' must be a string"},
    {"events.play.u1", R"({"title":"t1","region":["US"]})", "dlq.schema",
     "'region' must be a string"},
    {"events.play.u1", R"({"title":"t1","region":""})", "dlq.schema",
     "'region' must not be empty"},
    {"events.play.u1", R"({"title":"t1","region":")" + id65 + R"("})",
     "dlq.schema", "'region' must be a string of at most 64"},
    {"events.play.u1", R"({"title":"t1","device":5})", "dlq.schema",
     "'device' must be a string"},
    {"events.play.u1", R"({"title":"t1","device":{"kind":"tv"}})", "dlq.schema",
     "'device' must be a string"},
    // -- schema: impression ---------------------------------------------------
    {"events.impression.u1", R"({"title":"t1","row":5})", "dlq.schema",
     "'row' must be a string"},
    {"events.impression.u1", R"({"title":"t1","position":-1})", "dlq.schema",
     "'position' must be an integer from 0"},
    {"events.impression.u1", R"({"title":"t1","position":1.5})", "dlq.schema",
     "'position' must be an integer"},
    {"events.impression.u1", R"({"title":"t1","position":"3"})", "dlq.schema",
     "'position' must be an integer"},
    // -- schema: feedback -----------------------------------------------------
    {"events.feedback.u1", R"({"title":"t1","value":0})", "dlq.schema",
     "'value' must be 1 (thumbs up) or -1"},
    {"events.feedback.u1", R"({"title":"t1","value":2})", "dlq.schema",
     "'value'"},
    {"events.feedback.u1", R"({"title":"t1","value":-2})", "dlq.schema",
     "'value'"},
    {"events.feedback.u1", R"({"title":"t1","value":"1"})", "dlq.schema",
     "'value'"},
    {"events.feedback.u1", R"({"title":"t1","value":true})", "dlq.schema",
     "'value'"},
    {"events.feedback.u1", R"({"title":"t1"})", "dlq.schema",
     "'value' must be 1 (thumbs up) or -1"},
    {"events.feedback.u1", R"({"title":"t1","value":null})", "dlq.schema",
     "'value' must be 1 (thumbs up) or -1"},
    // -- schema: catalog ------------------------------------------------------
    {"catalog.t1", R"({"name":5})", "dlq.schema", "'name' must be a string"},
    {"catalog.t1", R"({"name":["Toy Story"]})", "dlq.schema",
     "'name' must be a string"},
    {"catalog.t1", R"({"genres":"Comedy"})", "dlq.schema",
     "'genres' must be an array of non-empty strings"},
    {"catalog.t1", R"({"genres":{"Comedy":true}})", "dlq.schema",
     "'genres' must be an array"},
    {"catalog.t1", R"({"genres":["Comedy",1]})", "dlq.schema",
     "'genres' must be an array"},
    {"catalog.t1", R"({"genres":[null]})", "dlq.schema",
     "'genres' must be an array"},
    {"catalog.t1", R"({"genres":[["Comedy"]]})", "dlq.schema",
     "'genres' must be an array"},
    {"catalog.t1", R"({"genres":[""]})", "dlq.schema",
     "'genres' must be an array of non-empty strings"},
    {"catalog.t1", R"({"min_age":-1})", "dlq.schema",
     "'min_age' must be an integer from 0"},
    {"catalog.t1", R"({"min_age":"12"})", "dlq.schema",
     "'min_age' must be an integer"},
    {"catalog.t1", R"({"min_age":6.5})", "dlq.schema",
     "'min_age' must be an integer"},
    {"catalog.t1", R"({"year":"1995"})", "dlq.schema",
     "'year' must be an integer"},
    {"catalog.t1", R"({"year":-1995})", "dlq.schema",
     "'year' must be an integer"},
    {"catalog.t1", R"({"regions":"US"})", "dlq.schema",
     "'regions' must be an array"},
    {"catalog.t1", R"({"regions":["US",7]})", "dlq.schema",
     "'regions' must be an array"},
    {"catalog.t1", R"({"available":"true"})", "dlq.schema",
     "'available' must be true or false"},
    {"catalog.t1", R"({"available":1})", "dlq.schema",
     "'available' must be true or false"},
    {"catalog.t1", R"({"available":0})", "dlq.schema",
     "'available' must be true or false"},
    // -- schema: profile ------------------------------------------------------
    {"profile.u1", R"({"max_age":-1})", "dlq.schema",
     "'max_age' must be an integer from 0"},
    {"profile.u1", R"({"max_age":"12"})", "dlq.schema",
     "'max_age' must be an integer"},
    {"profile.u1", R"({"max_age":12.5})", "dlq.schema",
     "'max_age' must be an integer"},
    {"profile.u1", R"({"region":1})", "dlq.schema",
     "'region' must be a string"},
    {"profile.u1", R"({"region":""})", "dlq.schema",
     "'region' must not be empty"},
    // -- time -----------------------------------------------------------------
    {"events.play.u1", ts_payload(now + day_ahead), "play", ""},
    {"events.play.u1", ts_payload(now + day_ahead + 1), "dlq.time",
     "more than 1d ahead of the server clock"},
    {"events.play.u1", ts_payload(now + 365 * ms_per_day), "dlq.time",
     "'ts' (" + std::to_string(now + 365 * ms_per_day) + ")"},
    {"events.impression.u1", ts_payload(now + day_ahead), "impression", ""},
    {"events.impression.u1", ts_payload(now + day_ahead + 1), "dlq.time",
     "ahead of the server clock"},
    {"events.feedback.u1", ts_payload(now + day_ahead, R"(,"value":1)"),
     "feedback", ""},
    {"events.feedback.u1", ts_payload(now + day_ahead + 1, R"(,"value":1)"),
     "dlq.time", "ahead of the server clock (" + std::to_string(now) + ")"},
    // The largest integer is a time, only far too late.
    {"events.play.u1", ts_payload(std::numeric_limits<int64_t>::max()),
     "dlq.time", "ahead of the server clock"},
  };
}

} // namespace

TEST_CASE("each event is accepted or sent to the DLQ with the contract's "
          "reason",
          "[wire][decoder]") {
  for (const auto& c : decode_cases()) {
    INFO("subject tail: " << c.tail);
    INFO("payload: " << c.payload.substr(0, 200));
    id_tables ids;
    auto ev = decode(c.tail, c.payload, ids);
    CHECK(outcome_of(ev) == c.outcome);
    auto msg = message_of(ev);
    if (c.outcome.rfind("dlq.", 0) == 0) {
      INFO("message: " << msg);
      CHECK(msg.find(c.fragment) != std::string::npos);
      // A rejected event interns neither its user nor its title.
      CHECK(ids.users.size() == 0);
      CHECK(ids.titles.size() == 0);
    } else {
      CHECK(msg.empty());
    }
  }
}

TEST_CASE("the decoding table exercises every DLQ reason and event kind",
          "[wire][decoder]") {
  std::set<std::string> seen;
  for (const auto& c : decode_cases())
    seen.insert(c.outcome);
  for (auto reason : {dlq_reason::json, dlq_reason::schema, dlq_reason::id,
                      dlq_reason::size, dlq_reason::time})
    CHECK(seen.count(std::string{"dlq."} + to_string(reason)) == 1);
  for (auto kind : {"play", "impression", "feedback", "catalog", "profile"})
    CHECK(seen.count(kind) == 1);
}

TEST_CASE("each DLQ reason names its subject token", "[wire][decoder]") {
  CHECK(std::string{to_string(dlq_reason::json)} == "json");
  CHECK(std::string{to_string(dlq_reason::schema)} == "schema");
  CHECK(std::string{to_string(dlq_reason::id)} == "id");
  CHECK(std::string{to_string(dlq_reason::size)} == "size");
  CHECK(std::string{to_string(dlq_reason::time)} == "time");
}

TEST_CASE("the size limit and the future limit come from the limits passed",
          "[wire][decoder]") {
  id_tables ids;
  decode_limits tight;
  tight.max_payload = 64;
  tight.max_future_ms = ms_per_hour;
  auto at_limit = play_of_size(64);
  auto over_limit = play_of_size(65);
  CHECK(outcome_of(decode_event("events.play.u1", at_limit, now, tight, ids)) ==
        "play");
  auto big = decode_event("events.play.u1", over_limit, now, tight, ids);
  CHECK(outcome_of(big) == "dlq.size");
  CHECK_THAT(message_of(big),
             Catch::Contains("65 bytes") && Catch::Contains("limit of 64"));
  CHECK(outcome_of(decode_event("events.play.u1", ts_payload(now + ms_per_hour),
                                now, tight, ids)) == "play");
  auto ahead = decode_event("events.play.u1", ts_payload(now + ms_per_hour + 1),
                            now, tight, ids);
  CHECK(outcome_of(ahead) == "dlq.time");
  CHECK_THAT(message_of(ahead), Catch::Contains("1h ahead"));
}

TEST_CASE("a time ahead of the receive time is taken as the receive time, "
          "and a time before it is kept",
          "[wire][decoder]") {
  id_tables ids;
  decode_limits limits;
  const std::pair<int64_t, int64_t> cases[] = {
    {now + 23 * ms_per_hour, now}, // a producer clock 23 h fast
    {now + 1, now},
    {now, now},
    {now - 1, now - 1},
    {now - 30 * 24 * ms_per_hour, now - 30 * 24 * ms_per_hour}, // history
  };
  for (auto [ts, expected] : cases) {
    INFO("ts " << ts);
    for (const char* tail :
         {"events.play.u1", "events.impression.u1", "events.feedback.u1"}) {
      std::string body =
        R"({"title":"t1","value":1,"ts":)" + std::to_string(ts) + "}";
      auto ev = decode_event(tail, body, now, limits, ids);
      auto got = std::visit(
        [](const auto& x) -> int64_t {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, rejection>)
            return -1;
          else if constexpr (std::is_same_v<std::decay_t<decltype(x)>,
                                            catalog_event> ||
                             std::is_same_v<std::decay_t<decltype(x)>,
                                            profile_event>)
            return -2;
          else
            return x.ts;
        },
        ev);
      CHECK(got == expected);
    }
  }
}

TEST_CASE("an event without optional fields gets the contract's defaults",
          "[wire][decoder]") {
  id_tables ids;
  SECTION("play: ts now, progress 1, no region") {
    auto ev = decode("events.play.u1", R"({"title":"t1"})", ids);
    REQUIRE(std::holds_alternative<play_event>(ev));
    const auto& play = std::get<play_event>(ev);
    CHECK(play.ts == now);
    CHECK(play.progress == 1.0);
    CHECK(play.region == all_regions);
  }
  SECTION("impression: ts now, position -1") {
    auto ev = decode("events.impression.u1", R"({"title":"t1"})", ids);
    REQUIRE(std::holds_alternative<impression_event>(ev));
    const auto& imp = std::get<impression_event>(ev);
    CHECK(imp.ts == now);
    CHECK(imp.position == -1);
  }
  SECTION("feedback: ts now") {
    auto ev = decode("events.feedback.u1", R"({"title":"t1","value":-1})", ids);
    REQUIRE(std::holds_alternative<feedback_event>(ev));
    CHECK(std::get<feedback_event>(ev).ts == now);
    CHECK(std::get<feedback_event>(ev).value == -1);
  }
  SECTION("catalog: available everywhere, no genres, no age limit") {
    auto ev = decode("catalog.t1", R"({})", ids);
    REQUIRE(std::holds_alternative<catalog_event>(ev));
    const auto& meta = std::get<catalog_event>(ev).meta;
    CHECK(meta.available);
    CHECK(meta.regions.empty());
    CHECK(meta.genres.empty());
    CHECK(meta.min_age == 0);
    CHECK(meta.year == 0);
    CHECK(meta.name.empty());
  }
  SECTION("profile: no age limit, no region") {
    auto ev = decode("profile.u1", R"({})", ids);
    REQUIRE(std::holds_alternative<profile_event>(ev));
    const auto& profile = std::get<profile_event>(ev).profile;
    CHECK_FALSE(profile.max_age.has_value());
    CHECK_FALSE(profile.region.has_value());
  }
}

TEST_CASE("null fields take the same defaults as absent ones",
          "[wire][decoder]") {
  id_tables ids;
  auto play = decode("events.play.u1",
                     R"({"title":"t1","ts":null,"progress":null,)"
                     R"("region":null,"device":null})",
                     ids);
  REQUIRE(std::holds_alternative<play_event>(play));
  CHECK(std::get<play_event>(play).ts == now);
  CHECK(std::get<play_event>(play).progress == 1.0);
  CHECK(std::get<play_event>(play).region == all_regions);
  auto imp = decode("events.impression.u1",
                    R"({"title":"t1","position":null,"row":null})", ids);
  REQUIRE(std::holds_alternative<impression_event>(imp));
  CHECK(std::get<impression_event>(imp).position == -1);
  auto cat = decode("catalog.t1",
                    R"({"available":null,"regions":null,"min_age":null})", ids);
  REQUIRE(std::holds_alternative<catalog_event>(cat));
  CHECK(std::get<catalog_event>(cat).meta.available);
  CHECK(std::get<catalog_event>(cat).meta.regions.empty());
  auto prof = decode("profile.u1", R"({"max_age":null,"region":null})", ids);
  REQUIRE(std::holds_alternative<profile_event>(prof));
  CHECK_FALSE(std::get<profile_event>(prof).profile.max_age.has_value());
  CHECK_FALSE(std::get<profile_event>(prof).profile.region.has_value());
}

TEST_CASE("every field of a complete event is decoded", "[wire][decoder]") {
  id_tables ids;
  SECTION("play") {
    auto ev = decode("events.play.u42",
                     R"({"title":"t7","ts":1699999999000,"progress":0.25,)"
                     R"("region":"US","device":"tv","extra":[1]})",
                     ids);
    REQUIRE(std::holds_alternative<play_event>(ev));
    const auto& play = std::get<play_event>(ev);
    CHECK(ids.users.name(play.user) == "u42");
    CHECK(ids.titles.name(play.title) == "t7");
    CHECK(play.ts == 1'699'999'999'000);
    CHECK(play.progress == 0.25);
    REQUIRE(play.region != all_regions);
    CHECK(ids.regions.name(play.region) == "US");
  }
  SECTION("impression") {
    auto ev = decode("events.impression.u42",
                     R"({"title":"t7","ts":5,"row":"home","position":3})", ids);
    REQUIRE(std::holds_alternative<impression_event>(ev));
    const auto& imp = std::get<impression_event>(ev);
    CHECK(ids.users.name(imp.user) == "u42");
    CHECK(ids.titles.name(imp.title) == "t7");
    CHECK(imp.ts == 5);
    CHECK(imp.position == 3);
  }
  SECTION("feedback") {
    auto up = decode("events.feedback.u42", R"({"title":"t7","value":1})", ids);
    REQUIRE(std::holds_alternative<feedback_event>(up));
    CHECK(std::get<feedback_event>(up).value == 1);
    CHECK(ids.titles.name(std::get<feedback_event>(up).title) == "t7");
    auto down =
      decode("events.feedback.u42", R"({"title":"t7","value":-1,"ts":9})", ids);
    REQUIRE(std::holds_alternative<feedback_event>(down));
    CHECK(std::get<feedback_event>(down).value == -1);
    CHECK(std::get<feedback_event>(down).ts == 9);
  }
  SECTION("catalog") {
    auto ev = decode("catalog.t7",
                     R"({"name":"Toy Story","genres":["Animation","Comedy"],)"
                     R"("min_age":6,"year":1995,"regions":["US","GB"],)"
                     R"("available":false})",
                     ids);
    REQUIRE(std::holds_alternative<catalog_event>(ev));
    const auto& cat = std::get<catalog_event>(ev);
    CHECK(ids.titles.name(cat.title) == "t7");
    CHECK(cat.meta.name == "Toy Story");
    CHECK(cat.meta.min_age == 6);
    CHECK(cat.meta.year == 1995);
    CHECK_FALSE(cat.meta.available);
    std::vector<std::string> genres;
    for (auto g : cat.meta.genres)
      genres.emplace_back(ids.genres.name(g));
    std::sort(genres.begin(), genres.end());
    CHECK(genres == std::vector<std::string>{"Animation", "Comedy"});
    std::vector<std::string> regions;
    for (auto r : cat.meta.regions)
      regions.emplace_back(ids.regions.name(r));
    std::sort(regions.begin(), regions.end());
    CHECK(regions == std::vector<std::string>{"GB", "US"});
  }
  SECTION("profile") {
    auto ev = decode("profile.u42", R"({"max_age":12,"region":"US"})", ids);
    REQUIRE(std::holds_alternative<profile_event>(ev));
    const auto& prof = std::get<profile_event>(ev);
    CHECK(ids.users.name(prof.user) == "u42");
    CHECK(prof.profile.max_age == 12);
    REQUIRE(prof.profile.region.has_value());
    CHECK(ids.regions.name(*prof.profile.region) == "US");
  }
}

TEST_CASE("genres and regions are sorted and deduplicated", "[wire][decoder]") {
  id_tables ids;
  // Keys in the reverse of the order the event lists them.
  for (auto g : {"Drama", "Comedy", "Animation"})
    ids.genres.intern(g);
  for (auto r : {"US", "GB"})
    ids.regions.intern(r);
  auto ev = decode("catalog.t1",
                   R"({"genres":["Animation","Comedy","Animation","Comedy"],)"
                   R"("regions":["GB","US","GB"]})",
                   ids);
  REQUIRE(std::holds_alternative<catalog_event>(ev));
  const auto& meta = std::get<catalog_event>(ev).meta;
  CHECK(meta.genres == std::vector<genre_key>{*ids.genres.find("Comedy"),
                                              *ids.genres.find("Animation")});
  CHECK(std::is_sorted(meta.genres.begin(), meta.genres.end()));
  CHECK(meta.regions == std::vector<region_key>{*ids.regions.find("US"),
                                                *ids.regions.find("GB")});
}

TEST_CASE("the same id always interns to the same key", "[wire][decoder]") {
  id_tables ids;
  auto play = decode("events.play.u1", R"({"title":"t1"})", ids);
  auto imp = decode("events.impression.u1", R"({"title":"t1"})", ids);
  auto fb = decode("events.feedback.u2", R"({"title":"t1","value":1})", ids);
  auto cat = decode("catalog.t1", R"({})", ids);
  auto prof = decode("profile.u2", R"({})", ids);
  auto other = decode("events.play.u2", R"({"title":"t2"})", ids);
  REQUIRE(std::holds_alternative<play_event>(play));
  REQUIRE(std::holds_alternative<impression_event>(imp));
  REQUIRE(std::holds_alternative<feedback_event>(fb));
  REQUIRE(std::holds_alternative<catalog_event>(cat));
  REQUIRE(std::holds_alternative<profile_event>(prof));
  REQUIRE(std::holds_alternative<play_event>(other));
  auto u1 = std::get<play_event>(play).user;
  auto u2 = std::get<feedback_event>(fb).user;
  auto t1 = std::get<play_event>(play).title;
  CHECK(u1 != u2);
  CHECK(std::get<impression_event>(imp).user == u1);
  CHECK(std::get<profile_event>(prof).user == u2);
  CHECK(std::get<play_event>(other).user == u2);
  CHECK(std::get<impression_event>(imp).title == t1);
  CHECK(std::get<feedback_event>(fb).title == t1);
  CHECK(std::get<catalog_event>(cat).title == t1);
  CHECK(std::get<play_event>(other).title != t1);
  CHECK(ids.users.find("u1") == u1);
  CHECK(ids.users.find("u2") == u2);
  CHECK(ids.titles.find("t1") == t1);
  CHECK(ids.users.size() == 2);
  CHECK(ids.titles.size() == 2);
}

TEST_CASE("a rejected event leaves the id tables as they were",
          "[wire][decoder]") {
  id_tables ids;
  REQUIRE(std::holds_alternative<play_event>(
    decode("events.play.u1", R"({"title":"t1"})", ids)));
  auto users = ids.users.size();
  auto titles = ids.titles.size();
  const std::pair<const char*, const char*> rejected[] = {
    {"events.play.u_new", R"({"title":"t_new","progress":2})"},
    {"events.play.u_new", R"({"title":"t_new","device":5})"},
    {"events.impression.u_new", R"({"title":"t_new","position":-3})"},
    {"events.feedback.u_new", R"({"title":"t_new","value":0})"},
    {"events.feedback.u_new", R"({"title":"t_new","value":1,"ts":"x"})"},
    {"events.play.u_new", R"({"title":"t_new","ts":9999999999999})"},
    {"catalog.t_new", R"({"available":"yes"})"},
    {"profile.u_new", R"({"max_age":-1})"},
    {"profile.u_new", R"({"region":7})"},
    {"catalog.t_new", R"({"genres":["g_new"],"regions":["r_new"],)"
                      R"("available":"no"})"},
    {"events.play.u_new", R"({"title":"t_new","region":"r_new","device":5})"},
    {"profile.u_new", R"({"region":"r_new","max_age":-1})"},
  };
  for (const auto& [tail, payload] : rejected) {
    INFO(tail << " " << payload);
    CHECK(std::holds_alternative<rejection>(decode(tail, payload, ids)));
    CHECK(ids.users.size() == users);
    CHECK(ids.titles.size() == titles);
    CHECK_FALSE(ids.users.find("u_new").has_value());
    CHECK_FALSE(ids.titles.find("t_new").has_value());
    CHECK_FALSE(ids.genres.find("g_new").has_value());
    CHECK_FALSE(ids.regions.find("r_new").has_value());
  }
}

TEST_CASE("a payload is decoded on its own, whatever was decoded before",
          "[wire][decoder]") {
  // The decoder reuses a buffer per thread: a short payload after a long one
  // must not see the long one's bytes.
  id_tables ids;
  auto long_payload = R"({"title":"t1","device":"tv","region":"US"})";
  REQUIRE(std::holds_alternative<play_event>(
    decode("events.play.u1", long_payload, ids)));
  CHECK(outcome_of(decode("events.play.u1", R"({"title":"t1")", ids)) ==
        "dlq.json");
  CHECK(outcome_of(decode("events.play.u1", "", ids)) == "dlq.json");
  auto ev = decode("events.play.u1", R"({"title":"t2"})", ids);
  REQUIRE(std::holds_alternative<play_event>(ev));
  CHECK(ids.titles.name(std::get<play_event>(ev).title) == "t2");
}

TEST_CASE("a new id past its cap is a dead letter that names the cap and its "
          "key; known ids still pass and nothing new is interned",
          "[wire][decoder][limits]") {
  id_tables ids;
  ids.users.set_limit(2);
  ids.titles.set_limit(2);
  ids.regions.set_limit(1);
  ids.genres.set_limit(1);
  // Fill every cap.
  REQUIRE(std::holds_alternative<play_event>(
    decode("events.play.u1", R"({"title":"t1","region":"US"})", ids)));
  REQUIRE(std::holds_alternative<catalog_event>(
    decode("catalog.t2", R"({"genres":["Drama"],"regions":["US"]})", ids)));
  REQUIRE(std::holds_alternative<profile_event>(
    decode("profile.u2", R"({"region":"US"})", ids)));
  const auto users = "user limit reached: 2 distinct users (limits.max_users)";
  const auto titles =
    "title limit reached: 2 distinct titles (limits.max_titles)";
  const auto regions =
    "region limit reached: 1 distinct regions (limits.max_regions)";
  const auto genres =
    "genre limit reached: 1 distinct genres (limits.max_genres)";
  struct limit_case {
    const char* tail;
    const char* payload;
    const char* outcome;
    const char* message;
  };
  const limit_case cases[] = {
    {"events.play.u3", R"({"title":"t1"})", "dlq.id", users},
    {"events.impression.u3", R"({"title":"t1"})", "dlq.id", users},
    {"events.feedback.u3", R"({"title":"t1","value":1})", "dlq.id", users},
    {"profile.u3", "{}", "dlq.id", users},
    {"events.play.u1", R"({"title":"t3"})", "dlq.id", titles},
    {"events.impression.u1", R"({"title":"t3"})", "dlq.id", titles},
    {"catalog.t3", "{}", "dlq.id", titles},
    {"events.play.u1", R"({"title":"t1","region":"GB"})", "dlq.schema",
     regions},
    {"profile.u1", R"({"region":"GB"})", "dlq.schema", regions},
    {"catalog.t1", R"({"regions":["US","GB"]})", "dlq.schema", regions},
    {"catalog.t1", R"({"genres":["Comedy"]})", "dlq.schema", genres},
    // Several caps at once: the first checked is named, none is interned.
    {"events.play.u3", R"({"title":"t3","region":"GB"})", "dlq.schema",
     regions},
    {"catalog.t3", R"({"genres":["Comedy"],"regions":["GB"]})", "dlq.schema",
     genres},
  };
  for (const auto& c : cases) {
    INFO(c.tail << " " << c.payload);
    auto ev = decode(c.tail, c.payload, ids);
    REQUIRE(outcome_of(ev) == c.outcome);
    CHECK(std::get<rejection>(ev).message == c.message);
    CHECK(ids.users.size() == 2);
    CHECK(ids.titles.size() == 2);
    CHECK(ids.regions.size() == 1);
    CHECK(ids.genres.size() == 1);
  }
  // Known ids keep working at the caps.
  CHECK(outcome_of(decode("events.play.u2", R"({"title":"t2","region":"US"})",
                          ids)) == "play");
  CHECK(outcome_of(decode("catalog.t1", R"({"genres":["Drama"]})", ids)) ==
        "catalog");
  CHECK(outcome_of(decode("events.feedback.u1", R"({"title":"t2","value":-1})",
                          ids)) == "feedback");
}

TEST_CASE("past the cap an id known elsewhere (stored) still comes in",
          "[wire][decoder][limits]") {
  id_tables ids;
  ids.users.set_limit(1, [](std::string_view id) { return id == "u_stored"; });
  ids.titles.set_limit(1, [](std::string_view id) { return id == "t_stored"; });
  REQUIRE(outcome_of(decode("events.play.u1", R"({"title":"t1"})", ids)) ==
          "play");
  CHECK(outcome_of(decode("events.play.u_stored", R"({"title":"t_stored"})",
                          ids)) == "play");
  CHECK(outcome_of(decode("events.play.u_new", R"({"title":"t1"})", ids)) ==
        "dlq.id");
  CHECK(outcome_of(decode("events.play.u1", R"({"title":"t_new"})", ids)) ==
        "dlq.id");
  CHECK(ids.users.size() == 2);
  CHECK(ids.titles.size() == 2);
}
