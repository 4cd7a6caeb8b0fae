#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>

using namespace marquee;

namespace {

constexpr int64_t minute = ms_per_minute;
constexpr int64_t hour = ms_per_hour;
constexpr int64_t day = ms_per_day;

std::string show(const std::optional<int64_t>& x) {
  return x ? std::to_string(*x) : std::string("nullopt");
}

} // namespace

TEST_CASE("windows parse as a count and a unit of m, h or d",
          "[domain][window]") {
  struct window_case {
    std::string text;
    std::optional<int64_t> ms;
  };
  const window_case cases[] = {
    {"30m", 30 * minute},
    {"1m", minute},
    {"90m", 90 * minute},
    {"1h", hour},
    {"36h", 36 * hour},
    {"1d", day},
    {"7d", 7 * day},
    {"365d", 365 * day},
    {"36500d", 36500 * day},
    {"0m", std::nullopt},
    {"0h", std::nullopt},
    {"0d", std::nullopt},
    {"00h", std::nullopt},
    {"1x", std::nullopt},
    {"1s", std::nullopt},
    {"1H", std::nullopt},
    {"1D", std::nullopt},
    {"", std::nullopt},
    {"h", std::nullopt},
    {"m", std::nullopt},
    {"d", std::nullopt},
    {"1", std::nullopt},
    {"-1h", std::nullopt},
    {"+1h", std::nullopt},
    {" 1h", std::nullopt},
    {"1h ", std::nullopt},
    {"1 h", std::nullopt},
    {"1.5h", std::nullopt},
    {"1e3m", std::nullopt},
    {"1hh", std::nullopt},
    {"h1", std::nullopt},
    {"1h1", std::nullopt},
    {"0x1h", std::nullopt},
    {std::string("1\0h", 3), std::nullopt},
    // Over 100 years, and counts that would overflow.
    {"36601d", std::nullopt},
    {"100000d", std::nullopt},
    {"99999999999m", std::nullopt},
    {"99999999999d", std::nullopt},
    {"9223372036854775807m", std::nullopt},
    {"18446744073709551617d", std::nullopt},
    {"99999999999999999999999999h", std::nullopt},
  };
  for (const auto& c : cases) {
    auto got = parse_window(c.text);
    INFO("'" << c.text << "': got " << show(got) << ", want " << show(c.ms));
    CHECK(got == c.ms);
  }
}

TEST_CASE("windows format with the largest unit that divides them",
          "[domain][window]") {
  struct format_case {
    int64_t ms;
    std::string text;
  };
  const format_case cases[] = {
    {minute, "1m"},
    {30 * minute, "30m"},
    {90 * minute, "90m"},
    {hour, "1h"},
    {36 * hour, "36h"},
    {24 * hour, "1d"},
    {7 * day, "7d"},
    {365 * day, "365d"},
    {7 * day + hour, "169h"},
    {day + minute, "1441m"},
    {0, "0m"},
    {59'999, "0m"},
    {90'500, "1m"},
    {hour + 1, "60m"},
    {-hour, "0m"},
  };
  for (const auto& c : cases) {
    INFO("ms " << c.ms);
    CHECK(format_window(c.ms) == c.text);
  }
}

TEST_CASE("a whole-minute window survives formatting and parsing",
          "[domain][window]") {
  std::mt19937_64 rng{3};
  std::uniform_int_distribution<int64_t> minutes(1, 365 * 24 * 60);
  for (int i = 0; i < 2000; ++i) {
    auto ms = minutes(rng) * minute;
    if (i % 3 == 1)
      ms = (ms / hour + 1) * hour;
    if (i % 3 == 2)
      ms = (ms / day + 1) * day;
    auto text = format_window(ms);
    INFO("ms " << ms << " formats as " << text);
    REQUIRE(parse_window(text) == std::optional<int64_t>{ms});
  }
}
