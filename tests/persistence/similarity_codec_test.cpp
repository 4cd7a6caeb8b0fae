// Stored item similarity: a title's plays and co-play partners, a user's
// play ring; round trips, canonical bytes, damaged values refused.

#include "persistence/errors.hpp"
#include "persistence/similarity_codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace marquee;

namespace {

title_key t(id_tables& ids, std::string_view name) {
  return *ids.titles.intern(name);
}

std::vector<std::pair<std::string, float>> named(const similarity_record& r,
                                                 const id_tables& ids) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& p : r.partners)
    out.emplace_back(std::string{ids.titles.name(p.title)}, p.weight);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("a similarity record comes back in another process's keys",
          "[persistence][similarity]") {
  id_tables writer;
  similarity_record rec;
  rec.plays = 42;
  rec.partners = {{t(writer, "nosferatu"), 2.5f},
                  {t(writer, "metropolis"), 0.75f},
                  {t(writer, "m"), 1.0f}};
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
  similarity_record rec{3, {{t(ids, "a"), 1.0f}}};
  auto value = encode_similarity_value(rec, ids);
  similarity_record out;
  auto flipped = value;
  flipped[flipped.size() - 1] ^= 0x20;
  CHECK(decode_similarity_value(flipped, ids, out));
  CHECK(decode_similarity_value(value.substr(0, value.size() - 1), ids, out));
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
