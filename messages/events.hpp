#pragma once

/// Events as they travel between actors: validated, ids interned.

#include "domain/catalog.hpp"
#include "domain/co_play_round.hpp"
#include "domain/ids.hpp"
#include "domain/trending.hpp"
#include "messages/applied.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <variant>
#include <vector>

namespace marquee {

/// `P.v1.events.play.<user>`. `region` is `all_regions` when absent.
struct play_event {
  user_key user = 0;
  title_key title = 0;
  int64_t ts = 0;
  double progress = 1.0;
  region_key region = all_regions;
};

/// `P.v1.events.impression.<user>`. `position` is -1 when absent.
struct impression_event {
  user_key user = 0;
  title_key title = 0;
  int64_t ts = 0;
  int32_t position = -1;
};

/// `P.v1.events.feedback.<user>`: +1 thumbs up, -1 thumbs down.
struct feedback_event {
  user_key user = 0;
  title_key title = 0;
  int64_t ts = 0;
  int8_t value = 0;
};

/// `P.v1.catalog.<title>`: create or replace a title's metadata.
struct catalog_event {
  title_key title = 0;
  title_meta meta;
  /// The stream sequence (durable mode; 0 in core mode): the title actor
  /// skips it when it has applied it already.
  uint64_t sequence = 0;
  /// The ingest round that sent it (see messages/applied.hpp).
  mark_ptr mark = nullptr;
};

/// `P.v1.profile.<user>`: create or replace a user's profile.
struct profile_event {
  user_key user = 0;
  user_profile profile;
  /// The stream sequence (durable mode; 0 in core mode): the user actor
  /// skips it when it has applied it already.
  uint64_t sequence = 0;
  /// The ingest round that sent it (see messages/applied.hpp).
  mark_ptr mark = nullptr;
};

/// A member's action, as it reaches both the user's and the title's actor.
using member_event = std::variant<play_event, impression_event, feedback_event>;

/// Events for one actor, in the order they were published. The ingest path
/// sends one batch per actor per flush instead of one message per event.
struct event_batch {
  std::vector<member_event> events;
  /// The stream sequence of each event (durable mode), or empty (core
  /// mode). An actor skips events at or below the last sequence it applied,
  /// so a replay never applies an event twice.
  std::vector<uint64_t> sequences;
  /// The ingest round that sent it (see messages/applied.hpp).
  mark_ptr mark = nullptr;
};

/// One ingest round's plays for the similarity shards: every shard gets the
/// same round (shared, never copied) and applies the pairs of its titles.
struct co_play_batch {
  std::shared_ptr<const co_play_round> round;
  /// The ingest round that sent it (see messages/applied.hpp).
  mark_ptr mark = nullptr;
};

/// The counts of one title in one region (`all_regions`: global), written
/// by the title actor into the trending cell after its plays.
struct trending_update {
  title_key title = 0;
  region_key region = all_regions;
  play_counts counts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, play_event& x) {
  return f(caf::meta::type_name("play_event"), x.user, x.title, x.ts,
           x.progress, x.region);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, impression_event& x) {
  return f(caf::meta::type_name("impression_event"), x.user, x.title, x.ts,
           x.position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, feedback_event& x) {
  return f(caf::meta::type_name("feedback_event"), x.user, x.title, x.ts,
           x.value);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, catalog_event& x) {
  return f(caf::meta::type_name("catalog_event"), x.title, x.meta.name,
           x.meta.genres, x.meta.min_age, x.meta.year, x.meta.regions,
           x.meta.available, x.sequence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, profile_event& x) {
  return f(caf::meta::type_name("profile_event"), x.user, x.sequence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  auto n = x.events.size();
  return f(caf::meta::type_name("event_batch"), n);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, co_play_batch& x) {
  auto n = x.round ? x.round->plays.size() : size_t{0};
  return f(caf::meta::type_name("co_play_batch"), n);
}

} // namespace marquee
