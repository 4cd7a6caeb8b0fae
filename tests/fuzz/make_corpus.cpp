// Writes the seeds of the stored-value fuzz targets from the project's own
// encoders, under the default configuration: `fuzz_make_corpus DIR` fills
// DIR/stored_value and DIR/stored_payload (tests/fuzz/README.md). The
// output is committed; run this again when a stored format changes.

#include "tests/fuzz/stored.hpp"

#include "domain/window.hpp"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace marquee;
using fuzz::stored_kind;

namespace {

constexpr int64_t base_ts = 1'732'240'000'000;

std::filesystem::path out_dir;

void write(const std::string& target, const std::string& name,
           const std::string& bytes) {
  auto dir = out_dir / target;
  std::filesystem::create_directories(dir);
  std::ofstream out{dir / name, std::ios::binary};
  out << bytes;
}

char selector(stored_kind k) {
  return static_cast<char>(k);
}

/// A seed of both targets: the whole value for one, the version and
/// payload behind its frame for the other.
void add_seed(stored_kind k, const std::string& name,
              const std::string& value) {
  write("stored_value", name, selector(k) + value);
  framed_value framed;
  if (k == stored_kind::meta ||
      unframe_value(value, fuzz::kind_of(k), fuzz::version_of(k), framed)) {
    return;
  }
  write("stored_payload", name,
        std::string{selector(k), static_cast<char>(framed.version)} +
          std::string{framed.payload});
}

uint32_t key(interner& table, std::string_view name) {
  return *table.intern(name);
}

user_state sample_user(id_tables& ids, const user_params& p) {
  user_state s;
  auto t = [&](std::string_view name) { return key(ids.titles, name); };
  s.apply_profile(user_profile{12, key(ids.regions, "GB")});
  s.apply_play(t("t7"), base_ts, 0.95, key(ids.regions, "US"), p);
  s.apply_play(t("t9"), base_ts + 10, 0.4, std::nullopt, p);
  s.apply_play(t("t11"), base_ts + 15, 1.0, std::nullopt, p);
  s.apply_feedback(t("t3"), base_ts + 20, -1);
  s.apply_feedback(t("t7"), base_ts + 21, 1);
  for (int i = 0; i < 6; ++i)
    s.apply_impression(i % 2 ? t("t1") : t("t3"), base_ts + 100 * i, p);
  return s;
}

title_state sample_title(id_tables& ids, const trending_params& p) {
  title_state s;
  title_meta meta;
  meta.name = "Toy Story";
  meta.genres = {key(ids.genres, "Animation"), key(ids.genres, "Comedy")};
  std::sort(meta.genres.begin(), meta.genres.end());
  meta.regions = {key(ids.regions, "US"), key(ids.regions, "GB")};
  std::sort(meta.regions.begin(), meta.regions.end());
  meta.min_age = 0;
  meta.year = 1995;
  s.apply_catalog(meta);
  s.apply_play(base_ts, key(ids.regions, "US"), p);
  s.apply_play(base_ts + 5, key(ids.regions, "GB"), p);
  s.apply_play(base_ts + 9, all_regions, p);
  s.apply_impression(base_ts + 3);
  s.apply_feedback(1);
  s.apply_feedback(-1);
  return s;
}

/// A similarity value of version 1 (no supports), as older builds wrote.
std::string similarity_v1() {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar{os};
    std::vector<std::string> names = {"t1", "t9"};
    uint32_t plays = 7;
    std::vector<uint32_t> slots = {1, 0};
    std::vector<float> weights = {2.5f, 0.5f};
    ar(names, plays, slots, weights);
  }
  return frame_value(value_kind::similarity, 1, os.str());
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus DIR\n";
    return 2;
  }
  out_dir = argv[1];
  const auto& p = fuzz::default_params();
  id_tables ids;
  // Users and titles, empty and full.
  add_seed(stored_kind::user, "user-empty", encode_user_value({}, ids));
  auto user = snapshot_of(sample_user(ids, p.user));
  user.last_sequence = 42;
  auto user_value = encode_user_value(user, ids);
  add_seed(stored_kind::user, "user-full", user_value);
  add_seed(stored_kind::title, "title-empty", encode_title_value({}, ids));
  auto title = snapshot_of(sample_title(ids, p.trending));
  title.last_sequence = 43;
  add_seed(stored_kind::title, "title-full", encode_title_value(title, ids));
  // Similarity, both versions, and rings.
  similarity_record rec;
  rec.plays = 12;
  rec.partners = {{key(ids.titles, "t9"), 2.5f, 3},
                  {key(ids.titles, "t1"), 0.75f, 1}};
  add_seed(stored_kind::similarity, "similarity-v2",
           encode_similarity_value(rec, ids));
  add_seed(stored_kind::similarity, "similarity-v2-empty",
           encode_similarity_value({}, ids));
  add_seed(stored_kind::similarity, "similarity-v1", similarity_v1());
  add_seed(stored_kind::ring, "ring",
           encode_ring_value({key(ids.titles, "t7"), key(ids.titles, "t9"),
                              key(ids.titles, "t7")},
                             ids));
  add_seed(stored_kind::ring, "ring-empty", encode_ring_value({}, ids));
  // The checkpoint's sequence (persistence/lmdb_store.cpp).
  add_seed(
    stored_kind::meta, "meta-sequence",
    frame_value(value_kind::meta, 1, std::string("\x2a\0\0\0\0\0\0\0", 8)));
  // Damaged framing: each check of unframe_value once.
  auto damaged = [&](const std::string& name, size_t at, char byte) {
    auto v = user_value;
    v[at] = byte;
    write("stored_value", name, selector(stored_kind::user) + v);
  };
  damaged("user-bad-magic", 0, 'X');
  damaged("user-wrong-kind", 2, static_cast<char>(value_kind::title));
  damaged("user-newer-version", 4, 9);
  damaged("user-bad-length", 8, 1);
  damaged("user-bad-crc", 12, 0);
  damaged("user-bad-payload", value_header_size + 3, 0x7f);
  write("stored_value", "user-truncated",
        selector(stored_kind::user) + user_value.substr(0, 10));
  return 0;
}
