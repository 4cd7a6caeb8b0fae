#include "persistence/value_codec.hpp"

#include <catch2/catch.hpp>

using namespace marquee;

TEST_CASE("a framed value unframes to its kind, version and payload",
          "[persistence][codec]") {
  for (std::string payload :
       {std::string{}, std::string{"x"}, std::string(100000, '\x7f'),
        std::string{"\0\1\2", 3}}) {
    auto value = frame_value(value_kind::user, 3, payload);
    CHECK(value.size() == value_header_size + payload.size());
    framed_value out;
    REQUIRE_FALSE(unframe_value(value, value_kind::user, 3, out));
    CHECK(out.version == 3);
    CHECK(out.payload == payload);
  }
}

TEST_CASE("a damaged or foreign value is refused with the reason, never "
          "decoded",
          "[persistence][codec]") {
  auto good = frame_value(value_kind::title, 2, "payload bytes");
  auto flip = [&](size_t at) {
    auto v = good;
    v[at] = static_cast<char>(v[at] ^ 0x01);
    return v;
  };
  struct row {
    const char* what;
    std::string value;
    value_kind kind;
    uint16_t max_version;
    persistence_errc expected;
  };
  const row rows[] = {
    {"empty", "", value_kind::title, 2, persistence_errc::truncated},
    {"header only, cut", good.substr(0, 10), value_kind::title, 2,
     persistence_errc::truncated},
    {"payload cut", good.substr(0, good.size() - 1), value_kind::title, 2,
     persistence_errc::truncated},
    {"payload longer than stated", good + "!", value_kind::title, 2,
     persistence_errc::truncated},
    {"magic", flip(0), value_kind::title, 2, persistence_errc::bad_magic},
    {"another kind asked", good, value_kind::user, 2,
     persistence_errc::wrong_kind},
    {"newer version", good, value_kind::title, 1,
     persistence_errc::newer_version},
    {"a payload bit flipped", flip(value_header_size + 3), value_kind::title, 2,
     persistence_errc::bad_checksum},
    {"the checksum flipped", flip(12), value_kind::title, 2,
     persistence_errc::bad_checksum},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    framed_value out;
    CHECK(unframe_value(r.value, r.kind, r.max_version, out) ==
          make_error_code(r.expected));
  }
}

TEST_CASE("a value sealed in place is the value framed from its payload",
          "[persistence][codec]") {
  for (std::string payload :
       {std::string{}, std::string{"x"}, std::string(70000, '\x01')}) {
    std::string value(value_header_size, '?');
    value += payload;
    seal_value(value_kind::similarity, 4, value);
    CHECK(value == frame_value(value_kind::similarity, 4, payload));
  }
}
