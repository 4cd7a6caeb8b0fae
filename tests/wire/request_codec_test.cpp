#include "wire/request_codec.hpp"

#include "domain/window.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

using namespace marquee;

namespace {

/// The request clock of every test.
constexpr int64_t now = 1'700'000'000'000;

constexpr int64_t hour = ms_per_hour;
constexpr int64_t day = ms_per_day;

/// The contract's defaults: impression windows 1d, 7d, 30d, 180d, 365d;
/// trending windows 1h, 1d, 7d with 1d behind rows; k 20 of at most 200.
service_params make_params() {
  service_params p;
  p.user.impressions = impression_params::make(
    0.5, {day, 7 * day, 30 * day, 180 * day, 365 * day}, day, 128);
  p.trending = trending_params::make(0.5, {hour, day, 7 * day}, 1000);
  p.rec.trending_window = 1;
  p.rec.default_k = 20;
  p.rec.max_k = 200;
  p.experiments.variants = {{"control", 1, {}}, {"B", 1, {}}};
  return p;
}

template <class T>
T accepted(const std::variant<T, bad_request>& res) {
  if (auto bad = std::get_if<bad_request>(&res))
    FAIL("rejected: " << bad->message);
  return std::get<T>(res);
}

template <class T>
std::string rejected(const std::variant<T, bad_request>& res) {
  REQUIRE(std::holds_alternative<bad_request>(res));
  return std::get<bad_request>(res).message;
}

struct bad_body {
  std::string body;
  std::string fragment; // part of the 400 sentence
};

rapidjson::Document parse_json(const std::string& text) {
  INFO("JSON: " << text);
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

std::vector<std::string> member_names(const rapidjson::Value& obj) {
  std::vector<std::string> out;
  for (auto i = obj.MemberBegin(); i != obj.MemberEnd(); ++i)
    out.emplace_back(i->name.GetString());
  return out;
}

} // namespace

// -- recommendations ----------------------------------------------------------

TEST_CASE("a recommendation request without fields takes the defaults",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  for (std::string body : {"", " ", "\n\t \r\n", "{}", " { } "}) {
    INFO("body: '" << body << "'");
    auto q = accepted(decode_rec_request(7, "u1", body, now, p, ids));
    CHECK(q.user == 7);
    CHECK(q.k == 20);
    CHECK(q.row == rec_row::home);
    CHECK(q.at == now);
    CHECK_FALSE(q.explain);
    CHECK(q.exclude.empty());
    CHECK(q.genres.empty());
    // Assigned by the hash of the user's id.
    CHECK(q.variant == p.experiments.assign("u1"));
  }
}

TEST_CASE("the variant is the one the request names, else the one the "
          "user's id hashes to",
          "[wire][codec][experiments]") {
  auto p = make_params();
  id_tables ids;
  std::vector<size_t> seen(2, 0);
  for (int i = 0; i < 100; ++i) {
    auto id = "u" + std::to_string(i);
    auto q = accepted(decode_rec_request(0, id, "{}", now, p, ids));
    CHECK(q.variant == p.experiments.assign(id));
    ++seen[q.variant];
    // An empty variant is none: the user's own.
    CHECK(accepted(decode_rec_request(0, id, R"({"variant":""})", now, p, ids))
            .variant == q.variant);
    CHECK(accepted(
            decode_rec_request(0, id, R"({"variant":"control"})", now, p, ids))
            .variant == 0);
  }
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  CHECK_THAT(
    rejected(decode_rec_request(0, "u1", R"({"variant":"b"})", now, p, ids)),
    Catch::Contains("'variant' must be one of the configured variants "
                    "(control, B), not 'b'"));
}

TEST_CASE("k defaults to the configured default_k", "[wire][codec]") {
  auto p = make_params();
  p.rec.default_k = 17;
  id_tables ids;
  CHECK(accepted(decode_rec_request(0, "u1", "{}", now, p, ids)).k == 17);
  CHECK(accepted(decode_rec_request(0, "u1", R"({"k":null})", now, p, ids)).k ==
        17);
}

TEST_CASE("k is accepted from 1 to max_k", "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  CHECK(accepted(decode_rec_request(0, "u1", R"({"k":1})", now, p, ids)).k ==
        1);
  CHECK(accepted(decode_rec_request(0, "u1", R"({"k":200})", now, p, ids)).k ==
        200);
  const bad_body bad[] = {
    {R"({"k":0})", "'k' must be an integer from 1 to 200"},
    {R"({"k":201})", "'k' must be an integer from 1 to 200"},
    {R"({"k":-1})", "'k'"},
    {R"({"k":2.5})", "'k'"},
    {R"({"k":"20"})", "'k'"},
    {R"({"k":true})", "'k'"},
  };
  for (const auto& c : bad) {
    INFO("body: " << c.body);
    CHECK_THAT(rejected(decode_rec_request(0, "u1", c.body, now, p, ids)),
               Catch::Contains(c.fragment));
  }
  p.rec.max_k = 50;
  CHECK_THAT(rejected(decode_rec_request(0, "u1", R"({"k":51})", now, p, ids)),
             Catch::Contains("from 1 to 50"));
}

TEST_CASE("every row of the contract decodes, any other is rejected",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  const std::pair<const char*, rec_row> rows[] = {
    {"home", rec_row::home},
    {"because_you_watched", rec_row::because_you_watched},
    {"continue_watching", rec_row::continue_watching},
    {"trending", rec_row::trending},
  };
  for (const auto& [name, row] : rows) {
    INFO("row: " << name);
    auto body = std::string{R"({"row":")"} + name + R"("})";
    CHECK(accepted(decode_rec_request(0, "u1", body, now, p, ids)).row == row);
    CHECK(std::string{to_string(row)} == name);
  }
  CHECK_THAT(
    rejected(decode_rec_request(0, "u1", R"({"row":"popular"})", now, p, ids)),
    Catch::Contains("'row' must be one of home, because_you_watched, "
                    "continue_watching, trending"));
  CHECK_THAT(
    rejected(decode_rec_request(0, "u1", R"({"row":"Home"})", now, p, ids)),
    Catch::Contains("'row'"));
  CHECK_THAT(rejected(decode_rec_request(0, "u1", R"({"row":1})", now, p, ids)),
             Catch::Contains("'row' must be a string"));
}

TEST_CASE("a recommendation request carries at, explain, exclude, genres and "
          "variant",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto t1 = *ids.titles.intern("t1");
  auto t2 = *ids.titles.intern("t2");
  auto comedy = *ids.genres.intern("Comedy");
  auto drama = *ids.genres.intern("Drama");
  auto q = accepted(decode_rec_request(
    3, "u3",
    R"({"k":5,"row":"trending","at":1234,"explain":true,)"
    R"("exclude":["t2","never_seen","t1"],"genres":["Drama","Comedy","Drama"],)"
    R"("variant":"B"})",
    now, p, ids));
  CHECK(q.user == 3);
  CHECK(q.k == 5);
  CHECK(q.row == rec_row::trending);
  CHECK(q.at == 1234);
  CHECK(q.explain);
  CHECK(q.exclude == std::vector<title_key>{t1, t2, no_title});
  CHECK(q.genres == std::vector<genre_key>{comedy, drama});
  CHECK(q.variant == 1);
}

TEST_CASE("a genre never seen becomes a key no title has", "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto comedy = *ids.genres.intern("Comedy");
  auto q = accepted(decode_rec_request(
    0, "u1", R"({"genres":["Western","Comedy"]})", now, p, ids));
  CHECK(q.genres == std::vector<genre_key>{comedy, no_genre});
  CHECK(ids.genres.size() == 1); // decoding a request interns nothing
}

TEST_CASE("a recommendation request with a bad field is a 400 naming it",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  const bad_body bad[] = {
    {R"({"exclude":["t1","t 2"]})",
     "'exclude' holds an invalid title id 't 2'"},
    {R"({"exclude":[""]})", "'exclude' holds an invalid title id"},
    {R"({"exclude":["t*"]})", "'exclude' holds an invalid title id 't*'"},
    {R"({"exclude":"t1"})", "'exclude' must be an array of strings"},
    {R"({"exclude":[1]})", "'exclude' must be an array of strings"},
    {R"({"genres":"Comedy"})", "'genres' must be an array of strings"},
    {R"({"genres":[true]})", "'genres' must be an array of strings"},
    {R"({"explain":"yes"})", "'explain' must be true or false"},
    {R"({"variant":2})", "'variant' must be a string"},
    {R"({"at":-1})", "'at' must be an integer"},
    {R"({"at":"now"})", "'at' must be an integer"},
    {R"([])", "must be a JSON object"},
    {R"("k")", "must be a JSON object"},
    {R"(null)", "must be a JSON object"},
    {R"({)", "invalid JSON"},
    {R"({"k":})", "invalid JSON"},
    {R"(k=5)", "invalid JSON"},
    {R"({"k":5,"k":6})", "the name 'k' appears twice"},
    {R"({"row":"home","explain":true,"row":"trending"})",
     "the name 'row' appears twice"},
  };
  for (const auto& c : bad) {
    INFO("body: " << c.body);
    CHECK_THAT(rejected(decode_rec_request(0, "u1", c.body, now, p, ids)),
               Catch::Contains(c.fragment));
  }
}

TEST_CASE("a request body over 64 KiB is a 400", "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto body = R"({"variant":")" + std::string(64 * 1024, 'x') + R"("})";
  CHECK_THAT(rejected(decode_rec_request(0, "u1", body, now, p, ids)),
             Catch::Contains("64 KiB"));
}

// -- trending -----------------------------------------------------------------

TEST_CASE("a trending request without fields uses the row's window",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto q = accepted(decode_trending_request("", now, p, ids));
  CHECK(q.k == 10);
  CHECK(q.window == p.rec.trending_window);
  CHECK(q.region == all_regions);
  CHECK(q.genres.empty());
  CHECK(q.at == now);
}

TEST_CASE("a trending window must be one of the configured ones",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  const std::pair<const char*, uint32_t> windows[] = {
    {"1h", 0}, {"60m", 0}, {"1d", 1}, {"24h", 1}, {"7d", 2}};
  for (const auto& [text, index] : windows) {
    INFO("window: " << text);
    auto body = std::string{R"({"window":")"} + text + R"("})";
    CHECK(accepted(decode_trending_request(body, now, p, ids)).window == index);
  }
  for (auto text : {"30d", "2h", "fortnight", "", "1w"}) {
    INFO("window: " << text);
    auto body = std::string{R"({"window":")"} + text + R"("})";
    auto msg = rejected(decode_trending_request(body, now, p, ids));
    CHECK_THAT(msg, Catch::Contains(std::string{"window '"} + text +
                                    "' is not a trending window") &&
                      Catch::Contains("windows: 1h, 1d, 7d"));
  }
  CHECK_THAT(rejected(decode_trending_request(R"({"window":1})", now, p, ids)),
             Catch::Contains("'window' must be a string"));
}

TEST_CASE("a trending request reads k, at, region and genres",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto us = *ids.regions.intern("US");
  ids.regions.intern("GB");
  auto comedy = *ids.genres.intern("Comedy");
  auto q = accepted(decode_trending_request(
    R"({"k":3,"region":"US","genres":["Comedy","Opera"],"at":77})", now, p,
    ids));
  CHECK(q.k == 3);
  CHECK(q.region == us);
  CHECK(q.genres == std::vector<genre_key>{comedy, no_genre});
  CHECK(q.at == 77);
  CHECK_THAT(rejected(decode_trending_request(R"({"k":0})", now, p, ids)),
             Catch::Contains("'k'"));
  CHECK_THAT(rejected(decode_trending_request(R"({"k":201})", now, p, ids)),
             Catch::Contains("'k'"));
  CHECK_THAT(rejected(decode_trending_request(R"({"region":5})", now, p, ids)),
             Catch::Contains("'region' must be a string"));
}

TEST_CASE("a region never seen gives a region key that matches nothing",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  ids.regions.intern("US");
  ids.regions.intern("GB");
  auto q = accepted(decode_trending_request(R"({"region":"ZZ"})", now, p, ids));
  CHECK(q.region != all_regions); // not the global list either
  CHECK(q.region >= ids.regions.size());
  CHECK_FALSE(ids.regions.find("ZZ").has_value());
}

// -- impression history -------------------------------------------------------

TEST_CASE("an impression request without fields asks for every configured "
          "window",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  for (std::string body : {"", "  \n", "{}", R"({"windows":null})"}) {
    INFO("body: '" << body << "'");
    auto req = accepted(decode_impressions_request(9, body, now, p, ids));
    CHECK(req.query.user == 9);
    CHECK(req.query.titles.empty());
    CHECK(req.title_names.empty());
    CHECK(req.query.at == now);
    CHECK(req.query.windows_ms == p.user.impressions.windows_ms);
    CHECK(req.window_names ==
          std::vector<std::string>{"1d", "7d", "30d", "180d", "365d"});
  }
}

TEST_CASE("an impression request keeps its windows as written",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto req = accepted(decode_impressions_request(
    0, R"({"windows":["7d","24h","90m"],"at":5})", now, p, ids));
  CHECK(req.query.windows_ms ==
        std::vector<int64_t>{7 * day, 24 * hour, 90 * ms_per_minute});
  CHECK(req.window_names == std::vector<std::string>{"7d", "24h", "90m"});
  CHECK(req.query.at == 5);
}

TEST_CASE("an impression request with a bad window or title is a 400",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  const bad_body bad[] = {
    {R"({"windows":["1d","fortnight"]})", "'fortnight' is not a window"},
    {R"({"windows":["0d"]})", "'0d' is not a window"},
    {R"({"windows":["1w"]})", "'1w' is not a window"},
    {R"({"windows":[]})", "'windows' must not be empty"},
    {R"({"windows":"1d"})", "'windows' must be an array of strings"},
    {R"({"windows":[1]})", "'windows' must be an array of strings"},
    {R"({"titles":["t 1"]})", "'titles' holds an invalid title id 't 1'"},
    {R"({"titles":"t1"})", "'titles' must be an array of strings"},
    {R"({"at":-5})", "'at' must be an integer"},
    {R"([1])", "must be a JSON object"},
    {R"({"titles":)", "invalid JSON"},
    {R"({"windows":["1d"],"windows":["7d"]})",
     "the name 'windows' appears twice"},
  };
  for (const auto& c : bad) {
    INFO("body: " << c.body);
    CHECK_THAT(rejected(decode_impressions_request(0, c.body, now, p, ids)),
               Catch::Contains(c.fragment));
  }
}

TEST_CASE("titles never seen are asked for as no_title, under their names",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto t7 = *ids.titles.intern("t7");
  auto req = accepted(decode_impressions_request(
    0, R"({"titles":["t7","never_seen","t7"]})", now, p, ids));
  CHECK(req.query.titles == std::vector<title_key>{t7, no_title, t7});
  CHECK(req.title_names == std::vector<std::string>{"t7", "never_seen", "t7"});
  CHECK_FALSE(ids.titles.find("never_seen").has_value());
}

// -- similar and admin --------------------------------------------------------

TEST_CASE("a similar-titles request reads k from 1 to max_k", "[wire][codec]") {
  auto p = make_params();
  CHECK(accepted(decode_similar_request("", p)) == 10);
  CHECK(accepted(decode_similar_request(R"({"k":3})", p)) == 3);
  CHECK(accepted(decode_similar_request(R"({"k":200})", p)) == 200);
  CHECK_THAT(rejected(decode_similar_request(R"({"k":0})", p)),
             Catch::Contains("'k'"));
  CHECK_THAT(rejected(decode_similar_request(R"({"k":201})", p)),
             Catch::Contains("'k'"));
  CHECK_THAT(rejected(decode_similar_request("[", p)),
             Catch::Contains("invalid JSON"));
  CHECK_THAT(rejected(decode_similar_request(R"({"k":1,"k":2})", p)),
             Catch::Contains("the name 'k' appears twice"));
}

TEST_CASE("a duplicate name is found in objects of any size and depth",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  // Many members (sorted, not pairwise), the duplicate last.
  std::string wide = "{";
  for (int i = 0; i < 500; ++i)
    wide += "\"f" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  CHECK(std::holds_alternative<rec_query>(
    decode_rec_request(0, "u1", wide + "\"k\":3}", now, p, ids)));
  CHECK_THAT(
    rejected(decode_rec_request(0, "u1", wide + "\"f7\":3}", now, p, ids)),
    Catch::Contains("the name 'f7' appears twice"));
  // Nested in unknown fields, and the same name in sibling objects is fine.
  CHECK(std::holds_alternative<rec_query>(decode_rec_request(
    0, "u1", R"({"x":{"a":1},"y":{"a":2},"z":[{"a":1},{"a":2}]})", now, p,
    ids)));
  CHECK_THAT(rejected(decode_rec_request(0, "u1", R"({"x":[[{"a":1,"a":2}]]})",
                                         now, p, ids)),
             Catch::Contains("the name 'a' appears twice"));
}

TEST_CASE("an admin id must be present and valid", "[wire][codec]") {
  CHECK(accepted(decode_admin_id(R"({"id":"u42"})")) == "u42");
  CHECK(accepted(decode_admin_id(R"({"id":"42","extra":1})")) == "42");
  const bad_body bad[] = {
    {"", "missing 'id'"},
    {"{}", "missing 'id'"},
    {R"({"id":null})", "missing 'id'"},
    {R"({"id":""})", "'id' is not a valid id"},
    {R"({"id":"u 42"})", "'id' is not a valid id"},
    {R"({"id":"u.42"})", "'id' is not a valid id"},
    {R"({"id":")" + std::string(65, 'a') + R"("})", "'id' is not a valid id"},
    {R"({"id":42})", "'id' must be a string"},
    {R"("u42")", "must be a JSON object"},
    {R"({"id":)", "invalid JSON"},
    {R"({"id":"u1","id":"u2"})", "the name 'id' appears twice"},
  };
  for (const auto& c : bad) {
    INFO("body: " << c.body);
    CHECK_THAT(rejected(decode_admin_id(c.body)), Catch::Contains(c.fragment));
  }
}

// -- replies ------------------------------------------------------------------

TEST_CASE("an error reply is {\"error\":{\"code\":..,\"message\":..}}",
          "[wire][codec]") {
  auto doc = parse_json(encode_error(404, "title \"t7\" never seen\n"));
  CHECK(member_names(doc) == std::vector<std::string>{"error"});
  const auto& err = doc["error"];
  REQUIRE(err.IsObject());
  CHECK(member_names(err) == std::vector<std::string>{"code", "message"});
  REQUIRE(err["code"].IsInt());
  CHECK(err["code"].GetInt() == 404);
  REQUIRE(err["message"].IsString());
  CHECK(std::string{err["message"].GetString()} == "title \"t7\" never seen\n");
}

TEST_CASE("an error header has no control characters, the rest as given",
          "[wire][codec]") {
  CHECK(header_text("bad\r\nX-Injected: 1\tend\x7f") ==
        "bad  X-Injected: 1 end ");
  CHECK(header_text("title \"t7\" never seen") == "title \"t7\" never seen");
  CHECK(header_text("caf\xc3\xa9") == "caf\xc3\xa9"); // UTF-8 stays
}

TEST_CASE("a recommendation reply names titles, reasons and sources",
          "[wire][codec]") {
  id_tables ids;
  auto t7 = *ids.titles.intern("t7");
  auto t9 = *ids.titles.intern("t9");
  auto t3 = *ids.titles.intern("t3");
  rec_result res;
  res.row = rec_row::because_you_watched;
  res.variant = "control";
  res.at = 1'732'240'000'123;
  res.source = t7;
  res.fallback = false;
  rec_item first;
  first.title = t9;
  first.score = 0.82;
  first.reason = rec_reason::because_you_watched;
  first.source = t7;
  first.features = {{"similarity", 0.5}, {"popularity", 2.25}};
  rec_item second;
  second.title = t3;
  second.score = 0.125;
  second.reason = rec_reason::popular;
  res.items = {first, second};
  auto doc = parse_json(encode_rec("u42", res, 345, ids));
  CHECK(std::string{doc["user"].GetString()} == "u42");
  CHECK(std::string{doc["row"].GetString()} == "because_you_watched");
  CHECK(std::string{doc["variant"].GetString()} == "control");
  REQUIRE(doc["at"].IsInt64());
  CHECK(doc["at"].GetInt64() == 1'732'240'000'123);
  REQUIRE(doc.HasMember("source"));
  CHECK(std::string{doc["source"].GetString()} == "t7");
  REQUIRE(doc["fallback"].IsBool());
  CHECK_FALSE(doc["fallback"].GetBool());
  REQUIRE(doc["took_us"].IsInt64());
  CHECK(doc["took_us"].GetInt64() == 345);
  const auto& items = doc["items"];
  REQUIRE(items.IsArray());
  REQUIRE(items.Size() == 2);
  const auto& a = items[0];
  CHECK(std::string{a["title"].GetString()} == "t9");
  CHECK(a["score"].GetDouble() == 0.82);
  CHECK(std::string{a["reason"].GetString()} == "because_you_watched");
  REQUIRE(a.HasMember("source"));
  CHECK(std::string{a["source"].GetString()} == "t7");
  REQUIRE(a.HasMember("features"));
  REQUIRE(a["features"].IsObject());
  CHECK(member_names(a["features"]) ==
        std::vector<std::string>{"similarity", "popularity"});
  CHECK(a["features"]["similarity"].GetDouble() == 0.5);
  CHECK(a["features"]["popularity"].GetDouble() == 2.25);
  const auto& b = items[1];
  CHECK(std::string{b["title"].GetString()} == "t3");
  CHECK(b["score"].GetDouble() == 0.125);
  CHECK(std::string{b["reason"].GetString()} == "popular");
  CHECK_FALSE(b.HasMember("source"));
  CHECK_FALSE(b.HasMember("features"));
}

TEST_CASE("a recommendation reply without a source leaves it out, and says "
          "fallback",
          "[wire][codec]") {
  id_tables ids;
  rec_result res;
  res.row = rec_row::home;
  res.variant = "B";
  res.at = 5;
  res.fallback = true;
  auto doc = parse_json(encode_rec("new_user", res, 0, ids));
  CHECK(std::string{doc["user"].GetString()} == "new_user");
  CHECK(std::string{doc["row"].GetString()} == "home");
  CHECK(std::string{doc["variant"].GetString()} == "B");
  CHECK_FALSE(doc.HasMember("source"));
  REQUIRE(doc["items"].IsArray());
  CHECK(doc["items"].Empty());
  CHECK(doc["fallback"].GetBool());
  CHECK(doc["took_us"].GetInt64() == 0);
}

TEST_CASE("every reason is written as the contract names it", "[wire][codec]") {
  const std::pair<rec_reason, const char*> reasons[] = {
    {rec_reason::because_you_watched, "because_you_watched"},
    {rec_reason::trending, "trending"},
    {rec_reason::popular, "popular"},
    {rec_reason::genre, "genre"},
    {rec_reason::continue_watching, "continue_watching"},
  };
  id_tables ids;
  auto t1 = *ids.titles.intern("t1");
  for (const auto& [reason, name] : reasons) {
    INFO("reason: " << name);
    CHECK(std::string{to_string(reason)} == name);
    rec_result res;
    rec_item item;
    item.title = t1;
    item.reason = reason;
    res.items = {item};
    auto doc = parse_json(encode_rec("u1", res, 1, ids));
    CHECK(std::string{doc["items"][0]["reason"].GetString()} == name);
  }
}

TEST_CASE("a trending reply names its window and titles", "[wire][codec]") {
  id_tables ids;
  auto t9 = *ids.titles.intern("t9");
  auto t4 = *ids.titles.intern("t4");
  trending_result res;
  res.at = 1'700'000'000'000;
  res.items = {{t9, 12.5, 31}, {t4, 0.25, 1}};
  auto doc = parse_json(encode_trending(res, day, ids));
  CHECK(member_names(doc) == std::vector<std::string>{"window", "at", "items"});
  CHECK(std::string{doc["window"].GetString()} == "1d");
  CHECK(doc["at"].GetInt64() == 1'700'000'000'000);
  const auto& items = doc["items"];
  REQUIRE(items.Size() == 2);
  CHECK(std::string{items[0]["title"].GetString()} == "t9");
  CHECK(items[0]["score"].GetDouble() == 12.5);
  REQUIRE(items[0]["plays"].IsUint64());
  CHECK(items[0]["plays"].GetUint64() == 31);
  CHECK(std::string{items[1]["title"].GetString()} == "t4");
  CHECK(items[1]["plays"].GetUint64() == 1);
  auto hourly = parse_json(encode_trending(trending_result{}, hour, ids));
  CHECK(std::string{hourly["window"].GetString()} == "1h");
  CHECK(hourly["items"].Empty());
}

TEST_CASE("an impression reply keys EMAs by the windows as requested",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto t7 = *ids.titles.intern("t7");
  auto req = accepted(decode_impressions_request(
    0, R"({"titles":["t7","never_seen"],"windows":["24h","7d"]})", now, p,
    ids));
  impressions_result res;
  res.at = now;
  impression_row seen;
  seen.title = t7;
  seen.count = 12;
  seen.last_ts = now - 1000;
  seen.ema = {0.53, 4.1};
  impression_row unseen;
  unseen.title = no_title;
  unseen.ema = {0, 0};
  res.rows = {seen, unseen};
  auto doc = parse_json(
    encode_impressions("u42", res, req.window_names, req.title_names, ids));
  CHECK(member_names(doc) ==
        std::vector<std::string>{"user", "at", "items", "total"});
  CHECK(std::string{doc["user"].GetString()} == "u42");
  CHECK(doc["at"].GetInt64() == now);
  const auto& items = doc["items"];
  REQUIRE(items.Size() == 2);
  const auto& a = items[0];
  CHECK(std::string{a["title"].GetString()} == "t7");
  CHECK(a["count"].GetUint() == 12);
  REQUIRE(a["last_ts"].IsInt64());
  CHECK(a["last_ts"].GetInt64() == now - 1000);
  CHECK(member_names(a["ema"]) == std::vector<std::string>{"24h", "7d"});
  CHECK(a["ema"]["24h"].GetDouble() == 0.53);
  CHECK(a["ema"]["7d"].GetDouble() == 4.1);
  const auto& b = items[1];
  CHECK(std::string{b["title"].GetString()} == "never_seen");
  CHECK(b["count"].GetUint() == 0);
  CHECK(b["last_ts"].IsNull());
  CHECK(b["ema"]["24h"].GetDouble() == 0.0);
}

TEST_CASE("an impression reply for all titles names them from the id tables",
          "[wire][codec]") {
  id_tables ids;
  auto t1 = *ids.titles.intern("t1");
  auto t2 = *ids.titles.intern("t2");
  impressions_result res;
  res.at = 10;
  res.rows = {{t2, 1, 9, {0.5}}, {t1, 2, 8, {0.25}}};
  auto doc = parse_json(encode_impressions("u1", res, {"1d"}, {}, ids));
  const auto& items = doc["items"];
  REQUIRE(items.Size() == 2);
  CHECK(std::string{items[0]["title"].GetString()} == "t2");
  CHECK(std::string{items[1]["title"].GetString()} == "t1");
  CHECK(items[1]["last_ts"].GetInt64() == 8);
  CHECK(items[1]["ema"]["1d"].GetDouble() == 0.25);
}

TEST_CASE("an impression request reads limit and offset, and names at most 16 "
          "windows",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  auto plain = accepted(decode_impressions_request(0, "{}", now, p, ids));
  CHECK(plain.page.offset == 0);
  CHECK(plain.page.limit == reply_bounds::default_items);
  auto paged = accepted(
    decode_impressions_request(0, R"({"limit":5,"offset":10})", now, p, ids));
  CHECK(paged.page.offset == 10);
  CHECK(paged.page.limit == 5);
  const bad_body bad[] = {
    {R"({"limit":0})", "'limit' must be an integer from 1 to 10000"},
    {R"({"limit":10001})", "'limit' must be an integer from 1 to 10000"},
    {R"({"offset":-1})", "'offset' must be an integer"},
    {R"({"windows":["1m","2m","3m","4m","5m","6m","7m","8m","9m","10m",)"
     R"("11m","12m","13m","14m","15m","16m","17m"]})",
     "'windows' names more than 16 windows"},
  };
  for (const auto& c : bad) {
    INFO("body: " << c.body);
    CHECK_THAT(rejected(decode_impressions_request(0, c.body, now, p, ids)),
               Catch::Contains(c.fragment));
  }
}

TEST_CASE("an impression reply holds the page asked for, no more than fits, "
          "with the total and where the next page starts",
          "[wire][codec]") {
  id_tables ids;
  impressions_result res;
  res.at = 10;
  for (int i = 0; i < 100; ++i)
    res.rows.push_back(
      {*ids.titles.intern("t" + std::to_string(i)), 1, 9, {0.5}});
  auto page = [&](reply_page pg) {
    return parse_json(encode_impressions("u1", res, {"1d"}, {}, ids, pg));
  };
  auto first = page({0, 30, SIZE_MAX});
  CHECK(first["items"].Size() == 30);
  CHECK(first["total"].GetUint64() == 100);
  CHECK(first["next_offset"].GetUint64() == 30);
  auto last = page({90, 30, SIZE_MAX});
  REQUIRE(last["items"].Size() == 10);
  CHECK(std::string{last["items"][0]["title"].GetString()} == "t90");
  CHECK_FALSE(last.HasMember("next_offset"));
  auto beyond = page({500, 30, SIZE_MAX});
  CHECK(beyond["items"].Size() == 0);
  CHECK_FALSE(beyond.HasMember("next_offset"));
  // 4 KB of room: fewer items than the limit, each page within the room.
  for (size_t offset = 0; offset < 100;) {
    auto body = encode_impressions("u1", res, {"1d"}, {}, ids,
                                   reply_page{offset, 1000, 4096});
    CHECK(body.size() <= 4096);
    auto doc = parse_json(body);
    REQUIRE(doc["items"].Size() > 0);
    CHECK(doc["items"].Size() < 100);
    offset += doc["items"].Size();
    if (offset < 100)
      CHECK(doc["next_offset"].GetUint64() == offset);
  }
}

TEST_CASE("an admin lookup reads the id, a limit and an optional at",
          "[wire][codec]") {
  auto plain = accepted(decode_admin_lookup(R"({"id":"u1"})"));
  CHECK(plain.id == "u1");
  CHECK(plain.limit == reply_bounds::default_dump_items);
  CHECK_FALSE(plain.at.has_value());
  auto full = accepted(decode_admin_lookup(R"({"id":"t1","limit":7,"at":0})"));
  CHECK(full.limit == 7);
  CHECK(full.at == 0);
  CHECK_THAT(rejected(decode_admin_lookup(R"({"id":"u1","limit":0})")),
             Catch::Contains("'limit' must be an integer from 1 to 100000"));
  CHECK_THAT(rejected(decode_admin_lookup(R"({"id":"u1","at":"now"})")),
             Catch::Contains("'at' must be an integer"));
}

TEST_CASE("a user dump cuts every list to the limit, keeps the first names, "
          "and gives the totals",
          "[wire][codec]") {
  auto p = make_params();
  id_tables ids;
  user_dump d;
  for (int i = 0; i < 12; ++i) {
    auto t = *ids.titles.intern("t" + std::to_string(i));
    d.watched.push_back(t);
    d.feedback.push_back({t, 5, 1});
    d.recent.push_back({t, 5, 1.0});
  }
  auto doc = parse_json(encode_user_dump("u1", d, p, ids, 3));
  CHECK(doc["watched"].Size() == 3);
  CHECK(std::string{doc["watched"][2].GetString()} == "t10");
  CHECK(doc["feedback"].Size() == 3);
  CHECK(std::string{doc["feedback"][1]["title"].GetString()} == "t1");
  CHECK(doc["recent_plays"].Size() == 3);
  CHECK(doc["totals"]["watched"].GetUint64() == 12);
  CHECK(doc["totals"]["feedback"].GetUint64() == 12);
  CHECK(doc["truncated"].GetBool());
  auto whole = parse_json(encode_user_dump("u1", d, p, ids, 12));
  CHECK(whole["watched"].Size() == 12);
  CHECK_FALSE(whole["truncated"].GetBool());
}
