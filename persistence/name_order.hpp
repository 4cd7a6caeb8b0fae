#pragma once

/// Sorting ids by name, for the canonical order of a stored value's
/// dictionary (persistence/state_codec.hpp, persistence/similarity_codec.hpp).
///
/// A checkpoint sorts the names of every changed title's partners and every
/// changed user's titles: with `std::string_view`'s operator<, a library
/// call to memcmp per comparison was an eighth of the writer's time. Here a
/// name's first eight bytes are one big-endian integer, compared inline;
/// only names that tie on them and run longer are compared byte by byte.
/// The order is exactly `std::sort` on (name, number) pairs, because ids
/// never hold a NUL byte (domain/ids.hpp), so a shorter name padded with
/// zeros sorts before every longer name it begins.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace marquee {

/// A name to sort, with a number that breaks ties (its place elsewhere).
struct named {
  uint64_t prefix = 0;
  std::string_view name;
  uint32_t number = 0;

  named(std::string_view n, uint32_t i) : name(n), number(i) {
    unsigned char head[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(head, n.data(), std::min<size_t>(sizeof head, n.size()));
    for (auto b : head)
      prefix = (prefix << 8) | b;
  }
};

/// Orders as the pairs (name, number) do.
inline bool operator<(const named& x, const named& y) {
  if (x.prefix != y.prefix)
    return x.prefix < y.prefix;
  if (x.name.size() > 8 || y.name.size() > 8) {
    if (auto c = x.name.compare(y.name); c != 0)
      return c < 0;
  }
  return x.number < y.number;
}

/// Sorts `xs` by name, then by number.
inline void sort_by_name(std::vector<named>& xs) {
  std::sort(xs.begin(), xs.end());
}

} // namespace marquee
