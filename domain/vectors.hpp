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

/// The size to which a vector indexed by dense keys grows to hold `index`:
/// half again its size, at least `index + 1`.
inline size_t covering_size(size_t size, size_t index) {
  return std::max(index + 1, size + size / 2);
}

/// Makes `v[index]` an element, new elements value-initialised, with the
/// capacity reserved exactly (`resize` alone would double it).
template <class T>
void cover_index(std::vector<T>& v, size_t index) {
  if (index < v.size())
    return;
  auto n = covering_size(v.size(), index);
  v.reserve(n);
  v.resize(n);
}

/// The same with new elements `fill`.
template <class T>
void cover_index(std::vector<T>& v, size_t index, const T& fill) {
  if (index < v.size())
    return;
  auto n = covering_size(v.size(), index);
  v.reserve(n);
  v.resize(n, fill);
}

} // namespace marquee
