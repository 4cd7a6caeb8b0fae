#pragma once

/// Time windows written `<n><unit>` with unit m, h or d (CONTRACT.md).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace marquee {

constexpr int64_t ms_per_minute = 60'000;
constexpr int64_t ms_per_hour = 60 * ms_per_minute;
constexpr int64_t ms_per_day = 24 * ms_per_hour;

/// Parses a window such as `30m`, `1h` or `7d` into milliseconds. Returns
/// nullopt for anything else, for zero, and for windows over 100 years.
std::optional<int64_t> parse_window(std::string_view text) noexcept;

/// Formats a duration in milliseconds the way windows are written, using the
/// largest unit that divides it exactly (`90m`, `36h`, `7d`); durations that
/// are not whole minutes are rounded down to minutes (at least `0m`).
std::string format_window(int64_t ms);

} // namespace marquee
