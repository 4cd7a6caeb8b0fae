#pragma once

/// Growth of the vectors that live in per-user and per-title state.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace marquee {

/// Makes room for `more` elements growing by about a quarter, where
/// libstdc++ doubles: these vectors are many and long-lived, and doubling
/// leaves up to half of each unused. Invalidates iterators when it grows.
template <class T>
void reserve_more(std::vector<T>& v, size_t more) {
  if (v.size() + more > v.capacity())
    v.reserve(std::max(v.size() + more, v.capacity() + v.capacity() / 4 + 4));
}

} // namespace marquee
