#include "wire/event_stream.hpp"

#include "wire/js_ack.hpp"
#include "wire/received_msg.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>

namespace marquee {

namespace {

constexpr int64_t ns_per_ms = 1'000'000;

std::string failure(const std::string& what, natsStatus st, jsErrCode jerr) {
  auto out = what + ": " + natsStatus_GetText(st);
  if (jerr != 0)
    out += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  return out;
}

struct js_deleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
using js_ptr = std::unique_ptr<jsCtx, js_deleter>;

struct info_deleter {
  void operator()(jsStreamInfo* si) const { jsStreamInfo_Destroy(si); }
};
using info_ptr = std::unique_ptr<jsStreamInfo, info_deleter>;

js_ptr jetstream_of(natsConnection* nc, std::string& error) {
  jsCtx* js = nullptr;
  auto st = natsConnection_JetStream(&js, nc, nullptr);
  if (st != NATS_OK) {
    error = failure("JetStream is not available", st, jsErrCode{});
    return nullptr;
  }
  return js_ptr{js};
}

/// Creates the stream `sc` describes, or checks that the existing stream of
/// its name has exactly `subjects` (in any order: otherwise it belongs to
/// someone else and is never changed) and updates its limits. Its info, or
/// null and `error`.
info_ptr create_or_update(jsCtx* js, jsStreamConfig& sc,
                          const std::vector<std::string>& subjects,
                          std::string& error) {
  std::string name = sc.Name;
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = jsErrCode{};
  auto st = js_GetStreamInfo(&raw, js, sc.Name, nullptr, &jerr);
  info_ptr existing{raw};
  if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jerr = jsErrCode{};
    st = js_AddStream(&raw, js, &sc, nullptr, &jerr);
    info_ptr created{raw};
    if (st != NATS_OK)
      error = failure("cannot create stream " + name, st, jerr);
    return created;
  }
  if (st != NATS_OK) {
    error = failure("cannot read stream " + name, st, jerr);
    return nullptr;
  }
  const auto& have = existing->Config;
  bool same = have->SubjectsLen == static_cast<int>(subjects.size());
  for (int i = 0; same && i < have->SubjectsLen; ++i)
    same = std::find(subjects.begin(), subjects.end(),
                     std::string{have->Subjects[i]}) != subjects.end();
  if (!same) {
    error = "stream " + name +
            " exists with other subjects; choose another stream name";
    return nullptr;
  }
  jerr = jsErrCode{};
  st = js_UpdateStream(&raw, js, &sc, nullptr, &jerr);
  info_ptr updated{raw};
  if (st != NATS_OK) {
    error = failure("cannot update stream " + name, st, jerr);
    return nullptr;
  }
  return updated;
}

} // namespace

std::vector<std::string> stream_subjects(const std::string& prefix) {
  auto base = prefix + ".v1.";
  return {base + "events.>", base + "catalog.>", base + "profile.>"};
}

std::string dead_letter_id(const std::string& name, int64_t created_ns,
                           uint64_t sequence) {
  return name + ":" + std::to_string(created_ns) + ":" +
         std::to_string(sequence);
}

bool ensure_stream(natsConnection* nc, const stream_config& cfg,
                   std::string& error, uint64_t* last_sequence,
                   int64_t* created_ns) {
  if (last_sequence != nullptr)
    *last_sequence = 0;
  if (created_ns != nullptr)
    *created_ns = 0;
  auto js = jetstream_of(nc, error);
  if (!js)
    return false;
  auto subjects = stream_subjects(cfg.prefix);
  std::vector<const char*> subject_ptrs;
  for (const auto& s : subjects)
    subject_ptrs.push_back(s.c_str());
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = cfg.name.c_str();
  sc.Subjects = subject_ptrs.data();
  sc.SubjectsLen = static_cast<int>(subject_ptrs.size());
  sc.Storage = js_FileStorage;
  sc.MaxAge = cfg.max_age_ms * ns_per_ms;
  sc.MaxBytes = cfg.max_bytes;
  sc.Duplicates = cfg.duplicate_window_ms * ns_per_ms;
  auto info = create_or_update(js.get(), sc, subjects, error);
  if (!info)
    return false;
  if (last_sequence != nullptr)
    *last_sequence = info->State.LastSeq;
  if (created_ns != nullptr)
    *created_ns = info->Created;
  return true;
}

bool ensure_dlq_stream(natsConnection* nc, const stream_config& cfg,
                       int64_t created_ns, uint64_t& newest,
                       std::string& error) {
  newest = 0;
  auto js = jetstream_of(nc, error);
  if (!js)
    return false;
  auto name = cfg.dlq_name();
  std::vector<std::string> subjects = {cfg.prefix + ".v1.dlq.>"};
  const char* subject_ptrs[] = {subjects[0].c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  sc.Subjects = subject_ptrs;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.MaxAge = cfg.dlq_max_age_ms * ns_per_ms;
  sc.Duplicates =
    std::min(cfg.duplicate_window_ms, cfg.dlq_max_age_ms) * ns_per_ms;
  auto info = create_or_update(js.get(), sc, subjects, error);
  if (!info)
    return false;
  if (info->State.Msgs == 0)
    return true;
  natsMsg* last = nullptr;
  jsErrCode jerr = jsErrCode{};
  auto st = js_GetMsg(&last, js.get(), name.c_str(), info->State.LastSeq,
                      nullptr, &jerr);
  if (st != NATS_OK) {
    error = failure("cannot read the newest dead letter of " + name, st, jerr);
    return false;
  }
  const char* id = nullptr;
  const char* sequence = nullptr;
  if (natsMsgHeader_Get(last, "Marquee-Sequence", &sequence) == NATS_OK &&
      natsMsgHeader_Get(last, "Nats-Msg-Id", &id) == NATS_OK &&
      sequence != nullptr && id != nullptr) {
    auto seq = std::strtoull(sequence, nullptr, 10);
    if (dead_letter_id(cfg.name, created_ns, seq) == id)
      newest = seq;
  }
  natsMsg_Destroy(last);
  return true;
}

namespace {

/// One pull request in flight: the server delivers up to `remaining` more
/// messages for it until it expires (ADR 0020).
struct pull_request {
  uint64_t id = 0;
  int64_t remaining = 0;
  std::chrono::steady_clock::time_point until;
};

/// How long a pull request stands at the server. Messages published while
/// it stands reach the reader at once; a new one is sent before the
/// credit runs low.
constexpr std::chrono::seconds pull_expires{5};

/// The number after the last '.' of a status message's subject (the pull
/// request it answers), or 0.
uint64_t pull_id_of(const char* subject) {
  const char* dot = std::strrchr(subject, '.');
  if (dot == nullptr)
    return 0;
  char* end = nullptr;
  auto id = std::strtoull(dot + 1, &end, 10);
  return end != dot + 1 && *end == '\0' ? id : 0;
}

} // namespace

struct stream_reader::impl {
  js_ptr js;
  /// Our own pull subscription: natsSubscription_Fetch of nats.c 3.4.1
  /// writes past its array when an earlier fetch left messages behind
  /// (nats-io/nats.c#749), so the reader sends its pull requests itself
  /// and reads their messages from this inbox (`<inbox>.<request id>`).
  natsSubscription* sub = nullptr;
  std::string inbox;
  std::string next_subject;
  std::deque<pull_request> pulls;
  uint64_t pull_ids = 0;
  natsStatistics* stats = nullptr;
  uint64_t reconnects = 0;
  std::string stream;
  std::string durable;
  uint64_t delivered = 0;
  uint64_t pending_at_open = 0;
  uint64_t skipped = 0;
  /// Ack subjects of messages handed out and not yet acknowledged.
  std::deque<std::pair<uint64_t, std::string>> unacked;
  /// Everything up to here is acknowledged (or `retry_ack` will be).
  uint64_t acked = 0;
  /// An acknowledgement that could not be sent, sent again by `fetch`.
  std::pair<uint64_t, std::string> retry_ack;
  /// The newest acknowledgement sent: sent again after a reconnect, as a
  /// server killed before it stored the acks restarts with an older ack
  /// floor, and may hold back every new message for `max_ack_pending`
  /// acks that would otherwise never come again.
  std::pair<uint64_t, std::string> last_ack;
  /// Why reading stopped for good (the stream went backwards).
  std::string broken;
  /// A message received, the nats.c message its views point into, and its
  /// ack subject (in that message too).
  struct received {
    stream_message msg;
    natsMsg* owner = nullptr;
    std::string_view reply;
    uint64_t deliveries = 1;
  };
  /// Received after a gap not yet filled (the stream could not be read,
  /// or a fetch's worth was read from it): handed out by the next fetch,
  /// after the rest of the gap.
  std::vector<received> held;
  natsConnection* nc = nullptr;

  void hand_out(stream_message m, std::vector<stream_message>& out) {
    delivered = m.sequence;
    out.push_back(std::move(m));
  }

  enum class gap { filled, partial, failed };
  reader_options opts;
  std::chrono::steady_clock::time_point last_check =
    std::chrono::steady_clock::now();
  /// `delivered` when the last check saw the stream hold more (see
  /// `check_consumer`).
  std::optional<uint64_t> stalled_at;

  /// While fetches come back empty: is the consumer still there, and does
  /// it still deliver? A deleted consumer gets no fetch answered, so it
  /// looks like an idle stream. So does one whose state a nats-server
  /// killed with -9 restored wrongly (seen in the crash test under load:
  /// the stream held 3 events more than marquee had read, and for 20 s the
  /// consumer delivered none): when the stream holds messages after
  /// `delivered` at two checks in a row, nothing came in between and the
  /// acks leave room, the consumer is created again after `delivered`,
  /// with what the server said of it in `error`.
  void check_consumer(std::string& error) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_check < opts.consumer_check)
      return;
    last_check = now;
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = jsErrCode{};
    auto st = js_GetConsumerInfo(&ci, js.get(), stream.c_str(), durable.c_str(),
                                 nullptr, &jerr);
    std::unique_ptr<jsConsumerInfo, void (*)(jsConsumerInfo*)> info{
      ci, jsConsumerInfo_Destroy};
    if (st == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr ||
        jerr == JSStreamNotFoundErr) {
      recreate_consumer(error);
      return;
    }
    jsStreamInfo* raw = nullptr;
    if (st != NATS_OK || js_GetStreamInfo(&raw, js.get(), stream.c_str(),
                                          nullptr, nullptr) != NATS_OK) {
      stalled_at.reset();
      return;
    }
    info_ptr sinfo{raw};
    bool waiting =
      sinfo->State.LastSeq > delivered &&
      delivered - acked <
        static_cast<uint64_t>(std::max<int64_t>(opts.max_ack_pending, 1));
    if (!waiting) {
      stalled_at.reset();
      return;
    }
    if (stalled_at != delivered) { // first seen: checked again next time
      stalled_at = delivered;
      return;
    }
    stalled_at.reset();
    auto seen = "consumer " + durable + " delivered nothing while stream " +
                stream + " held sequences " + std::to_string(delivered + 1) +
                " to " + std::to_string(sinfo->State.LastSeq) +
                " (the server said: delivered " +
                std::to_string(ci->Delivered.Stream) + ", ack floor " +
                std::to_string(ci->AckFloor.Stream) + ", " +
                std::to_string(ci->NumPending) + " pending, " +
                std::to_string(ci->NumAckPending) + " awaiting acks, " +
                std::to_string(ci->NumWaiting) + " pull requests waiting)";
    std::string why;
    if (create_consumer(delivered + 1, why))
      error =
        seen + "; created again at sequence " + std::to_string(delivered + 1);
    else
      error = seen + "; " + why;
  }

  /// Creates the consumer afresh at `start` (one of the same name, left
  /// from an earlier run or pointing elsewhere, is replaced).
  bool create_consumer(uint64_t start, std::string& error) {
    pulls.clear(); // they asked the consumer replaced here
    jsErrCode jerr = jsErrCode{};
    auto st = js_DeleteConsumer(js.get(), stream.c_str(), durable.c_str(),
                                nullptr, &jerr);
    if (st != NATS_OK && st != NATS_NOT_FOUND &&
        jerr != JSConsumerNotFoundErr) {
      error = failure("cannot reset consumer " + durable, st, jerr);
      return false;
    }
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.AckPolicy = js_AckAll;
    cc.AckWait = opts.ack_wait.count() * ns_per_ms;
    cc.MaxAckPending = opts.max_ack_pending;
    // Each start re-creates the consumer, and instance ids may be random
    // per run: the server removes one nobody has read for an hour.
    cc.InactiveThreshold = int64_t{3'600'000} * ns_per_ms;
    if (start > 1) {
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = start;
    } else {
      cc.DeliverPolicy = js_DeliverAll;
    }
    jsConsumerInfo* ci = nullptr;
    jerr = jsErrCode{};
    st = js_AddConsumer(&ci, js.get(), stream.c_str(), &cc, nullptr, &jerr);
    if (ci != nullptr) {
      pending_at_open = ci->NumPending;
      jsConsumerInfo_Destroy(ci);
    }
    if (st != NATS_OK) {
      error = failure("cannot create consumer " + durable, st, jerr);
      return false;
    }
    return true;
  }

  /// The consumer is gone (deleted by an operator, or by the server after
  /// an hour unread): create it again after the last sequence handed out,
  /// unless the stream itself went backwards.
  void recreate_consumer(std::string& error) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = jsErrCode{};
    auto st = js_GetStreamInfo(&raw, js.get(), stream.c_str(), nullptr, &jerr);
    info_ptr info{raw};
    if (st != NATS_OK) {
      error = failure("cannot read stream " + stream, st, jerr);
      return;
    }
    if (info->State.LastSeq < delivered) {
      broken = "stream " + stream + " went backwards: it ends at " +
               std::to_string(info->State.LastSeq) + " but sequence " +
               std::to_string(delivered) +
               " was read already; new events would be skipped as "
               "redeliveries, so reading stopped (restart marquee)";
      error = broken;
      return;
    }
    std::string why;
    if (create_consumer(delivered + 1, why))
      error = "consumer " + durable + " was gone; created again at sequence " +
              std::to_string(delivered + 1);
    else
      error = why;
  }

  bool publish_ack(const std::string& subject) {
    return natsConnection_PublishString(nc, subject.c_str(), "+ACK") == NATS_OK;
  }

  /// A message at or below `delivered` came again. Acknowledged already:
  /// the ack was lost (or a restarted server forgot it), so acknowledge
  /// again, or the server may hold back new messages for it. A first
  /// delivery of a sequence handed out before means the stream may have
  /// gone backwards (deleted and recreated, or its tail lost): then new
  /// events would be taken for redeliveries, so reading stops.
  void redelivered(const received& in) {
    if (in.msg.sequence <= acked && !in.reply.empty())
      publish_ack(std::string{in.reply});
    if (in.deliveries > 1)
      return;
    jsStreamInfo* raw = nullptr;
    auto st =
      js_GetStreamInfo(&raw, js.get(), stream.c_str(), nullptr, nullptr);
    info_ptr info{raw};
    if (st == NATS_OK && info->State.LastSeq < delivered)
      broken = "stream " + stream + " went backwards: it ends at " +
               std::to_string(info->State.LastSeq) + " but sequence " +
               std::to_string(delivered) +
               " was read already; new events would be skipped as "
               "redeliveries, so reading stopped (restart marquee)";
  }

  /// Reads the sequences between `delivered` and `next` directly from the
  /// stream, in order, into `out`, until `out` holds `limit` messages
  /// (then `partial`). The server skips ahead when messages
  /// were deleted or aged out, but also when messages it delivered were
  /// lost with a connection or a server that died: those are still in the
  /// stream and must not be missed (their redelivery, much later, would be
  /// taken for a duplicate). Sequences no longer in the stream are counted
  /// in `skipped`. False and `error` if the stream cannot be read now.
  gap fill_gap(uint64_t next, std::vector<stream_message>& out, size_t limit,
               std::string& error) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = jsErrCode{};
    auto st = js_GetStreamInfo(&raw, js.get(), stream.c_str(), nullptr, &jerr);
    info_ptr info{raw};
    if (st != NATS_OK) {
      error = failure("cannot read stream " + stream, st, jerr);
      return gap::failed;
    }
    auto first = info->State.FirstSeq;
    if (first > delivered + 1) { // aged out or purged: gone for good
      auto gone = std::min(first, next) - (delivered + 1);
      skipped += gone;
      delivered += gone;
    }
    while (delivered + 1 < next) {
      if (out.size() >= limit)
        return gap::partial;
      auto seq = delivered + 1;
      natsMsg* msg = nullptr;
      jerr = jsErrCode{};
      st = js_GetMsg(&msg, js.get(), stream.c_str(), seq, nullptr, &jerr);
      if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
        ++skipped; // deleted from the stream
        delivered = seq;
        continue;
      }
      if (st != NATS_OK) {
        error = failure("cannot read stream " + stream + " at sequence " +
                          std::to_string(seq),
                        st, jerr);
        return gap::failed;
      }
      hand_out(stream_message{seq, next - seq, natsMsg_GetTime(msg) / ns_per_ms,
                              natsMsg_GetSubject(msg), data_of(msg)},
               out);
      spent.push_back(msg);
    }
    return gap::filled;
  }

  /// Messages the pull requests in flight may still bring.
  int64_t credit() const {
    int64_t sum = 0;
    for (const auto& p : pulls)
      sum += p.remaining;
    return sum;
  }

  /// Forgets pull requests the server can no longer answer: expired, or
  /// sent before a reconnect (a restarted server forgot them).
  void forget_stale_pulls() {
    uint64_t in = 0;
    uint64_t out = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t now_reconnects = reconnects;
    if (natsConnection_GetStats(nc, stats) == NATS_OK &&
        natsStatistics_GetCounts(stats, &in, &bytes_in, &out, &bytes_out,
                                 &now_reconnects) == NATS_OK &&
        now_reconnects != reconnects) {
      reconnects = now_reconnects;
      pulls.clear();
      if (retry_ack.second.empty())
        retry_ack = last_ack;
      return;
    }
    auto now = std::chrono::steady_clock::now();
    pulls.erase(
      std::remove_if(pulls.begin(), pulls.end(),
                     [now](const pull_request& p) { return p.until <= now; }),
      pulls.end());
  }

  /// Asks for `n` more messages unless the requests in flight still bring
  /// at least half that many.
  bool top_up(int64_t n, std::string& error) {
    if (credit() * 2 >= n)
      return true;
    auto id = ++pull_ids;
    auto reply = inbox + "." + std::to_string(id);
    auto expires =
      std::chrono::duration_cast<std::chrono::nanoseconds>(pull_expires);
    auto body = "{\"batch\":" + std::to_string(n) +
                ",\"expires\":" + std::to_string(expires.count()) + "}";
    auto st =
      natsConnection_PublishRequest(nc, next_subject.c_str(), reply.c_str(),
                                    body.data(), static_cast<int>(body.size()));
    if (st != NATS_OK) {
      error = failure("cannot request messages of consumer " + durable, st,
                      jsErrCode{});
      return false;
    }
    // A second to spare: the server's "408 Request Timeout" closes it
    // first when all is well.
    pulls.push_back(pull_request{id, n,
                                 std::chrono::steady_clock::now() +
                                   pull_expires + std::chrono::seconds{1}});
    return true;
  }

  /// Messages handed out (their views are in use until the next fetch)
  /// or dropped, freed by the next fetch on this thread
  /// (wire/received_msg.hpp).
  std::vector<natsMsg*> spent;
  /// The fetch under way's messages (kept for its capacity).
  std::vector<received> incoming;
  /// What the last fetch handed out (kept for its capacity: a vector per
  /// fetch was a tenth of the ingest thread's time, in malloc).
  std::vector<stream_message> handed;

  const std::vector<stream_message>& none() {
    handed.clear();
    return handed;
  }

  void free_spent() {
    for (auto* m : spent)
      free_received(m);
    spent.clear();
  }

  /// Takes one message from the inbox: a message of the stream goes to
  /// `incoming`; a status closes its pull request and may set `error`.
  void take(natsMsg* msg, std::string& error) {
    const char* reply = natsMsg_GetReply(msg);
    std::optional<js_ack_meta> meta;
    if (reply != nullptr)
      meta = parse_js_ack(reply); // in place (nats.c's would allocate)
    if (meta) {
      incoming.push_back(
        received{stream_message{meta->stream_sequence, meta->pending,
                                meta->timestamp_ns / ns_per_ms,
                                natsMsg_GetSubject(msg), data_of(msg)},
                 msg, reply, meta->delivered});
      // The server serves its waiting requests in order.
      if (!pulls.empty() && --pulls.front().remaining <= 0)
        pulls.pop_front();
      return;
    }
    const char* status = nullptr;
    const char* description = nullptr;
    if (natsMsgHeader_Get(msg, "Status", &status) != NATS_OK) {
      natsMsg_Destroy(msg); // neither: not ours
      return;
    }
    natsMsgHeader_Get(msg, "Description", &description);
    std::string code{status};
    std::string why{description != nullptr ? description : ""};
    auto id = pull_id_of(natsMsg_GetSubject(msg));
    natsMsg_Destroy(msg);
    bool current =
      std::any_of(pulls.begin(), pulls.end(),
                  [id](const pull_request& p) { return p.id == id; });
    pulls.erase(
      std::remove_if(pulls.begin(), pulls.end(),
                     [id](const pull_request& p) { return p.id == id; }),
      pulls.end());
    if (code == "100" || code == "404" || code == "408")
      return; // a heartbeat, or the request is over
    if (code == "409" && why == "Consumer Deleted") {
      // Only for a request to the consumer of now: marquee deletes the
      // one it replaces itself, and that one's requests hear so too.
      if (current)
        recreate_consumer(error);
      return;
    }
    if (code == "409" && why == "Leadership Change")
      return; // asked again by the next top-up
    if (code == "503") {
      // Nobody reads the consumer's pull requests: JetStream is not up, or
      // the consumer is gone.
      error = "no responder for the pull requests of consumer " + durable +
              " (JetStream unavailable or the consumer gone)";
      check_consumer(error);
      return;
    }
    error = "pull request refused by the server: " + code + " " + why;
  }

  ~impl() {
    free_spent();
    for (auto& in : held)
      free_received(in.owner);
    for (auto& in : incoming)
      free_received(in.owner);
    if (sub != nullptr)
      natsSubscription_Destroy(sub);
    if (stats != nullptr)
      natsStatistics_Destroy(stats);
  }
};

std::unique_ptr<stream_reader> stream_reader::open(natsConnection* nc,
                                                   const stream_config& cfg,
                                                   const reader_options& opts,
                                                   std::string& error) {
  auto ptr = std::make_unique<impl>();
  ptr->nc = nc;
  ptr->stream = cfg.name;
  ptr->durable = opts.durable;
  ptr->delivered = opts.start_sequence > 0 ? opts.start_sequence - 1 : 0;
  ptr->js = jetstream_of(nc, error);
  if (!ptr->js)
    return nullptr;
  ptr->opts = opts;
  if (!ptr->create_consumer(opts.start_sequence, error))
    return nullptr;
  natsInbox* inbox = nullptr;
  auto st = natsInbox_Create(&inbox);
  if (st == NATS_OK) {
    ptr->inbox = inbox;
    natsInbox_Destroy(inbox);
    st = natsStatistics_Create(&ptr->stats);
  }
  if (st == NATS_OK)
    st =
      natsConnection_SubscribeSync(&ptr->sub, nc, (ptr->inbox + ".*").c_str());
  if (st != NATS_OK) {
    error =
      failure("cannot subscribe to consumer " + opts.durable, st, jsErrCode{});
    return nullptr;
  }
  ptr->next_subject =
    "$JS.API.CONSUMER.MSG.NEXT." + cfg.name + "." + opts.durable;
  ptr->forget_stale_pulls(); // counts the reconnects so far
  return std::unique_ptr<stream_reader>{new stream_reader(std::move(ptr))};
}

stream_reader::stream_reader(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

stream_reader::~stream_reader() = default;

const std::vector<stream_message>&
stream_reader::fetch(int n, std::chrono::milliseconds timeout,
                     std::string& error) {
  auto& r = *impl_;
  error.clear();
  // What the last fetch handed out is no longer in use.
  r.free_spent();
  if (!r.broken.empty()) {
    error = r.broken;
    return r.none();
  }
  r.forget_stale_pulls();
  if (!r.retry_ack.second.empty() && r.publish_ack(r.retry_ack.second)) {
    r.acked = std::max(r.acked, r.retry_ack.first);
    r.last_ack = std::move(r.retry_ack);
    r.retry_ack = {};
  }
  auto& incoming = r.incoming;
  incoming.clear();
  incoming.swap(r.held);
  auto limit = std::max<size_t>(1, static_cast<size_t>(n));
  if (incoming.empty()) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      // What has arrived, without waiting.
      natsMsg* msg = nullptr;
      while (incoming.size() < limit && error.empty() &&
             natsSubscription_NextMsg(&msg, r.sub, 0) == NATS_OK)
        r.take(msg, error);
      if (!incoming.empty() || !error.empty())
        break;
      if (!r.top_up(static_cast<int64_t>(limit), error))
        return r.none();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      auto st = natsSubscription_NextMsg(&msg, r.sub, left.count());
      if (st == NATS_TIMEOUT)
        break;
      if (st == NATS_SLOW_CONSUMER)
        continue; // messages were dropped: the gap is read from the stream
      if (st != NATS_OK) {
        error = failure("cannot read consumer " + r.durable, st, jsErrCode{});
        return r.none();
      }
      r.take(msg, error);
    }
    // The next messages come while these are applied.
    std::string later;
    r.top_up(static_cast<int64_t>(limit), later);
    if (incoming.empty()) {
      if (error.empty())
        r.check_consumer(error);
      return r.none();
    }
    if (!error.empty()) { // handed out by the next fetch, with no error
      r.held.swap(incoming);
      return r.none();
    }
  }
  // Entries from `i` on wait for the next fetch (their messages with them).
  auto hold_from = [&](size_t i) {
    r.held.assign(std::make_move_iterator(incoming.begin() + i),
                  std::make_move_iterator(incoming.end()));
    incoming.clear();
  };
  auto& out = r.handed;
  out.clear();
  bool kept_reply = false;
  for (size_t i = 0; i < incoming.size(); ++i) {
    auto& in = incoming[i];
    if (in.msg.sequence <= r.delivered) {
      r.redelivered(in);
      r.spent.push_back(in.owner);
      if (!r.broken.empty()) {
        for (size_t j = i + 1; j < incoming.size(); ++j)
          r.spent.push_back(incoming[j].owner);
        incoming.clear();
        error = r.broken;
        return r.none();
      }
      continue;
    }
    if (out.size() >= limit) { // held from a larger fetch
      hold_from(i);
      return out;
    }
    auto filled = in.msg.sequence > r.delivered + 1
                    ? r.fill_gap(in.msg.sequence, out, limit, error)
                    : impl::gap::filled;
    if (filled != impl::gap::filled) {
      // Keep the rest for the next fetch, which goes on with the gap; hand
      // out what came before.
      hold_from(i);
      if (!out.empty())
        error.clear();
      return out;
    }
    if (!in.reply.empty()) {
      // Acknowledgements are AckAll and go out for whole fetches (a
      // checkpoint's sequence ends one): of one fetch's ack subjects only
      // the newest is kept, not one per event until the next checkpoint.
      if (kept_reply)
        r.unacked.back() = {in.msg.sequence, std::string{in.reply}};
      else
        r.unacked.emplace_back(in.msg.sequence, std::string{in.reply});
      kept_reply = true;
    }
    r.spent.push_back(in.owner);
    r.hand_out(in.msg, out);
  }
  incoming.clear();
  return out;
}

bool stream_reader::ack_through(uint64_t sequence, std::string& error) {
  // AckAll: acknowledging the newest covered message covers all before it.
  auto& q = impl_->unacked;
  std::string subject;
  while (!q.empty() && q.front().first <= sequence) {
    subject = std::move(q.front().second);
    q.pop_front();
  }
  if (subject.empty())
    return true;
  auto st = natsConnection_PublishString(impl_->nc, subject.c_str(), "+ACK");
  if (st != NATS_OK) {
    // Sent again by the next fetch.
    impl_->retry_ack = {sequence, std::move(subject)};
    error = failure("cannot acknowledge through " + std::to_string(sequence),
                    st, jsErrCode{});
    return false;
  }
  impl_->acked = std::max(impl_->acked, sequence);
  impl_->last_ack = {sequence, std::move(subject)};
  return true;
}

uint64_t stream_reader::delivered_through() const {
  return impl_->delivered;
}

uint64_t stream_reader::pending_at_open() const {
  return impl_->pending_at_open;
}

uint64_t stream_reader::skipped() const {
  return impl_->skipped;
}

const std::string& stream_reader::broken() const {
  return impl_->broken;
}

} // namespace marquee
