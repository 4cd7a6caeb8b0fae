// Every type that crosses an actor boundary is registered in marquee's
// type-id block (STYLE.md, rule 3). Checked at compile time.

#include "messages/actors.hpp"

#include <catch2/catch.hpp>

namespace {

template <class T>
constexpr bool registered() {
  constexpr auto id = caf::type_id<T>::value;
  return id >= caf::id_block::marquee::begin &&
         id < caf::id_block::marquee::end;
}

template <class... Ts>
constexpr bool all_registered() {
  return (registered<Ts>() && ...);
}

} // namespace

static_assert(
  all_registered<
    marquee::play_event, marquee::impression_event, marquee::feedback_event,
    marquee::catalog_event, marquee::profile_event, marquee::event_batch,
    marquee::impressions_query, marquee::impressions_result, marquee::user_dump,
    marquee::title_dump, marquee::co_play_batch, marquee::similarity_dump,
    marquee::similarity_snapshot, marquee::recommended_list,
    marquee::user_snapshot_data, marquee::title_snapshot_data>(),
  "a message type is missing from the marquee type-id block");

TEST_CASE("marquee's type ids follow CAF's own and do not overlap them",
          "[actor][types]") {
  CHECK(caf::id_block::marquee::begin >= caf::first_custom_type_id);
  CHECK(caf::id_block::marquee::end > caf::id_block::marquee::begin);
}
