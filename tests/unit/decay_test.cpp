#include "domain/decay.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace marquee;

TEST_CASE("a decayed sum of one event halves every window with alpha 0.5",
          "[domain][decay]") {
  auto r = decay_rate::of(0.5, 1000);
  decayed_sum s;
  s.add(5000, r);
  CHECK(s.value_at(5000, r) == Approx(1.0));
  CHECK(s.value_at(6000, r) == Approx(0.5));
  CHECK(s.value_at(8000, r) == Approx(0.125));
}
