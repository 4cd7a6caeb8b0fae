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
