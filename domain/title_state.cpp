#include "domain/title_state.hpp"

#include <algorithm>

namespace marquee {

void title_state::apply_play(int64_t ts, region_key region,
                             const trending_params& p) {
  trending_.add_play(ts, region, p);
  last_play_ts_ = std::max(last_play_ts_, ts);
}

void title_state::apply_feedback(int8_t value) {
  if (value > 0)
    ++thumbs_up_;
  else if (value < 0)
    ++thumbs_down_;
}

void title_state::apply_impression(int64_t ts) {
  ++impressions_;
  last_impression_ts_ = std::max(last_impression_ts_, ts);
}

} // namespace marquee
