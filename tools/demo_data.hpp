#pragma once

/// The demo catalog and events of `marquee demo`: a few hundred titles and a
/// few thousand synthetic events, the same for every run (seeded).

#include <cstdint>
#include <string>
#include <vector>

namespace marquee {

struct demo_message {
  std::string subject_tail; // after "P.v1."
  std::string body;
};

/// Titles, profiles, then plays, impressions and thumbs over the last week
/// before `now_ms`.
std::vector<demo_message> make_demo_data(int64_t now_ms, uint32_t titles = 300,
                                         uint32_t users = 200,
                                         uint32_t events = 5000);

} // namespace marquee
