// The payload writer must write what cereal's portable binary archive
// writes: every value stored before it (and every reader) expects those
// bytes.

#include "persistence/payload_archive.hpp"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace marquee;

namespace {

struct sample {
  uint64_t big = 0;
  int64_t negative = 0;
  uint16_t small = 0;
  int8_t tiny = 0;
  bool yes = false;
  bool no = true;
  float f = 0;
  double d = 0;
  std::string text;
  std::vector<std::string> words;
  std::vector<double> doubles;
  std::vector<int8_t> bytes;
  std::vector<uint32_t> keys;
  std::vector<int64_t> times;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(big, negative, small, tiny, yes, no, f, d, text, words, doubles, bytes,
       keys, times);
  }
};

sample filled() {
  sample s;
  s.big = std::numeric_limits<uint64_t>::max() - 12345;
  s.negative = -987654321012LL;
  s.small = 0xBEEF;
  s.tiny = -7;
  s.yes = true;
  s.no = false;
  s.f = 0.1f;
  s.d = -1.0 / 3.0;
  s.text = "a title's name";
  s.words = {"t1", "", "t20000", std::string(300, 'z')};
  s.doubles = {0.0, -0.0, 1e-300, std::numeric_limits<double>::infinity()};
  s.bytes = {1, -1, 0, 127, -128};
  s.keys = {0, 1, 0xFFFFFFFF};
  s.times = {std::numeric_limits<int64_t>::min(), 0, 1700000000000};
  return s;
}

std::string by_cereal(sample s) {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar{os};
    ar(s);
  }
  return os.str();
}

std::string by_writer(sample s) {
  std::string out;
  {
    payload_writer ar{out};
    ar(s);
  }
  return out;
}

} // namespace

TEST_CASE("the payload writer writes cereal's portable binary bytes",
          "[persistence][codec]") {
  CHECK(by_writer(sample{}) == by_cereal(sample{}));
  CHECK(by_writer(filled()) == by_cereal(filled()));
}

TEST_CASE("names written from views are a vector of strings",
          "[persistence][codec]") {
  std::vector<std::string> names{"t1", "", "u-42", std::string(1000, 'n')};
  std::vector<std::string_view> views(names.begin(), names.end());
  std::string from_views;
  {
    payload_writer ar{from_views};
    write_names(ar, views);
  }
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar{os};
    ar(names);
  }
  CHECK(from_views == os.str());
  // And the reader gives the strings back.
  std::vector<std::string> back;
  CHECK(read_payload(from_views, [&](auto& ar) { ar(back); }));
  CHECK(back == names);
}

TEST_CASE("a written value unframes to what was written",
          "[persistence][codec]") {
  auto value = write_value(value_kind::ring, 1, [](payload_writer& ar) {
    ar(std::vector<uint32_t>{3, 2, 1});
  });
  framed_value framed;
  REQUIRE_FALSE(unframe_value(value, value_kind::ring, 1, framed));
  std::vector<uint32_t> back;
  CHECK(read_payload(framed.payload, [&](auto& ar) { ar(back); }));
  CHECK(back == std::vector<uint32_t>{3, 2, 1});
}
