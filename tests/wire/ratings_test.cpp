// MovieLens ratings files as `marquee replay` reads them.

#include "tests/support/temp_dir.hpp"
#include "tools/ratings.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace marquee;
using marquee::testing::temp_dir;

namespace {

std::string write(const temp_dir& dir, const std::string& name,
                  const std::string& text) {
  auto path = (dir.path() / name).string();
  std::ofstream{path} << text;
  return path;
}

} // namespace

TEST_CASE("u.data and ratings.csv load in time order, equal times in file "
          "order",
          "[tools][ratings]") {
  temp_dir dir;
  std::string error;
  SECTION("tab-separated, no header") {
    auto path = write(dir, "u.data",
                      "196\t242\t3\t881250949\n"
                      "186\t302\t3.5\t881250000\n"
                      "22\t377\t1\t881250949\n");
    auto rs = load_ratings(path, error);
    INFO(error);
    REQUIRE(rs);
    REQUIRE(rs->size() == 3);
    CHECK((*rs)[0].user == "186");
    CHECK((*rs)[0].value == 3.5);
    CHECK((*rs)[1].user == "196"); // same time as 22, earlier in the file
    CHECK((*rs)[1].title == "242");
    CHECK((*rs)[2].user == "22");
    CHECK((*rs)[2].ts_s == 881250949);
  }
  SECTION("comma-separated with a header and CRLF line ends") {
    auto path = write(dir, "ratings.csv",
                      "userId,movieId,rating,timestamp\r\n"
                      "1,31,2.5,1260759144\r\n"
                      "1,1029,3.0,1260759179\r\n\r\n");
    auto rs = load_ratings(path, error);
    INFO(error);
    REQUIRE(rs);
    REQUIRE(rs->size() == 2);
    CHECK((*rs)[0].title == "31");
    CHECK((*rs)[1].ts_s == 1260759179);
  }
}

TEST_CASE("a malformed ratings file is refused, naming the line",
          "[tools][ratings]") {
  temp_dir dir;
  std::string error;
  SECTION("too few fields") {
    auto path = write(dir, "a", "1\t2\t3\t4\n5\t6\t7\n");
    CHECK_FALSE(load_ratings(path, error));
    CHECK_THAT(error, Catch::Contains(":2: expected user, item, rating") &&
                        Catch::Contains("tabs"));
  }
  SECTION("too many fields") {
    auto path = write(dir, "b", "1,2,3,4,5\n");
    CHECK_FALSE(load_ratings(path, error));
    CHECK_THAT(error,
               Catch::Contains(":1: expected") && Catch::Contains("commas"));
  }
  SECTION("a timestamp that is not a number") {
    auto path = write(dir, "c", "1\t2\t3\tyesterday\n");
    CHECK_FALSE(load_ratings(path, error));
    CHECK_THAT(error, Catch::Contains(":1: rating and timestamp must be "
                                      "numbers"));
  }
  SECTION("no such file") {
    CHECK_FALSE(load_ratings((dir.path() / "missing").string(), error));
    CHECK_THAT(error, Catch::Contains("cannot read"));
  }
}
