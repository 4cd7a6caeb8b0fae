// Regressions found by the fuzz targets (tests/fuzz/, scripts/fuzz.sh) in
// the configuration and the request codec, as plain unit tests.

#include "bootstrap/config.hpp"
#include "wire/request_codec.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>
#include <variant>
#include <vector>

using namespace marquee;

TEST_CASE("every configuration value prints as TOML that reads back as the "
          "same text",
          "[bootstrap][config][fuzz]") {
  struct row {
    const char* key;
    std::string text;
  };
  // fuzz_config: `marquee config` printed these unescaped or bare, so the
  // printed file did not load, or loaded as something else.
  const std::vector<row> rows = {
    {"service.prefix", "a\"b"},
    {"service.instance_id", "line\nbreak"},
    {"experiments.salt", "back\\slash"},
    {"rec.seeds", "1."},  // not a TOML number
    {"rec.seeds", "007"}, // neither
    {"rec.seeds", "1e3"}, // a TOML number, but not the same text
    {"impressions.windows", ","},
    {"impressions.windows", "1d,,7d"},
    {"variant.B.seeds", "abc"},
  };
  for (const auto& r : rows) {
    INFO(r.key << " = " << r.text);
    config cfg;
    std::string error;
    REQUIRE(cfg.set(r.key, r.text, error));
    auto printed = cfg.to_toml();
    INFO(printed);
    config again;
    REQUIRE(again.load_text(printed, error));
    CHECK(again.get(r.key) == r.text);
    CHECK(again.to_toml() == printed);
  }
}

TEST_CASE("a TOML list keeps its blank items, for validation to refuse",
          "[bootstrap][config][fuzz]") {
  config cfg;
  std::string error;
  REQUIRE(
    cfg.load_text("[impressions]\nwindows = [\"\", \"1d\", \"\"]\n", error));
  CHECK(cfg.get("impressions.windows") == ",1d,");
  REQUIRE(cfg.load_text("[impressions]\nwindows = \"1d\"\n", error));
  CHECK(cfg.get("impressions.windows") == "1d");
}

TEST_CASE("configuration text that is no TOML is refused with the place",
          "[bootstrap][config]") {
  config cfg;
  std::string error;
  CHECK_FALSE(cfg.load_text("[rec]\nseeds = \n", error));
  CHECK_THAT(error, Catch::StartsWith("cannot read config text: "));
  CHECK_THAT(error, Catch::Contains("line 2"));
}

// fuzz_request_codec: a 400 that quotes the request cut the quote at a byte
// count, in the middle of a UTF-8 character: the reply body was not UTF-8
// (CONTRACT.md: payloads are UTF-8 JSON). The quote is now cut on a
// character boundary (quote_prefix in wire/request_codec.cpp).
TEST_CASE("a 400 that quotes the request is valid UTF-8", "[wire][fuzz]") {
  config cfg;
  std::string error;
  REQUIRE(cfg.set("experiments.variants", "control,B", error));
  auto p = cfg.to_params(error);
  REQUIRE(p);
  id_tables ids;
  const std::string e_acute = "\xc3\xa9";
  // Each quote is cut after 64, 80 and 20 bytes: one byte short of the end
  // of the two-byte character at the cut.
  auto rec = [&](const std::string& body) {
    return decode_rec_request(0, "u42", body, 0, *p, ids);
  };
  std::vector<std::variant<rec_query, bad_request>> recs = {
    rec("{\"variant\":\"" + std::string(63, 'a') + e_acute + "\"}"),
    rec("{\"exclude\":[\"" + std::string(79, 'a') + e_acute + "\"]}"),
  };
  auto impressions = decode_impressions_request(
    0, "{\"windows\":[\"" + std::string(19, 'a') + e_acute + "\"]}", 0, *p,
    ids);
  auto trending = decode_trending_request(
    "{\"window\":\"" + std::string(19, 'a') + e_acute + "\"}", 0, *p, ids);
  std::vector<std::string> messages;
  for (const auto& r : recs) {
    REQUIRE(std::holds_alternative<bad_request>(r));
    messages.push_back(std::get<bad_request>(r).message);
  }
  REQUIRE(std::holds_alternative<bad_request>(impressions));
  messages.push_back(std::get<bad_request>(impressions).message);
  REQUIRE(std::holds_alternative<bad_request>(trending));
  messages.push_back(std::get<bad_request>(trending).message);
  for (const auto& m : messages) {
    INFO(m);
    CHECK(simdjson::validate_utf8(m.data(), m.size()));
    auto body = encode_error(400, m);
    CHECK(simdjson::validate_utf8(body.data(), body.size()));
  }
}
