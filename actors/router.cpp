#include "actors/router.hpp"

#include "domain/vectors.hpp"

#include <caf/send.hpp>

#include <algorithm>

namespace marquee {

void event_router::route(const play_event& ev) {
  caf::anon_send(dir_->user(ev.user), ev);
  caf::anon_send(dir_->title(ev.title), ev);
}

void event_router::route(const impression_event& ev) {
  caf::anon_send(dir_->user(ev.user), ev);
  caf::anon_send(dir_->title(ev.title), ev);
}

void event_router::route(const feedback_event& ev) {
  caf::anon_send(dir_->user(ev.user), ev);
  caf::anon_send(dir_->title(ev.title), ev);
}

void event_router::route(const catalog_event& ev) {
  dir_->catalog(ev);
}

void event_router::route(const profile_event& ev) {
  caf::anon_send(dir_->user(ev.user), ev);
}

event_batcher::event_batcher(std::shared_ptr<directory> dir, size_t max_events)
  : dir_(std::move(dir)), max_events_(std::max<size_t>(1, max_events)) {
  // nop
}

template <class Handle, class Lookup>
void event_batcher::add_to(group<Handle>& g, uint32_t key,
                           const member_event& ev, uint64_t sequence,
                           Lookup lookup) {
  cover_index(g.slot, key);
  auto& slot = g.slot[key];
  if (slot == 0) {
    g.batches.push_back(pending<Handle>{key, lookup(key), {}});
    slot = static_cast<uint32_t>(g.batches.size());
  }
  auto& batch = g.batches[slot - 1].batch;
  batch.events.push_back(ev);
  if (sequence != 0)
    batch.sequences.push_back(sequence);
}

bool event_batcher::add(const member_event& ev, uint64_t sequence) {
  auto user = std::visit([](const auto& x) { return x.user; }, ev);
  auto title = std::visit([](const auto& x) { return x.title; }, ev);
  add_to(users_, user, ev, sequence,
         [this](user_key k) { return dir_->user(k); });
  add_to(titles_, title, ev, sequence,
         [this](title_key k) { return dir_->title(k); });
  return ++size_ >= max_events_;
}

template <class Handle>
void event_batcher::send_all(group<Handle>& g, const mark_ptr& mark) {
  for (auto& p : g.batches) {
    p.batch.mark = mark;
    caf::anon_send(p.actor, std::move(p.batch));
    g.slot[p.key] = 0;
  }
  g.batches.clear();
}

void event_batcher::flush(const mark_ptr& mark) {
  send_all(users_, mark);
  send_all(titles_, mark);
  size_ = 0;
}

} // namespace marquee
