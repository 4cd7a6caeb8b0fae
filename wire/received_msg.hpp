#pragma once

/// A message nats.c delivered: its body, and freeing it on the thread that
/// holds it.
///
/// `natsMsg_Destroy` of nats.c 3.4.1 does not free a message it received:
/// it queues it for the library's garbage-collector thread, under a mutex,
/// and signals that thread whenever it waits. At 20,000 events a second
/// the ingest thread and the collector woke each other thousands of times
/// a second (a quarter of the ingest thread's futex calls, `perf record -e
/// syscalls:sys_enter_futex --call-graph dwarf -t <tid>`), and freeing in
/// bunches only turned that into a burst of handovers of the mutex. A
/// received message is one allocation that nothing else refers to once its
/// holder is done, so marquee frees it itself with `natsMsg_free`, the
/// function the collector calls. It is not in nats.c's public headers, but
/// libnats exports it (`nm -D`); Debian 12 pins nats.c 3.4.1, and linking
/// fails if a later version drops it (ADR 29).

#include <nats/nats.h>

#include <string_view>

extern "C" {
/// nats.c's own (src/msg.c): frees a message and its headers.
void natsMsg_free(void* object);
}

namespace marquee {

/// The body of `msg`, a view into it.
inline std::string_view data_of(natsMsg* msg) {
  return {natsMsg_GetData(msg),
          static_cast<size_t>(natsMsg_GetDataLength(msg))};
}

/// Frees `msg`, received from a subscription or read from a stream, now and
/// on this thread. Null is ignored.
inline void free_received(natsMsg* msg) {
  if (msg != nullptr)
    natsMsg_free(msg);
}

} // namespace marquee
