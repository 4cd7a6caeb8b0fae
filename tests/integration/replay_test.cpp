// `marquee replay`: a small MovieLens-shaped file through a real marquee
// (its own embedded nats-server), scored under the prequential protocol.

#include "tests/support/temp_dir.hpp"
#include "tools/prequential.hpp"
#include "tools/replay.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace marquee;
using marquee::testing::temp_dir;

namespace {

/// 40 users; user u rates 12 of 30 titles, in an order that follows a
/// pattern (title i then i+1 ...) so that co-plays mean something.
std::string synthetic_ratings() {
  std::ostringstream out;
  int64_t ts = 880000000;
  for (int step = 0; step < 12; ++step)
    for (int u = 1; u <= 40; ++u) {
      int title = 1 + (u * 7 + step) % 30;
      out << u << '\t' << title << '\t' << 4 << '\t' << ts++ << '\n';
    }
  return out.str();
}

/// Parses `name HR@10=x NDCG@10=y ...` lines into name -> field -> value.
std::map<std::string, std::map<std::string, std::string>>
parse(const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words{line};
    std::string name;
    words >> name;
    std::string word;
    while (words >> word) {
      auto eq = word.find('=');
      if (eq != std::string::npos)
        out[name][word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return out;
}

} // namespace

TEST_CASE("marquee replay scores marquee and the baselines on the same "
          "queries, through a real service",
          "[integration][replay]") {
  temp_dir dir;
  auto ratings = (dir.path() / "u.data").string();
  std::ofstream{ratings} << synthetic_ratings();
  // A catalog beside it, in ml-100k's format.
  std::ofstream{dir.path() / "u.genre"} << "unknown|0\nAction|1\nDrama|2\n";
  {
    std::ofstream item{dir.path() / "u.item"};
    for (int t = 1; t <= 30; ++t)
      item << t << "|Title " << t << " (1995)|01-Jan-1995||http://x|0|"
           << (t % 2) << '|' << (1 - t % 2) << '\n';
  }
  replay_options opts;
  opts.ratings = ratings;
  opts.queries = 100;
  std::string error;
  opts.service.set("service.log_level", "warn", error);
  opts.service.set("service.threads", "2", error);
  // As in the harness: the sanitizer suites give a longer time budget.
  if (const char* budget = std::getenv("MARQUEE_REC_BUDGET_MS"))
    opts.service.set("rec.budget_ms", budget, error);
  std::ostringstream out;
  std::ostringstream log;
  INFO(log.str());
  REQUIRE(run_replay(opts, out, log, error));
  INFO(out.str());
  auto lines = parse(out.str());
  REQUIRE(lines.count("popularity") == 1);
  REQUIRE(lines.count("item-knn") == 1);
  REQUIRE(lines.count("marquee") == 1);
  // The queries the protocol asks: sampled, the user has history, and the
  // title is new to them.
  auto positions = prequential::query_positions(480, 0.2, 100, 7);
  std::set<size_t> sampled(positions.begin(), positions.end());
  size_t expected = 0;
  {
    std::map<int, std::set<int>> played;
    size_t i = 0;
    for (int step = 0; step < 12; ++step)
      for (int u = 1; u <= 40; ++u, ++i) {
        int title = 1 + (u * 7 + step) % 30;
        if (sampled.count(i) && !played[u].empty() && !played[u].count(title))
          ++expected;
        played[u].insert(title);
      }
  }
  CHECK(out.str().find("queries=" + std::to_string(expected) + " ") !=
        std::string::npos);
  CHECK(out.str().find("catalog=" + (dir.path() / "u.item").string()) !=
        std::string::npos);
  for (const char* system : {"popularity", "item-knn", "marquee"}) {
    auto hr = std::stod(lines[system]["HR@10"]);
    auto ndcg = std::stod(lines[system]["NDCG@10"]);
    CHECK(hr >= 0.0);
    CHECK(hr <= 1.0);
    CHECK(ndcg <= hr);
  }
  // Every title marquee named is one of the file's.
  CHECK(lines["marquee"].count("unknown_titles") == 0);
  CHECK(lines["marquee"]["retries"] == "0");
}

TEST_CASE("marquee replay refuses ids marquee cannot take, naming one",
          "[integration][replay]") {
  temp_dir dir;
  auto ratings = (dir.path() / "ratings.csv").string();
  std::ofstream{ratings} << "userId,movieId,rating,timestamp\n"
                         << "1,a b,4,100\n";
  replay_options opts;
  opts.ratings = ratings;
  std::ostringstream out;
  std::ostringstream log;
  std::string error;
  CHECK_FALSE(run_replay(opts, out, log, error));
  CHECK_THAT(error, Catch::Contains("'a b' is not a valid marquee id"));
}
