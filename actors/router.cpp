#include "actors/router.hpp"

#include <caf/send.hpp>

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
  caf::anon_send(dir_->title(ev.title), ev);
  caf::anon_send(trending_, ev);
}

void event_router::route(const profile_event& ev) {
  caf::anon_send(dir_->user(ev.user), ev);
}

} // namespace marquee
