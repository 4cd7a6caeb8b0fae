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

/// A title of a MovieLens catalog file.
struct movie {
  std::string id;
  /// UTF-8 (ml-100k's `u.item` is Latin-1 and is converted).
  std::string name;
  std::vector<std::string> genres;
  /// From the release date or the "(1995)" ending the name; 0 if none.
  int year = 0;
};

/// The titles of `path`: `u.item` of ml-100k (pipe-separated, 19 genre
/// flags named by the `u.genre` beside it) or the `movies.csv` of the newer
/// sets (`movieId,title,genres`, titles quoted when they hold commas,
/// genres separated by '|', "(no genres listed)" meaning none). On failure
/// returns nullopt and sets `error` naming the file and the line.
std::optional<std::vector<movie>> load_movies(const std::string& path,
                                              std::string& error);

/// The catalog file beside a ratings file (`u.item` beside `u.data`,
/// `movies.csv` beside `ratings.csv`), or "" if there is none.
std::string movies_beside(const std::string& ratings_path);

} // namespace marquee
