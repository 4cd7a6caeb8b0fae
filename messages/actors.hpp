#pragma once

/// Every actor interface of marquee, one comment per handler, and the CAF
/// type-id block of the messages (types, then atoms).

#include "messages/errors.hpp"
#include "messages/events.hpp"
#include "messages/queries.hpp"

#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#define MARQUEE_TYPES_FIRST caf::first_custom_type_id

// clang-format off
CAF_BEGIN_TYPE_ID_BLOCK(marquee, MARQUEE_TYPES_FIRST)

  CAF_ADD_TYPE_ID(marquee, (marquee::play_event))
  CAF_ADD_TYPE_ID(marquee, (marquee::impression_event))
  CAF_ADD_TYPE_ID(marquee, (marquee::feedback_event))
  CAF_ADD_TYPE_ID(marquee, (marquee::catalog_event))
  CAF_ADD_TYPE_ID(marquee, (marquee::profile_event))
  CAF_ADD_TYPE_ID(marquee, (marquee::event_batch))
  CAF_ADD_TYPE_ID(marquee, (marquee::impressions_query))
  CAF_ADD_TYPE_ID(marquee, (marquee::impressions_result))
  CAF_ADD_TYPE_ID(marquee, (marquee::user_dump))
  CAF_ADD_TYPE_ID(marquee, (marquee::title_dump))
  CAF_ADD_TYPE_ID(marquee, (marquee::co_play_batch))
  CAF_ADD_TYPE_ID(marquee, (marquee::similarity_dump))
  CAF_ADD_TYPE_ID(marquee, (marquee::similarity_snapshot))
  CAF_ADD_TYPE_ID(marquee, (marquee::recommended_list))

  CAF_ADD_TYPE_ID(marquee, (marquee::user_snapshot_data))
  CAF_ADD_TYPE_ID(marquee, (marquee::title_snapshot_data))

  CAF_ADD_ATOM(marquee, marquee, dump_atom, "dump")
  CAF_ADD_ATOM(marquee, marquee, snapshot_atom, "snapshot")
  CAF_ADD_ATOM(marquee, marquee, freeze_atom, "freeze")

CAF_END_TYPE_ID_BLOCK(marquee)
// clang-format on

namespace marquee {

/// One per user, activated on first use by the directory.
using user_actor = caf::typed_actor<
  /// Applies a play (history, watched, in progress).
  caf::reacts_to<play_event>,
  /// Applies an impression (EMAs, raw retention).
  caf::reacts_to<impression_event>,
  /// Applies a thumbs up or down.
  caf::reacts_to<feedback_event>,
  /// Replaces the profile.
  caf::reacts_to<profile_event>,
  /// Applies plays, impressions and thumbs in order.
  caf::reacts_to<event_batch>,
  /// Remembers titles just recommended, to count plays that follow.
  caf::reacts_to<recommended_list>,
  /// Answers an impression-history question (400 when it cannot).
  caf::replies_to<impressions_query>::with<impressions_result>,
  /// Returns the live state at the given time, for operators.
  caf::replies_to<dump_atom, int64_t>::with<user_dump>>;

/// One per title, activated on first use by the directory.
using title_actor = caf::typed_actor<
  /// Counts a play and forwards the new trending counts.
  caf::reacts_to<play_event>,
  /// Counts an impression.
  caf::reacts_to<impression_event>,
  /// Counts a thumbs up or down.
  caf::reacts_to<feedback_event>,
  /// Replaces the metadata.
  caf::reacts_to<catalog_event>,
  /// Applies plays, impressions and thumbs in order; one trending update per
  /// list the batch touched.
  caf::reacts_to<event_batch>,
  /// Returns the live state at the given time, for operators.
  caf::replies_to<dump_atom, int64_t>::with<title_dump>,
  /// Returns the state to store, with the last stream sequence applied.
  caf::replies_to<snapshot_atom>::with<title_snapshot_data>>;

/// Item similarity of the titles whose key is its index modulo the number
/// of shards (domain/similarity.hpp).
using similarity_actor = caf::typed_actor<
  /// Applies a round's plays in stream order, skipping what it applied.
  caf::reacts_to<co_play_batch>,
  /// Returns what it holds of one of its titles, for operators.
  caf::replies_to<dump_atom, title_key>::with<similarity_dump>,
  /// From the ingest thread, between the rounds up to a checkpoint's
  /// sequence and the later ones: sets aside the titles changed since the
  /// last freeze, exactly as of that sequence.
  caf::reacts_to<freeze_atom, uint64_t>,
  /// Returns (once) what the freeze at that sequence set aside.
  caf::replies_to<snapshot_atom, uint64_t>::with<similarity_snapshot>>;

} // namespace marquee
