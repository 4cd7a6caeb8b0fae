#include "domain/impressions.hpp"
#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <variant>
#include <vector>

using namespace marquee;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t base_ts = 1'700'000'000'000;
constexpr int64_t day = ms_per_day;
constexpr int64_t hour = ms_per_hour;
constexpr int64_t minute = ms_per_minute;
constexpr int64_t min_ts = std::numeric_limits<int64_t>::min();

using answer = std::variant<std::vector<impression_row>, impression_refusal>;

/// Every impression, kept: the brute-force model.
struct model {
  struct impression {
    title_key title;
    int64_t ts;
  };
  std::vector<impression> all;

  void add(title_key t, int64_t ts) { all.push_back({t, ts}); }

  uint32_t count(title_key t) const {
    return static_cast<uint32_t>(
      std::count_if(all.begin(), all.end(),
                    [&](const impression& i) { return i.title == t; }));
  }

  int64_t last_ts(title_key t) const {
    int64_t last = 0;
    for (const auto& i : all)
      if (i.title == t)
        last = std::max(last, i.ts);
    return last;
  }

  /// The literal EMA over impressions of `t` in [from, at].
  double ema(title_key t, int64_t window_ms, int64_t at, double alpha,
             int64_t from = min_ts) const {
    double sum = 0;
    for (const auto& i : all)
      if (i.title == t && i.ts >= from && i.ts <= at)
        sum += std::pow(alpha, static_cast<double>(at - i.ts) /
                                 static_cast<double>(window_ms));
    return sum;
  }

  std::vector<title_key> titles() const {
    std::vector<title_key> out;
    for (const auto& i : all)
      out.push_back(i.title);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
};

double rel_err(double got, double want) {
  return std::abs(got - want) /
         std::max(std::abs(want), std::numeric_limits<double>::min());
}

const std::vector<impression_row>& rows_of(const answer& a) {
  if (auto* refusal = std::get_if<impression_refusal>(&a))
    FAIL("refused: " << refusal->message);
  return std::get<std::vector<impression_row>>(a);
}

std::string refusal_of(const answer& a) {
  REQUIRE(std::holds_alternative<impression_refusal>(a));
  return std::get<impression_refusal>(a).message;
}

/// Random impressions of `titles` titles (sparse keys), skewed towards a few,
/// over `span` milliseconds after base_ts, in time order.
std::vector<model::impression> random_impressions(std::mt19937_64& rng,
                                                  size_t n, uint32_t titles,
                                                  int64_t span) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<int64_t> offset(0, span);
  std::vector<model::impression> out(n);
  for (auto& i : out) {
    auto index = static_cast<title_key>(u(rng) * u(rng) * titles);
    i = {index * 7 + 3, base_ts + offset(rng)};
  }
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return x.ts < y.ts; });
  return out;
}

/// Checks every row of a full answer against the model.
void check_rows(const std::vector<impression_row>& rows, const model& m,
                const std::vector<int64_t>& windows_ms, int64_t at,
                double alpha) {
  auto titles = m.titles();
  REQUIRE(rows.size() == titles.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    INFO("row " << i << ", title " << row.title << ", at " << at);
    CHECK(row.count == m.count(row.title));
    CHECK(row.last_ts == m.last_ts(row.title));
    REQUIRE(row.ema.size() == windows_ms.size());
    for (size_t w = 0; w < windows_ms.size(); ++w) {
      INFO("window " << format_window(windows_ms[w]));
      CHECK(rel_err(row.ema[w], m.ema(row.title, windows_ms[w], at, alpha)) <=
            1e-9);
    }
    if (i > 0) {
      // Newest impression first, then by title.
      const auto& prev = rows[i - 1];
      CHECK((prev.last_ts > row.last_ts ||
             (prev.last_ts == row.last_ts && prev.title < row.title)));
    }
  }
}

void run_configured_windows(uint64_t seed, double alpha, bool shuffled) {
  std::mt19937_64 rng{seed};
  auto p = impression_params::make(
    alpha, {day, 7 * day, 30 * day, 180 * day, 365 * day}, day, 128);
  auto imps = random_impressions(rng, 600, 30, 400 * day);
  if (shuffled)
    std::shuffle(imps.begin(), imps.end(), rng);
  impression_history h;
  model m;
  int64_t newest = min_ts;
  std::uniform_int_distribution<int64_t> later(0, 3 * day);
  for (size_t i = 0; i < imps.size(); ++i) {
    h.add(imps[i].title, imps[i].ts, p);
    m.add(imps[i].title, imps[i].ts);
    newest = std::max(newest, imps[i].ts);
    CHECK(h.newest_ts() == newest);
    if (i % 50 != 49 && i + 1 != imps.size())
      continue;
    auto at = newest + later(rng);
    auto all = h.query({}, p.windows_ms, at, p);
    check_rows(rows_of(all), m, p.windows_ms, at, alpha);
    // Windows come back in the order asked.
    std::vector<int64_t> reversed(p.windows_ms.rbegin(), p.windows_ms.rend());
    auto some = h.query({}, reversed, at, p);
    check_rows(rows_of(some), m, reversed, at, alpha);
  }
  CHECK(h.title_count() == m.titles().size());
}

} // namespace

TEST_CASE("params sort and deduplicate the configured windows",
          "[domain][ema]") {
  auto p =
    impression_params::make(0.5, {30 * day, day, 7 * day, day}, day, 128);
  CHECK(p.windows_ms == std::vector<int64_t>{day, 7 * day, 30 * day});
  REQUIRE(p.rates.size() == 3);
  CHECK(p.rates[1].factor(7 * day) == Approx(0.5));
  CHECK(p.configured_index(7 * day) == 1);
  CHECK(p.configured_index(2 * day) == -1);
}

TEST_CASE("the EMA of every configured window equals the literal sum for "
          "impressions in time order",
          "[domain][ema]") {
  for (double alpha : {0.3, 0.5, 0.9}) {
    INFO("alpha " << alpha);
    run_configured_windows(101, alpha, false);
  }
}

TEST_CASE("the EMA of every configured window equals the literal sum for "
          "out-of-order impressions",
          "[domain][ema]") {
  for (double alpha : {0.3, 0.5, 0.9}) {
    INFO("alpha " << alpha);
    run_configured_windows(202, alpha, true);
  }
}

TEST_CASE("a window that is not configured is the literal sum over its "
          "look-back when nothing was dropped",
          "[domain][ema]") {
  std::mt19937_64 rng{303};
  auto p = impression_params::make(0.5, {day, 7 * day}, 100'000 * day, 100000);
  auto imps = random_impressions(rng, 500, 20, 60 * day);
  std::shuffle(imps.begin(), imps.end(), rng);
  impression_history h;
  model m;
  for (const auto& i : imps) {
    h.add(i.title, i.ts, p);
    m.add(i.title, i.ts);
  }
  REQUIRE(h.raw_covered_from() == min_ts);
  REQUIRE(h.raw_count() == imps.size());
  std::vector<int64_t> windows{30 * minute, hour,     12 * hour, 2 * day,
                               7 * day,     30 * day, 3650 * day};
  for (auto later : {int64_t{0}, 5 * hour, 3 * day}) {
    auto at = h.newest_ts() + later;
    auto answer = h.query({}, windows, at, p);
    const auto& rows = rows_of(answer);
    REQUIRE(rows.size() == m.titles().size());
    for (const auto& row : rows) {
      REQUIRE(row.ema.size() == windows.size());
      for (size_t w = 0; w < windows.size(); ++w) {
        auto from = at - 10 * windows[w];
        INFO("title " << row.title << ", window " << format_window(windows[w])
                      << ", at " << at);
        CHECK(rel_err(row.ema[w],
                      m.ema(row.title, windows[w], at, 0.5, from)) <= 1e-9);
      }
    }
  }
}

TEST_CASE("a window that is not configured is answered exactly when the "
          "retained impressions cover its look-back, and refused otherwise",
          "[domain][ema]") {
  std::mt19937_64 rng{404};
  // Retention by age (2 days) and by number (60), impressions mostly in
  // order with jitter of up to 6 hours.
  auto p = impression_params::make(0.5, {day, 7 * day}, 2 * day, 60);
  auto imps = random_impressions(rng, 700, 15, 12 * day);
  std::uniform_int_distribution<int64_t> jitter(-6 * hour, 0);
  for (auto& i : imps)
    i.ts += jitter(rng);
  impression_history h;
  model m;
  std::vector<int64_t> windows{10 * minute, 30 * minute, hour,
                               3 * hour,    5 * hour,    12 * hour};
  std::uniform_int_distribution<int64_t> later(0, 2 * hour);
  size_t answered = 0;
  size_t refused = 0;
  for (const auto& i : imps) {
    h.add(i.title, i.ts, p);
    m.add(i.title, i.ts);
    REQUIRE(h.raw_count() <= p.raw_max);
    auto at = h.newest_ts() + later(rng);
    for (auto w : windows) {
      auto answer = h.query({}, {w}, at, p);
      INFO("window " << format_window(w) << ", at " << at << ", covered from "
                     << h.raw_covered_from());
      if (at - 10 * w < h.raw_covered_from()) {
        ++refused;
        CHECK(std::holds_alternative<impression_refusal>(answer));
        continue;
      }
      ++answered;
      const auto& rows = rows_of(answer);
      REQUIRE(rows.size() == m.titles().size());
      for (const auto& row : rows) {
        INFO("title " << row.title);
        REQUIRE(row.ema.size() == 1);
        CHECK(rel_err(row.ema[0], m.ema(row.title, w, at, 0.5, at - 10 * w)) <=
              1e-9);
      }
    }
  }
  // Both outcomes must have been exercised.
  CHECK(answered > 500);
  CHECK(refused > 500);
  CHECK(h.raw_covered_from() > min_ts);
}

TEST_CASE("asking at a time before the newest impression is refused",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {day, 7 * day}, day, 128);
  impression_history h;
  auto empty = h.query({}, p.windows_ms, base_ts, p);
  CHECK(rows_of(empty).empty());
  h.add(5, base_ts + 100, p);
  h.add(6, base_ts + 50, p);
  auto message = refusal_of(h.query({}, p.windows_ms, base_ts + 99, p));
  CHECK_THAT(message, Contains(std::to_string(base_ts + 100)));
  CHECK(refusal_of(h.query({5}, {day}, base_ts + 60, p)).size() > 0);
  auto at_newest = h.query({}, p.windows_ms, base_ts + 100, p);
  CHECK(rows_of(at_newest).size() == 2);
}

TEST_CASE("a window whose look-back lost impressions to retention is refused "
          "with the configured windows listed",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {7 * day, 30 * day}, day, 128);
  impression_history h;
  h.add(1, base_ts, p);
  CHECK(h.raw_covered_from() == min_ts);
  h.add(1, base_ts + 2 * day, p);
  CHECK(h.raw_count() == 1);
  CHECK(h.raw_covered_from() == base_ts + 1);
  auto at = base_ts + 2 * day;

  auto message = refusal_of(h.query({}, {day}, at, p));
  CHECK_THAT(message, Contains("1d"));
  CHECK_THAT(message, Contains("7d"));
  CHECK_THAT(message, Contains("30d"));

  // Two windows missing, one fine: the answer is still a refusal.
  auto both = refusal_of(h.query({}, {2 * hour, day, 3 * day}, at, p));
  CHECK_THAT(both, Contains("1d"));
  CHECK_THAT(both, Contains("3d"));

  // 2h looks back 20h, which is still covered: only the newest counts.
  auto covered = h.query({}, {2 * hour, 7 * day}, at, p);
  const auto& rows = rows_of(covered);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].count == 2);
  CHECK(rows[0].ema[0] == Approx(1.0).epsilon(1e-12));
  CHECK(rows[0].ema[1] ==
        Approx(1.0 + std::pow(0.5, 2.0 / 7.0)).epsilon(1e-12));
}

TEST_CASE("a window whose look-back lost impressions to the raw limit is "
          "refused until the look-back is covered again",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {7 * day}, 365 * day, 3);
  impression_history h;
  for (int i = 0; i < 4; ++i)
    h.add(9, base_ts + i * minute, p);
  CHECK(h.raw_count() == 3);
  CHECK(h.raw_covered_from() == base_ts + 1);

  auto message = refusal_of(h.query({}, {hour}, base_ts + 3 * minute, p));
  CHECK_THAT(message, Contains("1h"));
  CHECK_THAT(message, Contains("7d"));

  // From base_ts + 10h + 1m on, the hour's look-back starts after the drop.
  auto at = base_ts + 10 * hour + minute;
  auto answer = h.query({}, {hour}, at, p);
  const auto& rows = rows_of(answer);
  REQUIRE(rows.size() == 1);
  double want = 0;
  for (int i = 1; i < 4; ++i)
    want += std::pow(0.5, static_cast<double>(at - (base_ts + i * minute)) /
                            static_cast<double>(hour));
  CHECK(rel_err(rows[0].ema[0], want) <= 1e-9);
  // The boundary: at - 10h must not be before base_ts + 1.
  CHECK(std::holds_alternative<impression_refusal>(
    h.query({}, {hour}, base_ts + 10 * hour, p)));
  CHECK(std::holds_alternative<std::vector<impression_row>>(
    h.query({}, {hour}, base_ts + 10 * hour + 1, p)));
}

TEST_CASE("an impression older than the retained ones is not retained and "
          "does not widen the coverage",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {7 * day}, day, 128);
  impression_history h;
  h.add(1, base_ts, p);
  h.add(1, base_ts + 3 * day, p);
  auto covered = h.raw_covered_from();
  REQUIRE(covered == base_ts + 1);
  h.add(2, base_ts - day, p);
  CHECK(h.raw_covered_from() == covered);
  CHECK(h.raw_count() == 1);
  // Configured windows still count it.
  auto answer = h.query({2}, {7 * day}, base_ts + 3 * day, p);
  const auto& rows = rows_of(answer);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].count == 1);
  CHECK(rows[0].ema[0] == Approx(std::pow(0.5, 4.0 / 7.0)).epsilon(1e-12));
}

TEST_CASE("with no raw impressions retained no unconfigured window is "
          "available",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {day, 7 * day}, day, 0);
  impression_history h;
  h.add(4, base_ts, p);
  CHECK(h.raw_count() == 0);
  auto message = refusal_of(h.query({}, {hour}, base_ts, p));
  CHECK_THAT(message, Contains("1d"));
  CHECK_THAT(message, Contains("7d"));
  auto configured = h.query({}, {day}, base_ts, p);
  CHECK(rows_of(configured).size() == 1);
}

TEST_CASE("a long window that is not configured is available when nothing "
          "was ever dropped",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {day}, 30 * day, 128);
  impression_history h;
  h.add(3, base_ts, p);
  h.add(3, base_ts + 10 * day, p);
  h.add(8, base_ts + 20 * day, p);
  REQUIRE(h.raw_covered_from() == min_ts);
  auto at = base_ts + 25 * day;
  auto answer = h.query({3, 8}, {365 * day, 3650 * day}, at, p);
  const auto& rows = rows_of(answer);
  REQUIRE(rows.size() == 2);
  auto f = [&](int64_t ts, int64_t w) {
    return std::pow(0.5, static_cast<double>(at - ts) / static_cast<double>(w));
  };
  CHECK(rel_err(rows[0].ema[0], f(base_ts, 365 * day) +
                                  f(base_ts + 10 * day, 365 * day)) <= 1e-9);
  CHECK(rel_err(rows[0].ema[1], f(base_ts, 3650 * day) +
                                  f(base_ts + 10 * day, 3650 * day)) <= 1e-9);
  CHECK(rel_err(rows[1].ema[0], f(base_ts + 20 * day, 365 * day)) <= 1e-9);
}

TEST_CASE("asking for titles returns one row per title in request order, "
          "zero rows for titles without impressions",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {day, 7 * day}, day, 128);
  impression_history h;
  h.add(3, base_ts, p);
  h.add(8, base_ts + hour, p);
  h.add(8, base_ts + 2 * hour, p);
  h.add(5, base_ts + 3 * hour, p);
  auto at = base_ts + 4 * hour;
  std::vector<title_key> asked{8, no_title, 42, 3, 0};
  auto answer = h.query(asked, {7 * day, day}, at, p);
  const auto& rows = rows_of(answer);
  REQUIRE(rows.size() == asked.size());
  for (size_t i = 0; i < asked.size(); ++i) {
    INFO("row " << i);
    CHECK(rows[i].title == asked[i]);
    REQUIRE(rows[i].ema.size() == 2);
  }
  CHECK(rows[0].count == 2);
  CHECK(rows[0].last_ts == base_ts + 2 * hour);
  // Asked as {7d, 1d}: title 8 was seen 3h and 2h before `at`.
  CHECK(
    rows[0].ema[0] ==
    Approx(std::pow(0.5, 3.0 / 168) + std::pow(0.5, 2.0 / 168)).epsilon(1e-12));
  CHECK(
    rows[0].ema[1] ==
    Approx(std::pow(0.5, 3.0 / 24) + std::pow(0.5, 2.0 / 24)).epsilon(1e-12));
  CHECK(rows[3].count == 1);
  CHECK(rows[3].last_ts == base_ts);
  CHECK(rows[3].ema[0] == Approx(std::pow(0.5, 4.0 / 168)).epsilon(1e-12));
  CHECK(rows[3].ema[1] == Approx(std::pow(0.5, 4.0 / 24)).epsilon(1e-12));
  for (size_t i : {size_t{1}, size_t{2}, size_t{4}}) {
    INFO("row " << i);
    CHECK(rows[i].count == 0);
    CHECK(rows[i].last_ts == 0);
    CHECK(rows[i].ema == std::vector<double>{0.0, 0.0});
  }
}

TEST_CASE("a user without impressions gets zero rows for the titles asked",
          "[domain][ema]") {
  auto p = impression_params::make(0.5, {day}, day, 128);
  impression_history h;
  auto answer = h.query({1, no_title}, {day, hour}, base_ts, p);
  const auto& rows = rows_of(answer);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].title == 1);
  CHECK(rows[1].title == no_title);
  for (const auto& row : rows) {
    CHECK(row.count == 0);
    CHECK(row.ema == std::vector<double>{0.0, 0.0});
  }
}

TEST_CASE("top lists titles by the EMA of the first configured window, "
          "highest first, at most the limit",
          "[domain][ema]") {
  std::mt19937_64 rng{505};
  auto p = impression_params::make(0.5, {day, 30 * day}, day, 128);
  auto imps = random_impressions(rng, 400, 40, 20 * day);
  std::shuffle(imps.begin(), imps.end(), rng);
  impression_history h;
  model m;
  for (const auto& i : imps) {
    h.add(i.title, i.ts, p);
    m.add(i.title, i.ts);
  }
  auto at = h.newest_ts() + hour;
  auto titles = m.titles();
  std::vector<std::pair<double, title_key>> brute;
  for (auto t : titles)
    brute.emplace_back(m.ema(t, day, at, 0.5), t);
  std::sort(brute.begin(), brute.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  for (size_t limit :
       {size_t{0}, size_t{1}, size_t{7}, titles.size(), titles.size() + 5}) {
    INFO("limit " << limit);
    auto top = h.top(limit, at, p);
    REQUIRE(top.size() == std::min(limit, titles.size()));
    for (size_t i = 0; i < top.size(); ++i) {
      INFO("rank " << i);
      CHECK(top[i].title == brute[i].second);
      REQUIRE(top[i].ema.size() == 2);
      CHECK(rel_err(top[i].ema[0], brute[i].first) <= 1e-9);
      CHECK(rel_err(top[i].ema[1], m.ema(top[i].title, 30 * day, at, 0.5)) <=
            1e-9);
      CHECK(top[i].count == m.count(top[i].title));
    }
  }
}

TEST_CASE("top breaks ties by title", "[domain][ema]") {
  auto p = impression_params::make(0.5, {day}, day, 128);
  impression_history h;
  h.add(9, base_ts, p);
  h.add(4, base_ts, p);
  h.add(6, base_ts - day, p);
  auto top = h.top(10, base_ts, p);
  REQUIRE(top.size() == 3);
  CHECK(top[0].title == 4);
  CHECK(top[1].title == 9);
  CHECK(top[2].title == 6);
}
