#include "tools/ratings.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string_view>

namespace marquee {

namespace {

/// Splits `line` at `sep` into at most 5 fields; false if more or fewer
/// than 4 (a trailing '\r' is dropped).
bool split4(std::string_view line, char sep, std::string_view (&out)[4]) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  size_t n = 0;
  for (;;) {
    auto pos = line.find(sep);
    if (n == 4)
      return false;
    out[n++] = line.substr(0, pos);
    if (pos == std::string_view::npos)
      return n == 4;
    line.remove_prefix(pos + 1);
  }
}

/// The whole of `s` as a number (std::from_chars: no locale, no spaces).
template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

} // namespace

std::optional<std::vector<rating>> load_ratings(const std::string& path,
                                                std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::vector<rating> out;
  std::string line;
  char sep = '\t';
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      sep = line.find(',') != std::string::npos ? ',' : '\t';
      if (!line.empty() && (line[0] < '0' || line[0] > '9'))
        continue; // a header
    }
    if (line.empty() || line == "\r")
      continue;
    std::string_view fields[4];
    rating r;
    auto where = path + ":" + std::to_string(number) + ": ";
    if (!split4(line, sep, fields) || fields[0].empty() || fields[1].empty()) {
      error = where +
              "expected user, item, rating and timestamp separated by " +
              (sep == ',' ? "commas" : "tabs");
      return std::nullopt;
    }
    if (!parse_number(fields[2], r.value) || !parse_number(fields[3], r.ts_s)) {
      error = where + "rating and timestamp must be numbers";
      return std::nullopt;
    }
    r.user = fields[0];
    r.title = fields[1];
    out.push_back(std::move(r));
  }
  if (in.bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.ts_s < b.ts_s;
  });
  return out;
}

} // namespace marquee

namespace marquee {

namespace {

/// Latin-1 to UTF-8 (ml-100k's titles hold a few accented letters).
std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto pos = line.find(sep);
    out.push_back(line.substr(0, pos));
    if (pos == std::string_view::npos)
      return out;
    line.remove_prefix(pos + 1);
  }
}

/// The year of "Toy Story (1995)", or 0.
int year_in_name(std::string_view name) {
  while (!name.empty() && name.back() == ' ')
    name.remove_suffix(1);
  if (name.size() < 6 || name.back() != ')' || name[name.size() - 6] != '(')
    return 0;
  int year = 0;
  auto digits = name.substr(name.size() - 5, 4);
  return parse_number(digits, year) ? year : 0;
}

/// The fields of one CSV line (RFC 4180 quoting, no newlines in fields).
bool split_csv(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  out.push_back(std::move(field));
  return !quoted;
}

/// The genre names of `u.genre` (`name|index`), by index.
std::optional<std::vector<std::string>>
load_genre_names(const std::string& path, std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read " + path + " (the genre names of u.item)";
    return std::nullopt;
  }
  std::vector<std::string> names;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    auto f = split(line, '|');
    size_t index = 0;
    if (f.size() != 2 || f[0].empty() || !parse_number(f[1], index) ||
        index > 1000) {
      error = path + ":" + std::to_string(number) + ": expected name|index";
      return std::nullopt;
    }
    if (names.size() <= index)
      names.resize(index + 1);
    names[index] = std::string{f[0]};
  }
  return names;
}

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string file_name_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

std::optional<std::vector<movie>> load_movies(const std::string& path,
                                              std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  bool item_file = file_name_of(path) == "u.item";
  std::vector<std::string> genre_names;
  if (item_file) {
    auto names = load_genre_names(directory_of(path) + "/u.genre", error);
    if (!names)
      return std::nullopt;
    genre_names = std::move(*names);
  }
  std::vector<movie> out;
  std::string line;
  std::vector<std::string> fields;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    auto where = path + ":" + std::to_string(number) + ": ";
    movie m;
    if (item_file) {
      auto f = split(line, '|');
      if (f.size() != 5 + genre_names.size() || f[0].empty()) {
        error = where + "expected id, title, dates, URL and " +
                std::to_string(genre_names.size()) + " genre flags";
        return std::nullopt;
      }
      m.id = std::string{f[0]};
      m.name = latin1_to_utf8(f[1]);
      m.year = year_in_name(f[1]);
      if (m.year == 0 && f[2].size() >= 4)
        parse_number(f[2].substr(f[2].size() - 4), m.year);
      for (size_t g = 0; g < genre_names.size(); ++g)
        if (f[5 + g] == "1" && genre_names[g] != "unknown")
          m.genres.push_back(genre_names[g]);
    } else {
      if (number == 1 && line.rfind("movieId", 0) == 0)
        continue; // the header
      if (!split_csv(line, fields) || fields.size() != 3 || fields[0].empty()) {
        error = where + "expected movieId,title,genres";
        return std::nullopt;
      }
      m.id = fields[0];
      m.name = fields[1];
      m.year = year_in_name(fields[1]);
      if (fields[2] != "(no genres listed)")
        for (auto g : split(fields[2], '|'))
          if (!g.empty())
            m.genres.emplace_back(g);
    }
    out.push_back(std::move(m));
  }
  if (in.bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return out;
}

std::string movies_beside(const std::string& ratings_path) {
  auto dir = directory_of(ratings_path);
  for (const char* name : {"u.item", "movies.csv"}) {
    auto candidate = dir + "/" + name;
    if (std::ifstream{candidate})
      return candidate;
  }
  return "";
}

} // namespace marquee
