#include "wire/event_stream.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <deque>

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

} // namespace

std::vector<std::string> stream_subjects(const std::string& prefix) {
  auto base = prefix + ".v1.";
  return {base + "events.>", base + "catalog.>", base + "profile.>"};
}

bool ensure_stream(natsConnection* nc, const stream_config& cfg,
                   std::string& error, uint64_t* last_sequence) {
  if (last_sequence != nullptr)
    *last_sequence = 0;
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
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = jsErrCode{};
  auto st = js_GetStreamInfo(&raw, js.get(), cfg.name.c_str(), nullptr, &jerr);
  info_ptr existing{raw};
  if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jerr = jsErrCode{};
    st = js_AddStream(&raw, js.get(), &sc, nullptr, &jerr);
    info_ptr created{raw};
    if (st != NATS_OK) {
      error = failure("cannot create stream " + cfg.name, st, jerr);
      return false;
    }
    return true;
  }
  if (st != NATS_OK) {
    error = failure("cannot read stream " + cfg.name, st, jerr);
    return false;
  }
  // The same subjects, in any order, or the stream belongs to someone else.
  const auto& have = existing->Config;
  bool same = have->SubjectsLen == static_cast<int>(subjects.size());
  for (int i = 0; same && i < have->SubjectsLen; ++i)
    same = std::find(subjects.begin(), subjects.end(),
                     std::string{have->Subjects[i]}) != subjects.end();
  if (!same) {
    error = "stream " + cfg.name +
            " exists with other subjects; choose another stream name";
    return false;
  }
  jerr = jsErrCode{};
  st = js_UpdateStream(&raw, js.get(), &sc, nullptr, &jerr);
  info_ptr updated{raw};
  if (st != NATS_OK) {
    error = failure("cannot update stream " + cfg.name, st, jerr);
    return false;
  }
  if (last_sequence != nullptr)
    *last_sequence = updated->State.LastSeq;
  return true;
}

struct stream_reader::impl {
  js_ptr js;
  natsSubscription* sub = nullptr;
  std::string stream;
  std::string durable;
  uint64_t delivered = 0;
  uint64_t pending_at_open = 0;
  uint64_t skipped = 0;
  /// Ack subjects of messages handed out and not yet acknowledged.
  std::deque<std::pair<uint64_t, std::string>> unacked;
  /// A message received and its ack subject.
  struct received {
    stream_message msg;
    std::string reply;
  };
  /// Received after a gap that could not be filled yet: handed out first
  /// by the next fetch, once the gap is.
  std::vector<received> held;
  natsConnection* nc = nullptr;

  void hand_out(stream_message m, std::vector<stream_message>& out) {
    delivered = m.sequence;
    out.push_back(std::move(m));
  }

  /// Reads the sequences between `delivered` and `next` directly from the
  /// stream, in order, into `out`. The server skips ahead when messages
  /// were deleted or aged out, but also when messages it delivered were
  /// lost with a connection or a server that died: those are still in the
  /// stream and must not be missed (their redelivery, much later, would be
  /// taken for a duplicate). Sequences no longer in the stream are counted
  /// in `skipped`. False and `error` if the stream cannot be read now.
  bool fill_gap(uint64_t next, std::vector<stream_message>& out,
                std::string& error) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = jsErrCode{};
    auto st = js_GetStreamInfo(&raw, js.get(), stream.c_str(), nullptr, &jerr);
    info_ptr info{raw};
    if (st != NATS_OK) {
      error = failure("cannot read stream " + stream, st, jerr);
      return false;
    }
    auto first = info->State.FirstSeq;
    if (first > delivered + 1) { // aged out or purged: gone for good
      auto gone = std::min(first, next) - (delivered + 1);
      skipped += gone;
      delivered += gone;
    }
    while (delivered + 1 < next) {
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
        return false;
      }
      hand_out(stream_message{seq, next - seq, natsMsg_GetTime(msg) / ns_per_ms,
                              natsMsg_GetSubject(msg),
                              std::string{natsMsg_GetData(msg),
                                          static_cast<size_t>(
                                            natsMsg_GetDataLength(msg))}},
               out);
      natsMsg_Destroy(msg);
    }
    return true;
  }

  ~impl() {
    if (sub != nullptr)
      natsSubscription_Destroy(sub);
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
  // A consumer left from an earlier run points elsewhere: start afresh.
  jsErrCode jerr = jsErrCode{};
  auto st = js_DeleteConsumer(ptr->js.get(), cfg.name.c_str(),
                              opts.durable.c_str(), nullptr, &jerr);
  if (st != NATS_OK && st != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
    error = failure("cannot reset consumer " + opts.durable, st, jerr);
    return nullptr;
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = opts.durable.c_str();
  cc.AckPolicy = js_AckAll;
  cc.AckWait = opts.ack_wait.count() * ns_per_ms;
  cc.MaxAckPending = opts.max_ack_pending;
  // Each start re-creates the consumer, and instance ids may be random per
  // run: the server removes one nobody has read for an hour.
  cc.InactiveThreshold = int64_t{3'600'000} * ns_per_ms;
  if (opts.start_sequence > 1) {
    cc.DeliverPolicy = js_DeliverByStartSequence;
    cc.OptStartSeq = opts.start_sequence;
  } else {
    cc.DeliverPolicy = js_DeliverAll;
  }
  jsConsumerInfo* ci = nullptr;
  jerr = jsErrCode{};
  st =
    js_AddConsumer(&ci, ptr->js.get(), cfg.name.c_str(), &cc, nullptr, &jerr);
  if (ci != nullptr) {
    ptr->pending_at_open = ci->NumPending;
    jsConsumerInfo_Destroy(ci);
  }
  if (st != NATS_OK) {
    error = failure("cannot create consumer " + opts.durable, st, jerr);
    return nullptr;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = cfg.name.c_str();
  so.Consumer = opts.durable.c_str();
  so.ManualAck = true;
  jerr = jsErrCode{};
  st = js_PullSubscribe(&ptr->sub, ptr->js.get(), nullptr, opts.durable.c_str(),
                        nullptr, &so, &jerr);
  if (st != NATS_OK) {
    error = failure("cannot subscribe to consumer " + opts.durable, st, jerr);
    return nullptr;
  }
  return std::unique_ptr<stream_reader>{new stream_reader(std::move(ptr))};
}

stream_reader::stream_reader(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

stream_reader::~stream_reader() = default;

std::vector<stream_message>
stream_reader::fetch(int n, std::chrono::milliseconds timeout,
                     std::string& error) {
  auto& r = *impl_;
  std::vector<impl::received> incoming;
  incoming.swap(r.held);
  if (incoming.empty()) {
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = jsErrCode{};
    auto st = natsSubscription_Fetch(&list, r.sub, n, timeout.count(), &jerr);
    if (st == NATS_TIMEOUT)
      return {};
    if (st != NATS_OK) {
      error = failure("cannot fetch from " + r.stream, st, jerr);
      return {};
    }
    incoming.reserve(static_cast<size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
        continue;
      impl::received in{
        stream_message{
          meta->Sequence.Stream, meta->NumPending, meta->Timestamp / ns_per_ms,
          natsMsg_GetSubject(msg),
          std::string{natsMsg_GetData(msg),
                      static_cast<size_t>(natsMsg_GetDataLength(msg))}},
        natsMsg_GetReply(msg) != nullptr ? natsMsg_GetReply(msg) : ""};
      jsMsgMetaData_Destroy(meta);
      incoming.push_back(std::move(in));
    }
    natsMsgList_Destroy(&list);
  }
  std::vector<stream_message> out;
  out.reserve(incoming.size());
  for (size_t i = 0; i < incoming.size(); ++i) {
    auto& in = incoming[i];
    // A redelivery of something handed out already: not again.
    if (in.msg.sequence <= r.delivered)
      continue;
    if (in.msg.sequence > r.delivered + 1 &&
        !r.fill_gap(in.msg.sequence, out, error)) {
      // Keep the rest for the next fetch, which fills the gap first; hand
      // out what came before it.
      r.held.assign(std::make_move_iterator(incoming.begin() + i),
                    std::make_move_iterator(incoming.end()));
      if (!out.empty())
        error.clear();
      return out;
    }
    if (!in.reply.empty())
      r.unacked.emplace_back(in.msg.sequence, std::move(in.reply));
    r.hand_out(std::move(in.msg), out);
  }
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
    error = failure("cannot acknowledge through " + std::to_string(sequence),
                    st, jsErrCode{});
    return false;
  }
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

} // namespace marquee
