#include "tests/actor/fixture.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <catch2/catch.hpp>

using namespace marquee;
using namespace marquee::test;

namespace {

using echo_actor = caf::typed_actor<caf::replies_to<int32_t>::with<int32_t>>;

/// Multiplies positive numbers by `factor`, refuses zero, never answers
/// negative ones. (Spawned with an argument: CAF 0.17.6 binds a null
/// reference for a spawn without any, which UBSan reports.)
echo_actor::behavior_type multiplying_actor(echo_actor::pointer self,
                                            int32_t factor) {
  return {
    [self, factor](int32_t x) -> caf::result<int32_t> {
      if (x == 0)
        return make_error(errc::bad_request, "zero");
      if (x < 0)
        return self->make_response_promise<int32_t>(); // never delivered
      return factor * x;
    },
  };
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "the fixture runs actors only when asked to, on the "
                 "calling thread",
                 "[actor][fixture]") {
  auto hdl = sys.spawn(multiplying_actor, int32_t{2});
  caf::anon_send(hdl, int32_t{1});
  CHECK(sched.jobs.size() == 1);
  CHECK(run() == 1);
  CHECK(sched.jobs.empty());
}

TEST_CASE_METHOD(fixture,
                 "the fixture returns a reply, an error, or a timeout for a "
                 "request nobody answers",
                 "[actor][fixture]") {
  auto hdl = sys.spawn(multiplying_actor, int32_t{2});
  CHECK(ask<int32_t>(hdl, int32_t{21}) == 42);
  auto err = ask_error<int32_t>(hdl, int32_t{0});
  CHECK(err.code == errc::bad_request);
  CHECK(err.message == "zero");
  auto silent = request<int32_t>(hdl, int32_t{-1});
  REQUIRE_FALSE(silent);
  CHECK(silent.error() == caf::sec::request_timeout);
  CHECK(describe(silent.error()).code == errc::overloaded);
  // The actor is still there.
  CHECK(ask<int32_t>(hdl, int32_t{2}) == 4);
}
