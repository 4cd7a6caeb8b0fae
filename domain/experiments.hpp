#pragma once

/// Experiments: variants of the ranking parameters, each user assigned to
/// one by a stable hash of their id, and the memory that attributes a play
/// to the recommendation that came shortly before it (the online
/// play-through rate of a variant).
///
/// Pure: no clocks, no I/O.

#include "domain/ids.hpp"
#include "domain/ranking.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marquee {

/// One experiment variant: its name, its share of users and its ranking.
struct variant_params {
  std::string name;
  /// Relative share of users (0: only when a request forces it).
  uint32_t share = 1;
  ranking_params ranking;
};

struct experiment_params {
  /// At least one; the first is where the shares of the others come from
  /// in the docs' examples, nothing more.
  std::vector<variant_params> variants = {{"control", 1, {}}};
  /// Mixed into the hash: a new salt reshuffles every user.
  std::string salt = "marquee";
  /// A play counts for a recommendation at most this long after it
  /// (default 1h).
  int64_t attribution_ms = 3'600'000;
  /// Recommended titles remembered per user (default 50).
  uint32_t remembered = 50;

  static constexpr size_t npos = static_cast<size_t>(-1);

  /// The index of the variant named `name`, or `npos`.
  size_t find(std::string_view name) const;

  /// The variant of `user`: the hash of salt and id, mapped onto the
  /// shares in their order. Stable while salt, names and shares stay.
  size_t assign(std::string_view user) const;

  /// The variant names, comma-separated (for error messages).
  std::string names() const;
};

/// 64-bit FNV-1a of `salt`, a 0xff byte and `user`, finished with the
/// splitmix64 mixer so that every bit depends on every input byte.
uint64_t stable_hash(std::string_view salt, std::string_view user);

/// The titles recently recommended to one user, with when and in which
/// variant; a play of one of them soon after counts once for that variant.
class recommended_titles {
public:
  /// Remembers `titles` as recommended at `at` in `variant`; a title
  /// already remembered takes the newer time and variant. Keeps the newest
  /// `capacity` titles; of one list longer than that, its first (best
  /// ranked) ones.
  void remember(const std::vector<title_key>& titles, int64_t at,
                uint32_t variant, uint32_t capacity);

  /// The variant that recommended `title` at most `window` ms before `ts`
  /// (and not after it); the title is then forgotten, so that it counts
  /// once. A remembered title recommended more than `window` before `ts`
  /// is forgotten too.
  std::optional<uint32_t> take(title_key title, int64_t ts, int64_t window);

  size_t size() const { return entries_.size(); }

private:
  struct entry {
    title_key title;
    uint32_t variant;
    int64_t at;
  };
  std::vector<entry> entries_; // oldest first
};

} // namespace marquee
