#include "wire/nats_client.hpp"

#include <nats/nats.h>

namespace marquee {

namespace {

struct msg_deleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

nats_message convert(natsMsg* m) {
  nats_message out;
  out.subject = natsMsg_GetSubject(m);
  out.body.assign(natsMsg_GetData(m),
                  static_cast<size_t>(natsMsg_GetDataLength(m)));
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(m, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(m, keys[i], &value) == NATS_OK)
        out.headers.emplace_back(keys[i], value ? value : "");
    }
    free(keys);
  }
  return out;
}

std::string failure(const char* what, natsStatus st) {
  return std::string{what} + ": " + natsStatus_GetText(st);
}

} // namespace

std::string nats_message::header(std::string_view key) const {
  for (const auto& [k, v] : headers)
    if (k == key)
      return v;
  return {};
}

struct nats_client::impl {
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;

  ~impl() {
    if (sub != nullptr)
      natsSubscription_Destroy(sub);
    if (nc != nullptr)
      natsConnection_Destroy(nc);
  }
};

std::unique_ptr<nats_client> nats_client::connect(const std::string& url,
                                                  std::string& error,
                                                  bool send_asap) {
  return connect(url, nats_auth{}, error, send_asap);
}

std::unique_ptr<nats_client> nats_client::connect(const std::string& url,
                                                  const nats_auth& auth,
                                                  std::string& error,
                                                  bool send_asap) {
  auto ptr = std::make_unique<impl>();
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) {
    error = "cannot create NATS options";
    return nullptr;
  }
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetSendAsap(opts, send_asap);
  if (!apply_auth(opts, url, auth, error)) {
    natsOptions_Destroy(opts);
    return nullptr;
  }
  auto st = natsConnection_Connect(&ptr->nc, opts);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) {
    error = "cannot connect to " + url + ": " + nats_failure(st);
    return nullptr;
  }
  return std::unique_ptr<nats_client>{new nats_client(std::move(ptr))};
}

nats_client::nats_client(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

nats_client::~nats_client() = default;

bool nats_client::publish(const std::string& subject, std::string_view body,
                          std::string& error) {
  auto st = natsConnection_Publish(impl_->nc, subject.c_str(), body.data(),
                                   static_cast<int>(body.size()));
  if (st != NATS_OK) {
    error = failure(("cannot publish to " + subject).c_str(), st);
    return false;
  }
  return true;
}

bool nats_client::publish(
  const std::string& subject, std::string_view body,
  const std::vector<std::pair<std::string, std::string>>& headers,
  std::string& error) {
  natsMsg* raw = nullptr;
  auto st = natsMsg_Create(&raw, subject.c_str(), nullptr, body.data(),
                           static_cast<int>(body.size()));
  if (st != NATS_OK) {
    error = failure("cannot create message", st);
    return false;
  }
  msg_ptr m{raw};
  for (const auto& [k, v] : headers)
    natsMsgHeader_Add(raw, k.c_str(), v.c_str());
  st = natsConnection_PublishMsg(impl_->nc, raw);
  if (st != NATS_OK) {
    error = failure(("cannot publish to " + subject).c_str(), st);
    return false;
  }
  return true;
}

std::optional<nats_message>
nats_client::request(const std::string& subject, std::string_view body,
                     std::chrono::milliseconds timeout, std::string& error) {
  natsMsg* reply = nullptr;
  auto st =
    natsConnection_Request(&reply, impl_->nc, subject.c_str(), body.data(),
                           static_cast<int>(body.size()), timeout.count());
  if (st != NATS_OK) {
    error = failure(("no reply on " + subject).c_str(), st);
    if (auto why = refused(); !why.empty())
      error += " (" + why + ")";
    return std::nullopt;
  }
  msg_ptr m{reply};
  return convert(reply);
}

bool nats_client::subscribe(const std::string& subject, std::string& error) {
  if (impl_->sub != nullptr) {
    error = "already subscribed";
    return false;
  }
  auto st =
    natsConnection_SubscribeSync(&impl_->sub, impl_->nc, subject.c_str());
  if (st != NATS_OK) {
    error = failure(("cannot subscribe to " + subject).c_str(), st);
    return false;
  }
  return flush(std::chrono::milliseconds{5000}, error);
}

std::optional<nats_message>
nats_client::next(std::chrono::milliseconds timeout) {
  natsMsg* raw = nullptr;
  if (impl_->sub == nullptr ||
      natsSubscription_NextMsg(&raw, impl_->sub, timeout.count()) != NATS_OK)
    return std::nullopt;
  msg_ptr m{raw};
  return convert(raw);
}

std::string nats_client::refused() const {
  const char* text = nullptr;
  auto st = natsConnection_GetLastError(impl_->nc, &text);
  if (st != NATS_NOT_PERMITTED || text == nullptr)
    return {};
  return text;
}

bool nats_client::flush(std::chrono::milliseconds timeout, std::string& error) {
  auto st = natsConnection_FlushTimeout(impl_->nc, timeout.count());
  if (st != NATS_OK) {
    error = failure("flush failed", st);
    return false;
  }
  return true;
}

} // namespace marquee
