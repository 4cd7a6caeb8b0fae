#pragma once

/// MovieLens ratings files, for `marquee replay` (issue 4): `u.data` of
/// ml-100k (tab-separated user, item, rating, Unix seconds) or the
/// `ratings.csv` of the newer sets (comma-separated, with a header line).
/// The format is told from the first line, as ../shared/eval/prequential.py
/// does. Ratings come back in time order; equal times keep file order.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace marquee {

struct rating {
  std::string user;
  std::string title;
  double value = 0;
  /// Unix time in seconds.
  int64_t ts_s = 0;
};

/// The ratings of `path`, in time order. On failure returns nullopt and
/// sets `error` to a one-line reason naming the file and the line.
std::optional<std::vector<rating>> load_ratings(const std::string& path,
                                                std::string& error);

} // namespace marquee
