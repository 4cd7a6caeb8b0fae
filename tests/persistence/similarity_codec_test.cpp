// Stored item similarity: a title's plays and co-play partners, a user's
// play ring; round trips, canonical bytes, damaged values refused.

#include "persistence/errors.hpp"
#include "persistence/similarity_codec.hpp"
#include "persistence/value_codec.hpp"

#include <catch2/catch.hpp>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <sstream>
#include <tuple>

using namespace marquee;

namespace {

title_key t(id_tables& ids, std::string_view name) {
  return *ids.titles.intern(name);
}

std::vector<std::tuple<std::string, float, uint32_t>>
named(const similarity_record& r, const id_tables& ids) {
  std::vector<std::tuple<std::string, float, uint32_t>> out;
  for (const auto& p : r.partners)
    out.emplace_back(std::string{ids.titles.name(p.title)}, p.weight,
                     p.support);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("a similarity record comes back in another process's keys",
          "[persistence][similarity]") {
  id_tables writer;
  similarity_record rec;
  rec.plays = 42;
  rec.partners = {{t(writer, "nosferatu"), 2.5f, 4},
                  {t(writer, "metropolis"), 0.75f, 1},
                  {t(writer, "m"), 1.0f, 2}};
  auto value = encode_similarity_value(rec, writer);
  // The reader interned other ids first: its keys differ.
  id_tables reader;
  t(reader, "zulu");
  t(reader, "metropolis");
  similarity_record back;
  REQUIRE_FALSE(decode_similarity_value(value, reader, back));
  CHECK(back.plays == 42);
  CHECK(named(back, reader) == named(rec, writer));
  // Canonical: the same state, interned otherwise, gives the same bytes.
  CHECK(encode_similarity_value(back, reader) == value);
}

TEST_CASE("a similarity value is laid out as documented: sorted ids, each "
          "partner in its own slot",
          "[persistence][similarity]") {
  id_tables ids;
  similarity_record rec;
  rec.plays = 7;
  // Keys in another order than the ids, partners in neither.
  rec.partners = {{t(ids, "zulu"), 1.5f, 3},
                  {t(ids, "alpha"), 0.5f, 1},
                  {t(ids, "mike"), 2.0f, 2}};
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar{os};
    ar(std::vector<std::string>{"alpha", "mike", "zulu"}, uint32_t{7},
       std::vector<uint32_t>{0, 1, 2}, std::vector<float>{0.5f, 2.0f, 1.5f},
       std::vector<uint32_t>{1, 2, 3});
  }
  CHECK(
    encode_similarity_value(rec, ids) ==
    frame_value(value_kind::similarity, similarity_value_version, os.str()));
}

TEST_CASE("a similarity record of version 1 loads with the least supports "
          "its weights allow",
          "[persistence][similarity]") {
  // Version 1: ids, plays, slots, weights; no supports.
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar{os};
    std::vector<std::string> names = {"a", "b", "c"};
    uint32_t plays = 7;
    std::vector<uint32_t> slots = {0, 1, 2};
    std::vector<float> weights = {0.5f, 1.0f, 2.25f};
    ar(names, plays, slots, weights);
  }
  auto value = frame_value(value_kind::similarity, 1, os.str());
  id_tables ids;
  similarity_record back;
  REQUIRE_FALSE(decode_similarity_value(value, ids, back));
  CHECK(back.plays == 7);
  using row = std::tuple<std::string, float, uint32_t>;
  CHECK(named(back, ids) ==
        std::vector<row>{{"a", 0.5f, 1}, {"b", 1.0f, 1}, {"c", 2.25f, 3}});
  // Written again, it is version 2.
  auto again = encode_similarity_value(back, ids);
  similarity_record twice;
  REQUIRE_FALSE(decode_similarity_value(again, ids, twice));
  CHECK(named(twice, ids) == named(back, ids));
}

TEST_CASE("a play ring comes back in order", "[persistence][similarity]") {
  id_tables writer;
  std::vector<title_key> ring = {t(writer, "c"), t(writer, "a"),
                                 t(writer, "b")};
  auto value = encode_ring_value(ring, writer);
  id_tables reader;
  t(reader, "b");
  std::vector<title_key> back;
  REQUIRE_FALSE(decode_ring_value(value, reader, back));
  REQUIRE(back.size() == 3);
  CHECK(reader.titles.name(back[0]) == "c");
  CHECK(reader.titles.name(back[1]) == "a");
  CHECK(reader.titles.name(back[2]) == "b");
  std::vector<title_key> none;
  REQUIRE_FALSE(decode_ring_value(encode_ring_value({}, writer), reader, none));
  CHECK(none.empty());
}

TEST_CASE("damaged or foreign similarity values are refused",
          "[persistence][similarity]") {
  id_tables ids;
  similarity_record rec{3, {{t(ids, "a"), 1.0f, 1}}};
  auto value = encode_similarity_value(rec, ids);
  similarity_record out;
  auto flipped = value;
  flipped[flipped.size() - 1] ^= 0x20;
  CHECK(decode_similarity_value(flipped, ids, out));
  CHECK(decode_similarity_value(value.substr(0, value.size() - 1), ids, out));
  // A partner without a co-play is no partner.
  similarity_record unsupported{3, {{t(ids, "a"), 1.0f, 0}}};
  CHECK(decode_similarity_value(encode_similarity_value(unsupported, ids), ids,
                                out));
  // A ring is not a similarity record, and the other way round.
  std::vector<title_key> ring;
  CHECK(decode_ring_value(value, ids, ring));
  CHECK(
    decode_similarity_value(encode_ring_value({t(ids, "a")}, ids), ids, out));
}

TEST_CASE("store keys of similarity and rings", "[persistence][similarity]") {
  CHECK(similarity_store_key("t7") == "s/t7");
  CHECK(ring_store_key("u42") == "r/u42");
}
