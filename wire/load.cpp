#include "wire/load.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace marquee::load {

namespace {

std::string status_failure(const std::string& what, natsStatus st) {
  return what + ": " + natsStatus_GetText(st);
}

/// A connection with the options every load client shares: no reconnect
/// attempts (a benchmark that lost its server has failed) and no pending
/// limit worth hitting.
natsConnection* connect(const std::string& url, bool send_asap,
                        std::string& error) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) {
    error = "cannot create NATS options";
    return nullptr;
  }
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetSendAsap(opts, send_asap);
  natsOptions_SetAllowReconnect(opts, false);
  natsConnection* nc = nullptr;
  auto st = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) {
    error = status_failure("cannot connect to " + url, st);
    return nullptr;
  }
  return nc;
}

} // namespace

// -- connection ---------------------------------------------------------------

struct connection::impl {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::atomic<uint64_t> refused{0};
  std::string first_refusal;
  std::mutex refusal_mtx;

  ~impl() {
    if (js != nullptr)
      jsCtx_Destroy(js);
    if (nc != nullptr)
      natsConnection_Destroy(nc);
  }

  static void on_refused(jsCtx*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<impl*>(closure);
    if (self->refused.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> guard{self->refusal_mtx};
      self->first_refusal =
        pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(pae->Err);
    }
  }
};

std::unique_ptr<connection>
connection::open(const std::string& url, bool send_asap, std::string& error) {
  auto ptr = std::make_unique<impl>();
  ptr->nc = connect(url, send_asap, error);
  if (ptr->nc == nullptr)
    return nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 65536;
  jo.PublishAsync.ErrHandler = &impl::on_refused;
  jo.PublishAsync.ErrHandlerClosure = ptr.get();
  jo.PublishAsync.StallWait = 5000;
  auto st = natsConnection_JetStream(&ptr->js, ptr->nc, &jo);
  if (st != NATS_OK) {
    error = status_failure("cannot open JetStream", st);
    return nullptr;
  }
  return std::unique_ptr<connection>{new connection(std::move(ptr))};
}

connection::connection(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

connection::~connection() = default;

bool connection::publish(const std::string& subject, std::string_view body,
                         std::string& error) {
  auto st = natsConnection_Publish(impl_->nc, subject.c_str(), body.data(),
                                   static_cast<int>(body.size()));
  if (st != NATS_OK) {
    error = status_failure("cannot publish to " + subject, st);
    return false;
  }
  return true;
}

bool connection::flush(std::chrono::milliseconds timeout, std::string& error) {
  auto st = natsConnection_FlushTimeout(impl_->nc, timeout.count());
  if (st != NATS_OK) {
    error = status_failure("flush failed", st);
    return false;
  }
  return true;
}

bool connection::js_publish(const std::string& subject, std::string_view body,
                            std::string& error) {
  auto st = js_PublishAsync(impl_->js, subject.c_str(), body.data(),
                            static_cast<int>(body.size()), nullptr);
  if (st != NATS_OK) {
    error = status_failure("cannot publish to the stream on " + subject, st);
    return false;
  }
  return true;
}

bool connection::js_publish_sync(const std::string& subject,
                                 std::string_view body, uint64_t& sequence,
                                 std::string& error) {
  jsPubAck* ack = nullptr;
  jsErrCode jerr{};
  auto st = js_Publish(&ack, impl_->js, subject.c_str(), body.data(),
                       static_cast<int>(body.size()), nullptr, &jerr);
  if (st != NATS_OK) {
    error = status_failure("cannot publish to the stream on " + subject, st);
    return false;
  }
  sequence = ack->Sequence;
  jsPubAck_Destroy(ack);
  return true;
}

bool connection::js_complete(std::chrono::milliseconds timeout,
                             std::string& error) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout.count();
  auto st = js_PublishAsyncComplete(impl_->js, &po);
  if (st != NATS_OK) {
    error = status_failure("stream publishes not acknowledged", st);
    return false;
  }
  if (auto n = impl_->refused.load(); n > 0) {
    std::lock_guard<std::mutex> guard{impl_->refusal_mtx};
    error = "the stream refused " + std::to_string(n) +
            " publishes, the first with: " + impl_->first_refusal;
    return false;
  }
  return true;
}

bool connection::request(const std::string& subject, std::string_view body,
                         std::chrono::milliseconds timeout, std::string& reply,
                         std::string& error, bool* refused) {
  if (refused != nullptr)
    *refused = false;
  natsMsg* msg = nullptr;
  auto st =
    natsConnection_Request(&msg, impl_->nc, subject.c_str(), body.data(),
                           static_cast<int>(body.size()), timeout.count());
  if (st != NATS_OK) {
    error = status_failure("no reply on " + subject, st);
    return false;
  }
  reply.assign(natsMsg_GetData(msg),
               static_cast<size_t>(natsMsg_GetDataLength(msg)));
  const char* code = nullptr;
  bool ok = natsMsgHeader_Get(msg, "Nats-Service-Error-Code", &code) != NATS_OK;
  if (!ok) {
    error = "error " + std::string{code} + " on " + subject + ": " + reply;
    if (refused != nullptr)
      *refused = true;
  }
  natsMsg_Destroy(msg);
  return ok;
}

bool connection::reset_stream(const std::string& name,
                              const std::vector<std::string>& subjects,
                              std::string& error) {
  if (!delete_stream(name, error))
    return false;
  std::vector<const char*> ptrs;
  for (const auto& s : subjects)
    ptrs.push_back(s.c_str());
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  sc.Subjects = ptrs.data();
  sc.SubjectsLen = static_cast<int>(ptrs.size());
  sc.Storage = js_FileStorage;
  jsErrCode jerr{};
  auto st = js_AddStream(nullptr, impl_->js, &sc, nullptr, &jerr);
  if (st != NATS_OK) {
    error = status_failure("cannot create stream " + name, st) + " (" +
            std::to_string(jerr) + ")";
    return false;
  }
  return true;
}

bool connection::delete_stream(const std::string& name, std::string& error) {
  jsErrCode jerr{};
  auto st = js_DeleteStream(impl_->js, name.c_str(), nullptr, &jerr);
  if (st != NATS_OK && st != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
    error = status_failure("cannot delete stream " + name, st);
    return false;
  }
  return true;
}

// -- receiver -----------------------------------------------------------------

receiver::receiver() = default;

receiver::~receiver() = default;

void receiver::add() {
  auto now = count_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (now >= wanted_.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> guard{mtx_};
    cv_.notify_all();
  }
}

uint64_t receiver::count() const {
  return count_.load(std::memory_order_relaxed);
}

bool receiver::wait_for(uint64_t n, clock::time_point deadline) const {
  std::unique_lock<std::mutex> guard{mtx_};
  wanted_.store(n, std::memory_order_relaxed);
  return cv_.wait_until(guard, deadline, [&] { return count() >= n; });
}

// -- counter ------------------------------------------------------------------

struct counter::impl {
  counter* owner = nullptr;
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;

  ~impl() {
    if (sub != nullptr) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    if (nc != nullptr)
      natsConnection_Destroy(nc);
  }

  static void on_msg(natsConnection*, natsSubscription*, natsMsg* msg,
                     void* closure) {
    natsMsg_Destroy(msg);
    static_cast<impl*>(closure)->owner->add();
  }
};

std::unique_ptr<counter> counter::start(const std::string& url,
                                        const std::string& subject,
                                        std::string& error) {
  std::unique_ptr<counter> out{new counter};
  auto& my = *out->impl_;
  my.nc = connect(url, false, error);
  if (my.nc == nullptr)
    return nullptr;
  auto st = natsConnection_Subscribe(&my.sub, my.nc, subject.c_str(),
                                     &impl::on_msg, &my);
  if (st == NATS_OK)
    st = natsSubscription_SetPendingLimits(my.sub, -1, -1);
  if (st == NATS_OK)
    st = natsConnection_FlushTimeout(my.nc, 5000);
  if (st != NATS_OK) {
    error = status_failure("cannot subscribe to " + subject, st);
    return nullptr;
  }
  return out;
}

counter::counter() : impl_(std::make_unique<impl>()) {
  impl_->owner = this;
}

// Unsubscribes before the count the callbacks add to goes.
counter::~counter() = default;

std::string counter::shortfall() const {
  int64_t n = 0;
  natsSubscription_GetDropped(impl_->sub, &n);
  return n > 0 ? std::to_string(n) + " dropped by the client" : "";
}

// -- pull_reader --------------------------------------------------------------

struct pull_reader::impl {
  pull_reader* owner = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  std::string stream;
  std::string durable = "bench";
  std::string inbox;
  int batch = 0;
  std::atomic<bool> stop{false};
  std::thread reader;
  mutable std::mutex failure_mtx;
  std::string first_failure;

  ~impl() {
    stop = true;
    if (reader.joinable())
      reader.join();
    if (js != nullptr) {
      js_DeleteConsumer(js, stream.c_str(), durable.c_str(), nullptr, nullptr);
      jsCtx_Destroy(js);
    }
    if (sub != nullptr)
      natsSubscription_Destroy(sub);
    if (nc != nullptr)
      natsConnection_Destroy(nc);
  }

  void fail(const std::string& why) {
    std::lock_guard<std::mutex> guard{failure_mtx};
    if (first_failure.empty())
      first_failure = why;
  }

  /// Keeps two pull requests standing, each for `batch` messages. The
  /// server serves them in order and data messages carry their own
  /// subject, so each one counts against the oldest request; a request
  /// also ends with a status on its reply subject (expired, no messages).
  void run() {
    const std::string next =
      "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + durable;
    const std::string body =
      "{\"batch\":" + std::to_string(batch) + ",\"expires\":5000000000}";
    std::deque<std::pair<std::string, int>> open; // reply subject, still due
    uint64_t id = 0;
    uint64_t since_ack = 0;
    std::string last_reply;
    while (!stop.load()) {
      while (open.size() < 2) {
        auto reply = inbox + "." + std::to_string(++id);
        auto st = natsConnection_PublishRequest(nc, next.c_str(), reply.c_str(),
                                                body.data(),
                                                static_cast<int>(body.size()));
        if (st != NATS_OK) {
          fail(status_failure("cannot send a pull request", st));
          return;
        }
        open.emplace_back(std::move(reply), batch);
      }
      natsMsg* msg = nullptr;
      auto st = natsSubscription_NextMsg(&msg, sub, 100);
      if (st == NATS_TIMEOUT) {
        if (since_ack > 0)
          ack(last_reply, since_ack);
        continue;
      }
      if (st != NATS_OK) {
        fail(status_failure("cannot read", st));
        return;
      }
      const char* status = nullptr;
      if (natsMsg_GetDataLength(msg) == 0 &&
          natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
        std::string_view subject = natsMsg_GetSubject(msg);
        if (std::string_view{status} != "100")
          open.erase(
            std::remove_if(open.begin(), open.end(),
                           [&](const auto& r) { return r.first == subject; }),
            open.end());
        natsMsg_Destroy(msg);
        continue;
      }
      if (!open.empty() && --open.front().second == 0)
        open.pop_front();
      if (const char* r = natsMsg_GetReply(msg); r != nullptr)
        last_reply = r;
      natsMsg_Destroy(msg);
      owner->add();
      if (++since_ack >= static_cast<uint64_t>(batch) / 2)
        ack(last_reply, since_ack);
    }
  }

  void ack(const std::string& reply, uint64_t& since_ack) {
    natsConnection_PublishString(nc, reply.c_str(), "+ACK");
    since_ack = 0;
  }
};

std::unique_ptr<pull_reader> pull_reader::start(const std::string& url,
                                                const std::string& stream,
                                                int batch, std::string& error) {
  std::unique_ptr<pull_reader> out{new pull_reader};
  auto& my = *out->impl_;
  my.stream = stream;
  my.batch = batch;
  my.nc = connect(url, false, error);
  if (my.nc == nullptr)
    return nullptr;
  auto st = natsConnection_JetStream(&my.js, my.nc, nullptr);
  if (st != NATS_OK) {
    error = status_failure("cannot open JetStream", st);
    return nullptr;
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = my.durable.c_str();
  cc.AckPolicy = js_AckAll;
  cc.MaxAckPending = 100'000;
  cc.DeliverPolicy = js_DeliverAll;
  jsErrCode jerr{};
  st = js_AddConsumer(nullptr, my.js, stream.c_str(), &cc, nullptr, &jerr);
  if (st != NATS_OK) {
    error = status_failure("cannot create a consumer on " + stream, st);
    return nullptr;
  }
  natsInbox* inbox = nullptr;
  st = natsInbox_Create(&inbox);
  if (st == NATS_OK) {
    my.inbox = inbox;
    natsInbox_Destroy(inbox);
    st =
      natsConnection_SubscribeSync(&my.sub, my.nc, (my.inbox + ".*").c_str());
  }
  if (st == NATS_OK)
    st = natsSubscription_SetPendingLimits(my.sub, -1, -1);
  if (st != NATS_OK) {
    error = status_failure("cannot subscribe to the pull inbox", st);
    return nullptr;
  }
  my.reader = std::thread{[&my] {
    pthread_setname_np(pthread_self(), "bench.reader");
    my.run();
  }};
  return out;
}

pull_reader::pull_reader() : impl_(std::make_unique<impl>()) {
  impl_->owner = this;
}

// Joins the reading thread before the count it adds to goes.
pull_reader::~pull_reader() = default;

std::string pull_reader::shortfall() const {
  std::lock_guard<std::mutex> guard{impl_->failure_mtx};
  return impl_->first_failure;
}

// -- responder ----------------------------------------------------------------

struct responder::impl {
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;
  std::string body;

  ~impl() {
    if (sub != nullptr) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    if (nc != nullptr)
      natsConnection_Destroy(nc);
  }

  static void on_msg(natsConnection* nc, natsSubscription*, natsMsg* msg,
                     void* closure) {
    auto* self = static_cast<impl*>(closure);
    if (const char* reply = natsMsg_GetReply(msg); reply != nullptr)
      natsConnection_Publish(nc, reply, self->body.data(),
                             static_cast<int>(self->body.size()));
    natsMsg_Destroy(msg);
  }
};

std::unique_ptr<responder> responder::start(const std::string& url,
                                            const std::string& subject,
                                            std::string body,
                                            std::string& error) {
  auto ptr = std::make_unique<impl>();
  ptr->body = std::move(body);
  ptr->nc = connect(url, true, error);
  if (ptr->nc == nullptr)
    return nullptr;
  auto st = natsConnection_QueueSubscribe(&ptr->sub, ptr->nc, subject.c_str(),
                                          "q", &impl::on_msg, ptr.get());
  if (st == NATS_OK)
    st = natsConnection_FlushTimeout(ptr->nc, 5000);
  if (st != NATS_OK) {
    error = status_failure("cannot subscribe to " + subject, st);
    return nullptr;
  }
  return std::unique_ptr<responder>{new responder(std::move(ptr))};
}

responder::responder(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

responder::~responder() = default;

} // namespace marquee::load
