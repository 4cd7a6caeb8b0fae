#include "ingest/pipeline.hpp"

#include <caf/send.hpp>

#include <type_traits>

namespace marquee {

ingest_pipeline::ingest_pipeline(ingest_deps deps, size_t max_batch)
  : deps_(std::move(deps)), router_(deps_.dir), batcher_(deps_.dir, max_batch),
    pairer_(&deps_.params->similarity) {
  // nop
}

void ingest_pipeline::open_round() {
  if (deps_.applied)
    round_ = deps_.applied->open();
}

void ingest_pipeline::close_round(uint64_t last_sequence) {
  flush();
  if (round_) {
    deps_.applied->close(round_, last_sequence);
    round_.reset();
  }
}

template <class Event>
void ingest_pipeline::add_member(const Event& ev, uint64_t sequence) {
  if (changes_) {
    changes_->changed_user(ev.user);
    changes_->changed_title(ev.title);
  }
  if (batcher_.add(ev, sequence))
    flush();
}

template <class Event>
void ingest_pipeline::route_one(const Event& ev, uint64_t sequence) {
  if (changes_) {
    if constexpr (std::is_same_v<Event, catalog_event>)
      changes_->changed_title(ev.title);
    else
      changes_->changed_user(ev.user);
  }
  flush();
  auto numbered = ev;
  numbered.sequence = sequence;
  numbered.mark = round_;
  router_.route(numbered);
}

void ingest_pipeline::add(const play_event& ev, uint64_t sequence) {
  if (!deps_.similarity.empty()) {
    if (deps_.load_ring && pairer_.needs_ring(ev.user))
      pairer_.load(ev.user, deps_.load_ring(ev.user));
    pairer_.add(ev.user, ev.title, sequence);
  }
  add_member(ev, sequence);
}

void ingest_pipeline::add(const impression_event& ev, uint64_t sequence) {
  add_member(ev, sequence);
}

void ingest_pipeline::add(const feedback_event& ev, uint64_t sequence) {
  add_member(ev, sequence);
}

void ingest_pipeline::add(const catalog_event& ev, uint64_t sequence) {
  route_one(ev, sequence);
}

void ingest_pipeline::add(const profile_event& ev, uint64_t sequence) {
  route_one(ev, sequence);
}

void ingest_pipeline::flush() {
  batcher_.flush(round_);
  if (pairer_.empty())
    return;
  auto shared = std::make_shared<const co_play_round>(pairer_.take());
  for (const auto& shard : deps_.similarity)
    caf::anon_send(shard, co_play_batch{shared, round_});
}

checkpoint_extra ingest_pipeline::begin_checkpoint(uint64_t sequence) {
  checkpoint_extra extra;
  extra.rings = pairer_.take_changed();
  for (const auto& shard : deps_.similarity)
    caf::anon_send(shard, freeze_atom_v, sequence);
  return extra;
}

} // namespace marquee
