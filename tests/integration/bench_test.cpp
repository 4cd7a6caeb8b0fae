#include "tests/support/temp_dir.hpp"
#include "tools/bench.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

using namespace marquee;

namespace {

/// The table row whose first cell starts with `figure`, split into cells.
std::vector<std::string> row_of(const std::string& table,
                                const std::string& figure) {
  std::istringstream lines{table};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("| " + figure, 0) != 0)
      continue;
    std::vector<std::string> cells;
    std::istringstream parts{line.substr(1)};
    std::string cell;
    while (std::getline(parts, cell, '|')) {
      auto a = cell.find_first_not_of(' ');
      auto b = cell.find_last_not_of(' ');
      cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
    }
    return cells;
  }
  return {};
}

/// The number a cell starts with ("1,234 us" → 1234), or -1.
/// The number a cell starts with, or NaN when it starts with none.
double number(const std::string& cell) {
  std::string digits;
  for (char c : cell) {
    if (c == ',')
      continue;
    if ((c < '0' || c > '9') && c != '.' && !(c == '-' && digits.empty()))
      break;
    digits += c;
  }
  if (digits.empty() || digits == "-")
    return std::numeric_limits<double>::quiet_NaN();
  return std::stod(digits);
}

size_t lines_of(const std::filesystem::path& file) {
  std::ifstream f{file};
  size_t n = 0;
  std::string line;
  while (std::getline(f, line))
    ++n;
  return n;
}

} // namespace

TEST_CASE("marquee bench runs every scenario and prints each figure of "
          "marquee beside the raw transport's of the same run",
          "[bench]") {
  testing::temp_dir samples{"marquee-bench-samples"};
  bench_options o;
  o.users = 200;
  o.titles = 50;
  o.preload = 2'000;
  o.ingest_events = 1'000;
  o.ingest_users = 100;
  o.ingest_titles = 50;
  o.clients = 4;
  o.seconds = 0.5;
  o.memory_titles = 200;
  o.memory_users = 20;
  o.passing_users = 500;
  o.recovery_users = 300;
  o.out_dir = samples.str();
  std::string ignored;
  o.service.set("service.log_level", "warn", ignored);
  std::ostringstream out;
  std::ostringstream log;
  std::string error;
  bool ok = run_bench(o, out, log, error);
  INFO(log.str() << out.str() << error);
  REQUIRE(ok);
  auto table = out.str();
  // Figures with a baseline: both measured, and the ratio is theirs.
  for (const char* figure :
       {"plays applied, durable", "impressions applied, durable",
        "plays applied, core", "impressions applied, core",
        "rec.user, 4 clients (req/s)", "rec.user, 4 clients, ingesting",
        "replay after a start"}) {
    auto cells = row_of(table, figure);
    INFO(figure);
    REQUIRE(cells.size() >= 4);
    auto m = number(cells[1]);
    auto r = number(cells[2]);
    CHECK(m > 0);
    CHECK(r > 0);
    CHECK(number(cells[3]) == Approx(m / r).margin(0.006));
  }
  for (const char* figure :
       {"rec.user p50, 1 client", "rec.user p99, 1 client",
        "rec.user p99, 4 clients (us)", "freshness p50", "freshness p99"}) {
    auto cells = row_of(table, figure);
    INFO(figure);
    REQUIRE(cells.size() >= 3);
    CHECK(number(cells[1]) > 0);
    CHECK(number(cells[2]) > 0);
  }
  // Figures of marquee alone.
  for (const char* figure : {"preload, durable", "LMDB pages mapped per user",
                             "start to serving, 300 users checkpointed"}) {
    auto cells = row_of(table, figure);
    INFO(figure);
    REQUIRE(cells.size() >= 2);
    CHECK(number(cells[1]) >= 0);
  }
  // Memory in a profile this small is within the resident set's noise: a
  // figure may come out negative, and then says so instead of "met".
  for (const char* figure :
       {"memory per title, catalog entry", "memory per title with an actor",
        "memory per live user"}) {
    auto cells = row_of(table, figure);
    INFO(figure);
    REQUIRE(cells.size() >= 2);
    auto x = number(cells[1]);
    REQUIRE_FALSE(std::isnan(x));
    if (x < 0 && cells.size() >= 6 && !cells[4].empty())
      CHECK(cells[5] == "too small to measure");
  }
  auto passing = row_of(table, "memory growth, 500 users passing");
  REQUIRE(!passing.empty());
  CHECK(passing[0].find("500 live") != std::string::npos);
  // The samples behind the latency figures, one per request.
  for (const char* series : {"rec_user_1", "raw_rr_1", "rec_user_n", "raw_rr_n",
                             "rec_user_n_ingesting", "raw_rr_n_ingesting",
                             "freshness", "raw_freshness"})
    CHECK(lines_of(samples.path() / (std::string{series} + ".csv")) > 0);
  // Throughput over time: one sample per 100 ms, at least the first.
  for (const char* kind : {"plays", "impressions"})
    for (const char* mode : {"durable", "core"})
      for (const char* who : {"", "raw_"}) {
        auto name = std::string{who} + kind + "_" + mode + "_over_time.csv";
        INFO(name);
        CHECK(lines_of(samples.path() / name) > 0);
      }
}
