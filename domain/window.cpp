#include "domain/window.hpp"

namespace marquee {

namespace {

constexpr int64_t max_window_ms = 100 * 366 * ms_per_day;

} // namespace

std::optional<int64_t> parse_window(std::string_view text) noexcept {
  if (text.size() < 2 || text.size() > 12)
    return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
  case 'm':
    unit = ms_per_minute;
    break;
  case 'h':
    unit = ms_per_hour;
    break;
  case 'd':
    unit = ms_per_day;
    break;
  default:
    return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n == 0 || n > max_window_ms / unit)
    return std::nullopt;
  return n * unit;
}

std::string format_window(int64_t ms) {
  if (ms >= ms_per_day && ms % ms_per_day == 0)
    return std::to_string(ms / ms_per_day) + "d";
  if (ms >= ms_per_hour && ms % ms_per_hour == 0)
    return std::to_string(ms / ms_per_hour) + "h";
  return std::to_string(ms > 0 ? ms / ms_per_minute : 0) + "m";
}

} // namespace marquee
