// Access control end to end (docs/security.md): a nats-server with the
// secure configuration (CA, server certificate and passwords generated here,
// at test time), marquee connected as its own role, and every role's
// allowed and forbidden publishes and subscriptions, including reply
// subjects chosen to make marquee or JetStream act for the sender.
//
// "Never delivered" is checked without sleeping: after the forbidden
// message the same connection sends a permitted sentinel, and observers
// (unrestricted users of the test only, one per account) wait for it; a
// server delivers one connection's messages in order, so anything the
// forbidden message caused would have arrived first. What reaches the
// stream is checked by sequence: the PubAck of a last event names the
// stream sequence it got, which counts everything stored before it.

#include "harness.hpp"

#include "bootstrap/nats_security.hpp"
#include "tests/support/process.hpp"
#include "wire/nats_auth.hpp"

#include <nats/nats.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

using namespace marquee;
using namespace marquee::testing;

namespace {

using std::chrono::milliseconds;

constexpr milliseconds wait_for{5000};
const std::string observer_password = "observer-password";

/// One test connection in raw nats.c: publishes with or without a reply
/// subject, any number of synchronous subscriptions, and what the server
/// refused.
class conn {
public:
  static std::unique_ptr<conn> open(const std::string& url,
                                    const nats_auth& auth, std::string& error) {
    std::unique_ptr<conn> c{new conn};
    natsOptions* opts = nullptr;
    if (natsOptions_Create(&opts) != NATS_OK) {
      error = "cannot create options";
      return nullptr;
    }
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetSendAsap(opts, true);
    natsOptions_SetAllowReconnect(opts, false);
    bool ok = apply_auth(opts, url, auth, error);
    auto st = ok ? natsConnection_Connect(&c->nc_, opts) : NATS_ERR;
    natsOptions_Destroy(opts);
    if (ok && st != NATS_OK)
      error = nats_failure(st);
    return ok && st == NATS_OK ? std::move(c) : nullptr;
  }

  ~conn() {
    for (auto sub : subs_)
      natsSubscription_Destroy(sub);
    if (nc_ != nullptr)
      natsConnection_Destroy(nc_);
  }

  void publish(const std::string& subject, const std::string& body,
               const std::string& reply = "") {
    auto size = static_cast<int>(body.size());
    auto st =
      reply.empty()
        ? natsConnection_Publish(nc_, subject.c_str(), body.data(), size)
        : natsConnection_PublishRequest(nc_, subject.c_str(), reply.c_str(),
                                        body.data(), size);
    REQUIRE(st == NATS_OK);
  }

  /// A synchronous subscription; owned by this connection.
  natsSubscription* subscribe(const std::string& subject) {
    natsSubscription* sub = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&sub, nc_, subject.c_str()) ==
            NATS_OK);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    subs_.push_back(sub);
    return sub;
  }

  void unsubscribe_all() {
    for (auto sub : subs_) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    subs_.clear();
  }

  /// Waits until the server has processed everything sent so far, and so
  /// has reported what it refused of it.
  void flush() { REQUIRE(natsConnection_FlushTimeout(nc_, 5000) == NATS_OK); }

  /// The server's last refusal ("Permissions Violation for ..."), or "".
  std::string refused() const {
    const char* text = nullptr;
    if (natsConnection_GetLastError(nc_, &text) != NATS_NOT_PERMITTED ||
        text == nullptr)
      return {};
    return text;
  }

  std::optional<nats_message> request(const std::string& subject,
                                      const std::string& body) {
    natsMsg* reply = nullptr;
    auto st =
      natsConnection_Request(&reply, nc_, subject.c_str(), body.data(),
                             static_cast<int>(body.size()), wait_for.count());
    if (st != NATS_OK)
      return std::nullopt;
    auto out = convert(reply);
    natsMsg_Destroy(reply);
    return out;
  }

  static std::optional<nats_message> next(natsSubscription* sub,
                                          milliseconds timeout = wait_for) {
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub, timeout.count()) != NATS_OK)
      return std::nullopt;
    auto out = convert(msg);
    natsMsg_Destroy(msg);
    return out;
  }

  /// Messages waiting in `sub`; a server that refused it sends none.
  static int pending(natsSubscription* sub) {
    int msgs = 0;
    int bytes = 0;
    natsSubscription_GetPending(sub, &msgs, &bytes);
    return msgs;
  }

  natsConnection* raw() { return nc_; }

private:
  conn() = default;

  static nats_message convert(natsMsg* m) {
    nats_message out;
    out.subject = natsMsg_GetSubject(m);
    out.body.assign(natsMsg_GetData(m),
                    static_cast<size_t>(natsMsg_GetDataLength(m)));
    const char* value = nullptr;
    for (const char* key : {"Marquee-Subject", "Nats-Service-Error-Code"})
      if (natsMsgHeader_Get(m, key, &value) == NATS_OK)
        out.headers.emplace_back(key, value);
    return out;
  }

  natsConnection* nc_ = nullptr;
  std::vector<natsSubscription*> subs_;
};

/// A nats-server with the secure configuration on a free loopback port,
/// an observer subscribed to everything in each account, and marquee
/// (durable ingest, in-process) connected as the `marquee` role.
class secure_env {
public:
  secure_env() {
    std::string error;
    secure_setup_options so;
    so.dir = (dir_.path() / "secure").string();
    so.listen.clear(); // given as flags by the launcher, as is the store
    for (const auto& role : nats_roles())
      so.observers.push_back(
        {nats_user{role.account, observer_name(role.account), "", true},
         observer_password});
    auto files = prepare_secure_dir(so, error);
    INFO(error);
    REQUIRE(files.has_value());
    files_ = *files;
    nats_server_options opts;
    opts.store_dir = (dir_.path() / "nats").string();
    opts.log_file = (dir_.path() / "nats-server.log").string();
    opts.extra_args = {"-c", files_.config};
    server_ = nats_server_process::start(opts, error);
    REQUIRE(server_ != nullptr);
    url_ = "tls://127.0.0.1:" + std::to_string(server_->port());
    for (const auto& role : nats_roles()) {
      watchers_[role.account] = open(observer(role.account));
      watches_[role.account] = watchers_[role.account]->subscribe(">");
      watchers_[role.account]->flush();
    }
    auto own = role_auth(files_.dir, "marquee", error);
    REQUIRE(own.has_value());
    config cfg;
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"nats.url", url_},
           {"nats.user", own->user},
           {"nats.password", own->password},
           {"nats.tls_ca", own->tls_ca},
           {"service.data_dir", (dir_.path() / "data").string()},
           {"service.instance_id", "it1"},
           {"service.threads", "2"},
           {"service.log_level", "warn"}})
      REQUIRE(cfg.set(k, v, error));
    svc_ = service::start(cfg, error);
    INFO(error);
    REQUIRE(svc_ != nullptr);
  }

  ~secure_env() {
    svc_.reset();
    watchers_.clear();
  }

  static std::string observer_name(const std::string& account) {
    auto name = "watch_" + account;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return name;
  }

  nats_auth role(const std::string& name) const {
    std::string error;
    auto auth = role_auth(files_.dir, name, error);
    INFO(error);
    REQUIRE(auth.has_value());
    return *auth;
  }

  nats_auth observer(const std::string& account) const {
    nats_auth auth;
    auth.user = observer_name(account);
    auth.password = observer_password;
    auth.tls_ca = files_.ca;
    return auth;
  }

  std::unique_ptr<conn> open(const nats_auth& auth) const {
    std::string error;
    auto c = conn::open(url_, auth, error);
    INFO(auth.user << ": " << error);
    REQUIRE(c != nullptr);
    return c;
  }

  /// Everything the observer of `account` received up to and including
  /// the first message on `subject` whose body is `body`; fails the test
  /// if that message does not come.
  std::vector<nats_message> seen_until(const std::string& account,
                                       const std::string& subject,
                                       const std::string& body) {
    std::vector<nats_message> seen;
    for (;;) {
      auto msg = conn::next(watches_.at(account));
      INFO(account << " waits for " << subject << " " << body << " after "
                   << seen.size() << " messages"
                   << (seen.empty() ? ""
                                    : ", the last on " + seen.back().subject +
                                        " " + seen.back().body));
      REQUIRE(msg.has_value());
      seen.push_back(*msg);
      if (msg->subject == subject && msg->body == body)
        return seen;
    }
  }

  /// Waits until the observer of `account` has seen a message on each of
  /// `subjects`; fails the test if one does not come.
  void seen_all(const std::string& account,
                const std::vector<std::string>& subjects) {
    std::vector<std::string> missing = subjects;
    while (!missing.empty()) {
      auto msg = conn::next(watches_.at(account));
      INFO(account << " waits for " << missing.front());
      REQUIRE(msg.has_value());
      missing.erase(std::remove(missing.begin(), missing.end(), msg->subject),
                    missing.end());
    }
  }

  conn& watcher(const std::string& account) { return *watchers_.at(account); }
  const std::string& url() const { return url_; }
  const secure_files& files() const { return files_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

private:
  temp_dir dir_;
  secure_files files_;
  std::unique_ptr<nats_server_process> server_;
  std::string url_;
  std::map<std::string, std::unique_ptr<conn>> watchers_;
  std::map<std::string, natsSubscription*> watches_;
  std::unique_ptr<service> svc_;
};

const char* account_of(const std::string& role) {
  for (const auto& r : nats_roles())
    if (role == r.name)
      return r.account;
  FAIL("no role " << role);
  return "";
}

bool seen_on(const std::vector<nats_message>& seen, const std::string& subj) {
  return std::any_of(seen.begin(), seen.end(),
                     [&](const nats_message& m) { return m.subject == subj; });
}

/// Whether a message on `subject` published in `account` is stored in
/// marquee's stream (events, catalog and profiles reach MARQUEE's stream
/// from MARQUEE itself or through the producers' import).
bool lands_in_stream(const std::string& account, const std::string& subject) {
  auto stream_subject = [&](const char* head) {
    return subject.rfind(std::string{"marquee.v1."} + head, 0) == 0;
  };
  return (account == "MARQUEE" || account == "PRODUCERS") &&
         (stream_subject("events.") || stream_subject("catalog.") ||
          stream_subject("profile."));
}

/// The subject a role publishes after a forbidden one: permitted for the
/// role, and delivered both in its own account and in MARQUEE's.
std::string sentinel_subject(const std::string& role) {
  if (role == "producer")
    return "marquee.v1.profile.sentinel";
  if (role == "client")
    return "marquee.v1.rec.trending";
  if (role == "operator")
    return "marquee.v1.admin.it1.health";
  return "marquee.v1.dlq.sentinel";
}

/// A concrete subject matching a subscription's `pattern`.
std::string instance_of(std::string pattern) {
  for (size_t i; (i = pattern.find('*')) != std::string::npos;)
    pattern.replace(i, 1, "x");
  if (!pattern.empty() && pattern.back() == '>')
    pattern.replace(pattern.size() - 1, 1, "x.y");
  return pattern;
}

enum class act { publish, subscribe };

struct rule {
  const char* role;
  act action;
  const char* subject;
  bool allowed;
};

/// The permission matrix of docs/security.md, row by row.
const std::vector<rule>& matrix() {
  static const std::vector<rule> rows = {
    // Producers publish events, catalog and profiles, and get PubAcks.
    {"producer", act::publish, "marquee.v1.events.play.u9", true},
    {"producer", act::publish, "marquee.v1.events.impression.u9", true},
    {"producer", act::publish, "marquee.v1.events.feedback.u9", true},
    {"producer", act::publish, "marquee.v1.catalog.t9", true},
    {"producer", act::publish, "marquee.v1.profile.u9", true},
    {"producer", act::subscribe, "_INBOX.>", true},
    {"producer", act::publish, "marquee.v1.rec.user.u1", false},
    {"producer", act::publish, "marquee.v1.rec.trending", false},
    {"producer", act::publish, "marquee.v1.impressions.u1", false},
    {"producer", act::publish, "marquee.v1.admin.all.snapshot", false},
    {"producer", act::publish, "marquee.v1.admin.it1.user", false},
    {"producer", act::publish, "marquee.v1.dlq.json", false},
    {"producer", act::publish, "$SRV.PING", false},
    {"producer", act::publish, "$JS.API.STREAM.PURGE.MARQUEE", false},
    {"producer", act::publish, "$JS.API.STREAM.INFO.MARQUEE", false},
    {"producer", act::publish, "_INBOX.spoofed", false},
    {"producer", act::subscribe, "marquee.v1.events.>", false},
    {"producer", act::subscribe, "marquee.v1.dlq.>", false},
    {"producer", act::subscribe, "marquee.v1.rec.>", false},
    {"producer", act::subscribe, "marquee.v1.admin.>", false},
    {"producer", act::subscribe, "$SRV.>", false},
    {"producer", act::subscribe, ">", false},
    // Clients ask; they never write state, call admin verbs or read DLQ.
    {"client", act::publish, "marquee.v1.rec.user.u1", true},
    {"client", act::publish, "marquee.v1.rec.similar.t1", true},
    {"client", act::publish, "marquee.v1.rec.trending", true},
    {"client", act::publish, "marquee.v1.impressions.u1", true},
    {"client", act::publish, "$SRV.PING", true},
    {"client", act::publish, "$SRV.INFO.marquee", true},
    {"client", act::subscribe, "_INBOX.>", true},
    {"client", act::publish, "marquee.v1.events.play.u1", false},
    {"client", act::publish, "marquee.v1.events.impression.u1", false},
    {"client", act::publish, "marquee.v1.events.feedback.u1", false},
    {"client", act::publish, "marquee.v1.catalog.t1", false},
    {"client", act::publish, "marquee.v1.profile.u1", false},
    {"client", act::publish, "marquee.v1.admin.all.user", false},
    {"client", act::publish, "marquee.v1.admin.it1.snapshot", false},
    {"client", act::publish, "marquee.v1.dlq.json", false},
    {"client", act::publish, "$JS.API.STREAM.INFO.MARQUEE", false},
    {"client", act::publish, "$JS.API.STREAM.INFO.MARQUEE_DLQ", false},
    {"client", act::publish, "_INBOX.spoofed", false},
    {"client", act::subscribe, "marquee.v1.rec.>", false},
    {"client", act::subscribe, "marquee.v1.rec.user.*", false},
    {"client", act::subscribe, "marquee.v1.impressions.>", false},
    {"client", act::subscribe, "$SRV.>", false},
    {"client", act::subscribe, "marquee.v1.dlq.>", false},
    {"client", act::subscribe, "marquee.v1.events.>", false},
    {"client", act::subscribe, "marquee.v1.admin.>", false},
    {"client", act::subscribe, ">", false},
    // Operators: admin verbs, dead letters, and what clients read.
    {"operator", act::publish, "marquee.v1.admin.all.stats", true},
    {"operator", act::publish, "marquee.v1.admin.it1.user", true},
    {"operator", act::publish, "marquee.v1.rec.user.u1", true},
    {"operator", act::publish, "marquee.v1.impressions.u1", true},
    {"operator", act::publish, "$SRV.PING", true},
    {"operator", act::subscribe, "_INBOX.>", true},
    {"operator", act::subscribe, "marquee.v1.dlq.>", true},
    {"operator", act::publish, "marquee.v1.events.play.u1", false},
    {"operator", act::publish, "marquee.v1.catalog.t1", false},
    {"operator", act::publish, "marquee.v1.profile.u1", false},
    {"operator", act::publish, "marquee.v1.dlq.json", false},
    {"operator", act::publish, "$JS.API.STREAM.PURGE.MARQUEE", false},
    {"operator", act::publish, "$JS.API.STREAM.DELETE.MARQUEE", false},
    {"operator", act::publish, "$JS.API.STREAM.INFO.MARQUEE", false},
    {"operator", act::publish, "$JS.API.STREAM.MSG.GET.MARQUEE", false},
    {"operator", act::publish, "$JS.API.STREAM.PURGE.MARQUEE_DLQ", false},
    {"operator", act::publish, "$JS.API.CONSUMER.CREATE.MARQUEE_DLQ", false},
    {"operator", act::publish, "_INBOX.spoofed", false},
    {"operator", act::subscribe, "marquee.v1.admin.>", false},
    {"operator", act::subscribe, "marquee.v1.rec.>", false},
    {"operator", act::subscribe, "$SRV.>", false},
    {"operator", act::subscribe, "marquee.v1.events.>", false},
    {"operator", act::subscribe, ">", false},
    // marquee: requests and events in, replies (allow_responses), dead
    // letters and its own stream's JetStream API out; no event, no admin
    // call, nothing destructive on the stream.
    {"marquee", act::publish, "marquee.v1.dlq.json", true},
    {"marquee", act::publish, "$JS.API.STREAM.INFO.MARQUEE", true},
    {"marquee", act::subscribe, "marquee.v1.events.>", true},
    {"marquee", act::subscribe, "marquee.v1.rec.>", true},
    {"marquee", act::subscribe, "marquee.v1.admin.>", true},
    {"marquee", act::subscribe, "$SRV.>", true},
    {"marquee", act::subscribe, "_INBOX.>", true},
    {"marquee", act::publish, "marquee.v1.events.play.u1", false},
    {"marquee", act::publish, "marquee.v1.catalog.t1", false},
    {"marquee", act::publish, "marquee.v1.profile.u1", false},
    {"marquee", act::publish, "marquee.v1.admin.all.user", false},
    {"marquee", act::publish, "marquee.v1.rec.user.u1", false},
    {"marquee", act::publish, "$JS.API.STREAM.PURGE.MARQUEE", false},
    {"marquee", act::publish, "$JS.API.STREAM.DELETE.MARQUEE", false},
    {"marquee", act::publish, "$JS.API.STREAM.PURGE.MARQUEE_DLQ", false},
    {"marquee", act::subscribe, "marquee.v1.dlq.>", false},
    {"marquee", act::subscribe, ">", false},
  };
  return rows;
}

/// Counts what the test sends into marquee's stream, and checks the
/// stream against that count through a producer's PubAck.
class stream_tally {
public:
  void sent(const std::string& account, const std::string& subject) {
    if (lands_in_stream(account, subject))
      ++expected_;
  }

  /// Publishes one more event as `producer` and checks that the stream
  /// stored it at exactly the sequence the count says: nothing else got in.
  void check(conn& producer) {
    auto ack = producer.request("marquee.v1.profile.tally", "{}");
    REQUIRE(ack.has_value());
    ++expected_;
    rapidjson::Document d;
    d.Parse(ack->body.c_str());
    INFO(ack->body);
    REQUIRE(d.IsObject());
    CHECK(std::string{d["stream"].GetString()} == "MARQUEE");
    CHECK(d["seq"].GetUint64() == expected_);
  }

  uint64_t expected() const { return expected_; }

private:
  uint64_t expected_ = 0;
};

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

/// The admin stats' count of events accepted and dead-lettered.
uint64_t events_applied(conn& op) {
  auto r = op.request("marquee.v1.admin.it1.stats", "");
  if (!r)
    return 0;
  auto d = parse(r->body);
  if (!d.IsObject() || !d.HasMember("events"))
    return 0;
  uint64_t total = 0;
  for (auto& kv : d["events"].GetObject())
    total += kv.value.GetUint64();
  for (auto& kv : d["dlq"].GetObject())
    total += kv.value.GetUint64();
  return total;
}

} // namespace

TEST_CASE("without valid credentials, the right CA or TLS, nobody connects",
          "[integration][security]") {
  secure_env env;
  auto client = env.role("client");
  struct attempt {
    const char* what;
    nats_auth auth;
    std::string url;
    const char* because;
  };
  auto anonymous = client;
  anonymous.user.clear();
  anonymous.password.clear();
  auto wrong_password = client;
  wrong_password.password += "x";
  auto someone_elses = client;
  someone_elses.password = env.role("operator").password;
  auto unknown = client;
  unknown.user = "mallory";
  auto wrong_name = client;
  wrong_name.tls_hostname = "marquee.example.com";
  // Another CA, made by the same tool, that did not sign the server's cert.
  temp_dir other;
  secure_setup_options so;
  so.dir = (other.path() / "secure").string();
  so.bcrypt_cost = 4;
  std::string error;
  auto other_files = prepare_secure_dir(so, error);
  REQUIRE(other_files.has_value());
  auto wrong_ca = client;
  wrong_ca.tls_ca = other_files->ca;
  std::vector<attempt> attempts = {
    {"anonymous", anonymous, env.url(), "Authorization Violation"},
    {"wrong password", wrong_password, env.url(), "Authorization Violation"},
    {"another role's password", someone_elses, env.url(),
     "Authorization Violation"},
    {"unknown user", unknown, env.url(), "Authorization Violation"},
    {"server certificate from another CA", wrong_ca, env.url(), "certificate"},
    {"server name not in the certificate", wrong_name, env.url(),
     "hostname mismatch"},
  };
  for (const auto& a : attempts) {
    INFO(a.what);
    std::string why;
    CHECK(nats_client::connect(a.url, a.auth, why) == nullptr);
    CHECK(why.find(a.because) != std::string::npos);
    INFO(why);
  }
  // The same credentials do connect.
  CHECK(nats_client::connect(env.url(), client, error) != nullptr);

  SECTION("a plain-TCP client is refused even with valid credentials") {
    // Speak the NATS protocol without TLS: read INFO, send CONNECT with the
    // client's password and a PING. The server wants a TLS handshake and
    // drops the connection; it never answers PONG.
    auto host = url_host(env.url());
    auto port = std::stoi(env.url().substr(env.url().rfind(':') + 1));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
            0);
    std::string got;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    got.assign(buf, static_cast<size_t>(n));
    CHECK(got.rfind("INFO ", 0) == 0);
    CHECK(got.find("\"tls_required\":true") != std::string::npos);
    auto hello = "CONNECT {\"verbose\":false,\"pedantic\":false,"
                 "\"tls_required\":false,\"user\":\"client\",\"pass\":\"" +
                 client.password + "\"}\r\nPING\r\n";
    ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    std::string after;
    bool closed = false;
    while (!closed) {
      n = ::recv(fd, buf, sizeof buf, 0);
      closed = n <= 0; // closed by the server (or 5 s of silence: fails)
      if (n > 0)
        after.append(buf, static_cast<size_t>(n));
      if (n < 0)
        FAIL(
          "the server neither answered nor closed: " << std::strerror(errno));
    }
    ::close(fd);
    CHECK(after.find("PONG") == std::string::npos);
  }
}

TEST_CASE("each role does what it needs: events in, recommendations out, "
          "admin verbs and dead letters for operators",
          "[integration][security]") {
  secure_env env;
  stream_tally tally;
  auto producer = env.open(env.role("producer"));
  auto client = env.open(env.role("client"));
  auto op = env.open(env.role("operator"));

  // Producers' publishes land in the stream and are acknowledged.
  for (const auto& [subject, body] :
       std::vector<std::pair<std::string, std::string>>{
         {"marquee.v1.catalog.t1", R"({"name":"One","genres":["Comedy"]})"},
         {"marquee.v1.catalog.t2", R"({"name":"Two","genres":["Comedy"]})"},
         {"marquee.v1.events.play.u1", R"({"title":"t1","progress":0.5})"},
         {"marquee.v1.events.play.u2", R"({"title":"t1"})"},
         {"marquee.v1.events.play.u2", R"({"title":"t2"})"}}) {
    auto ack = producer->request(subject, body);
    INFO(subject);
    REQUIRE(ack.has_value());
    tally.sent("PRODUCERS", subject);
    auto d = parse(ack->body);
    REQUIRE(d.IsObject());
    CHECK(d["seq"].GetUint64() == tally.expected());
  }
  // ...and are applied: every one, and a client sees the play in the
  // member's row.
  CHECK(harness::eventually(
    [&] { return events_applied(*op) == tally.expected(); }, wait_for));
  CHECK(harness::eventually([&] {
    auto r = client->request("marquee.v1.rec.user.u1",
                             R"({"row":"continue_watching"})");
    return r && r->body.find("\"title\":\"t1\"") != std::string::npos;
  }));
  // Clients get recommendations, impressions and discovery.
  for (const auto& [subject, body, expect] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
         {"marquee.v1.rec.user.u1", R"({"k":5})", "\"items\""},
         {"marquee.v1.rec.trending", R"({"window":"1d"})", "\"title\":\"t1\""},
         {"marquee.v1.impressions.u1", "", "\"user\":\"u1\""},
         {"$SRV.PING.marquee", "", "io.nats.micro.v1.ping_response"},
         {"$SRV.INFO.marquee", "", "io.nats.micro.v1.info_response"}}) {
    INFO(subject);
    auto r = client->request(subject, body);
    REQUIRE(r.has_value());
    INFO(r->body);
    CHECK(r->header("Nats-Service-Error-Code").empty());
    CHECK(r->body.find(expect) != std::string::npos);
  }
  // Operators read a member's live state and take a checkpoint.
  auto dump = op->request("marquee.v1.admin.all.user", R"({"id":"u1"})");
  REQUIRE(dump.has_value());
  CHECK(dump->body.find("\"t1\"") != std::string::npos);
  auto snap = op->request("marquee.v1.admin.all.snapshot", "");
  REQUIRE(snap.has_value());
  INFO(snap->body);
  CHECK(parse(snap->body)["sequence"].GetUint64() == tally.expected());
  CHECK(op->request("$SRV.STATS.marquee", "").has_value());
  // marquee's dead letters reach operators, through MARQUEE's export.
  auto letters = op->subscribe("marquee.v1.dlq.>");
  op->flush();
  producer->publish("marquee.v1.events.play.u1", "not json");
  tally.sent("PRODUCERS", "marquee.v1.events.play.u1");
  auto letter = conn::next(letters);
  REQUIRE(letter.has_value());
  CHECK(letter->subject == "marquee.v1.dlq.json");
  CHECK(letter->body == "not json");
  CHECK(letter->header("Marquee-Subject") == "marquee.v1.events.play.u1");
  tally.check(*producer);
}

TEST_CASE("every role is refused everything the permission matrix forbids, "
          "and nothing refused is ever delivered",
          "[integration][security]") {
  secure_env env;
  stream_tally tally;
  std::map<std::string, std::unique_ptr<conn>> roles;
  for (const auto& r : nats_roles())
    roles[r.name] = env.open(env.role(r.name));
  int n = 0;
  for (const auto& row : matrix()) {
    ++n;
    std::string role = row.role;
    std::string account = account_of(role);
    auto& c = *roles.at(role);
    std::string subject = row.subject;
    INFO(role << (row.action == act::publish ? " publishes " : " subscribes ")
              << subject << (row.allowed ? " (allowed)" : " (forbidden)"));
    auto token = "{\"row\":" + std::to_string(n) + "}";
    if (row.action == act::publish) {
      // Sent as a request, with a reply subject the role may read: if
      // marquee ever answered a forbidden request, the answer would come.
      auto inbox = "_INBOX.row" + std::to_string(n);
      auto replies = c.subscribe(inbox);
      auto body = subject.find(".events.") != std::string::npos
                    ? std::string{R"({"title":"t9"})"}
                    : token;
      c.publish(subject, body, inbox);
      c.flush();
      auto refused = c.refused();
      auto says = "Permissions Violation for Publish to \"" + subject + "\"";
      CHECK((refused.find(says) != std::string::npos) == !row.allowed);
      if (row.allowed)
        tally.sent(account, subject);
      auto sentinel = sentinel_subject(role);
      c.publish(sentinel, token);
      tally.sent(account, sentinel);
      std::vector<std::string> where_all = {account};
      if (account != "MARQUEE")
        where_all.push_back("MARQUEE");
      for (const auto& where : where_all) {
        auto seen = env.seen_until(where, sentinel, token);
        INFO("observed in " << where);
        // Everything a role may publish is for marquee: it reaches MARQUEE.
        CHECK(seen_on(seen, subject) == row.allowed);
      }
      if (!row.allowed)
        CHECK(conn::pending(replies) == 0);
      c.unsubscribe_all();
    } else {
      auto sub = c.subscribe(subject);
      auto sentinel = "_INBOX.row" + std::to_string(n);
      auto marker = c.subscribe(sentinel);
      c.flush();
      auto says =
        "Permissions Violation for Subscription to \"" + subject + "\"";
      CHECK((c.refused().find(says) != std::string::npos) == !row.allowed);
      // Someone in the same account publishes there, then the sentinel.
      auto& driver = env.watcher(account);
      auto target = instance_of(subject);
      driver.publish(target, token);
      tally.sent(account, target);
      driver.publish(sentinel, token);
      driver.flush();
      auto mark = conn::next(marker);
      REQUIRE(mark.has_value());
      // Whatever reached the subscription came before the sentinel.
      bool got = false;
      for (int i = conn::pending(sub); i > 0 && !got; --i) {
        auto m = conn::next(sub);
        got = m && m->subject == target;
      }
      CHECK(got == row.allowed);
      c.unsubscribe_all();
    }
  }
  // Nothing forbidden reached the stream, and marquee applied exactly what
  // did: every event accepted or dead-lettered, none other.
  tally.check(*roles.at("producer"));
  auto& op = *roles.at("operator");
  CHECK(harness::eventually(
    [&] { return events_applied(op) == tally.expected(); }, wait_for));
  CHECK(events_applied(op) == tally.expected());
}

TEST_CASE("reply subjects cannot make marquee or JetStream write to the "
          "stream or call its API for a client or a producer",
          "[integration][security]") {
  secure_env env;
  stream_tally tally;
  auto producer = env.open(env.role("producer"));
  auto client = env.open(env.role("client"));
  auto op = env.open(env.role("operator"));
  auto& inside = env.watcher("MARQUEE");
  REQUIRE(producer->request("marquee.v1.profile.kid", R"({"max_age":7})"));
  tally.sent("PRODUCERS", "marquee.v1.profile.kid");
  auto consumer = [&] {
    auto r = inside.request("$JS.API.CONSUMER.INFO.MARQUEE.marquee-it1", "");
    REQUIRE(r.has_value());
    auto d = parse(r->body);
    INFO(r->body);
    REQUIRE(d.HasMember("created"));
    return std::string{d["created"].GetString()};
  };
  auto created = consumer();
  // In a single account, a PubAck or a reply sent to these would be stored
  // as a profile replacing the kid's (its age limit gone), or would purge
  // or delete the stream, or delete marquee's consumer.
  const std::vector<std::string> replies = {
    "marquee.v1.profile.kid",
    "$JS.API.STREAM.PURGE.MARQUEE",
    "$JS.API.STREAM.DELETE.MARQUEE",
    "$JS.API.CONSUMER.DELETE.MARQUEE.marquee-it1",
  };
  for (const auto& reply : replies) {
    producer->publish("marquee.v1.events.play.u1", R"({"title":"t1"})", reply);
    tally.sent("PRODUCERS", "marquee.v1.events.play.u1");
    client->publish("marquee.v1.rec.trending", "{}", reply);
  }
  producer->flush();
  client->flush();
  CHECK(producer->refused().empty());
  CHECK(client->refused().empty());
  // Each PubAck and each answer comes back into the sender's own account,
  // on the subject it chose, where no stream and no JetStream API listens.
  for (const auto& account : {"PRODUCERS", "CLIENTS"})
    env.seen_all(account, replies);
  // Nothing was stored but the events themselves, nothing was purged or
  // deleted, the kid keeps its profile, the consumer is the same one.
  tally.check(*producer);
  auto info = inside.request("$JS.API.STREAM.INFO.MARQUEE", "");
  REQUIRE(info.has_value());
  auto d = parse(info->body);
  INFO(info->body);
  CHECK(d["state"]["first_seq"].GetUint64() == 1);
  CHECK(d["state"]["messages"].GetUint64() == tally.expected());
  CHECK(consumer() == created);
  CHECK(harness::eventually(
    [&] { return events_applied(*op) == tally.expected(); }, wait_for));
  auto dump = op->request("marquee.v1.admin.all.user", R"({"id":"kid"})");
  REQUIRE(dump.has_value());
  INFO(dump->body);
  CHECK(dump->body.find("\"max_age\":7") != std::string::npos);
}

namespace {

/// The variables of a role's env file (`NAME='value'` lines) as `NAME=value`.
std::vector<std::string> env_file(const std::filesystem::path& path) {
  std::vector<std::string> out;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find("='");
    if (line.empty() || line[0] == '#' || eq == std::string::npos ||
        line.back() != '\'')
      continue;
    out.push_back(line.substr(0, eq) + "=" +
                  line.substr(eq + 2, line.size() - eq - 3));
  }
  return out;
}

std::string value_of(const std::vector<std::string>& vars,
                     const std::string& name) {
  for (const auto& v : vars)
    if (v.rfind(name + "=", 0) == 0)
      return v.substr(name.size() + 1);
  return {};
}

/// Runs `marquee args...` with `env` added; its exit status, stdout, stderr.
std::tuple<int, std::string, std::string>
run_marquee(const std::vector<std::string>& args,
            const std::vector<std::string>& env,
            const std::filesystem::path& dir) {
  child c{args, env, dir};
  auto status = c.wait(milliseconds{20000});
  return {status, c.out(), c.err()};
}

} // namespace

TEST_CASE("marquee serve with nats.secure runs its embedded server secured, "
          "and the tools connect with each role's env file",
          "[integration][security][process]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  auto secure = data / "secure";
  child proc{{"serve", "--data-dir", data.string()},
             {"MARQUEE_NATS_SECURE=true", "MARQUEE_SERVICE_LOG_LEVEL=warn"},
             dir.path()};
  // Ready once a client, with the credentials marquee wrote, gets an answer.
  std::string error;
  CHECK(eventually(
    [&] {
      auto vars = env_file(secure / "client.env");
      if (vars.empty())
        return false;
      nats_auth auth;
      auth.user = value_of(vars, "MARQUEE_NATS_USER");
      auth.password = value_of(vars, "MARQUEE_NATS_PASSWORD");
      auth.tls_ca = value_of(vars, "MARQUEE_NATS_TLS_CA");
      auto c = nats_client::connect(value_of(vars, "NATS_URL"), auth, error);
      return c && c->request("$SRV.PING.marquee", "", milliseconds{500}, error);
    },
    milliseconds{30000}));
  INFO(proc.err() << error);
  auto client = env_file(secure / "client.env");
  REQUIRE(!client.empty());
  CHECK(value_of(client, "NATS_URL").rfind("tls://127.0.0.1:", 0) == 0);
  // The credentials directory is the owner's alone.
  auto perms = std::filesystem::status(secure).permissions();
  CHECK((perms & std::filesystem::perms::all) ==
        std::filesystem::perms::owner_all);
  CHECK((std::filesystem::status(secure / "client.password").permissions() &
         std::filesystem::perms::all) == (std::filesystem::perms::owner_read |
                                          std::filesystem::perms::owner_write));

  auto as = [&](const char* role) {
    return env_file(secure / (std::string{role} + ".env"));
  };
  {
    auto [status, out, err] = run_marquee(
      {"request", "marquee.v1.rec.trending", "{}"}, as("client"), dir.path());
    INFO(err);
    CHECK(status == 0);
    CHECK(out.find("\"items\"") != std::string::npos);
  }
  {
    auto [status, out, err] =
      run_marquee({"publish", "marquee.v1.events.play.u1", R"({"title":"t5"})"},
                  as("producer"), dir.path());
    INFO(err);
    CHECK(status == 0);
  }
  {
    auto [status, out, err] = run_marquee(
      {"request", "marquee.v1.admin.all.stats"}, as("operator"), dir.path());
    INFO(err);
    CHECK(status == 0);
    CHECK(out.find("\"events\"") != std::string::npos);
  }
  {
    // A client may not publish events: one line, exit 1.
    auto [status, out, err] =
      run_marquee({"publish", "marquee.v1.events.play.u1", R"({"title":"t5"})"},
                  as("client"), dir.path());
    CHECK(status == 1);
    CHECK(err == "marquee: Permissions Violation for Publish to "
                 "\"marquee.v1.events.play.u1\"\n");
  }
  {
    // A credential file that is not there: one line, exit 2.
    auto vars = as("client");
    vars.push_back("MARQUEE_NATS_TLS_CA=" + (dir.path() / "none.pem").string());
    auto [status, out, err] =
      run_marquee({"request", "$SRV.PING.marquee"}, vars, dir.path());
    CHECK(status == 2);
    CHECK(err == "marquee: nats.tls_ca: cannot read '" +
                   (dir.path() / "none.pem").string() +
                   "': No such file or directory\n");
  }
  {
    // Without credentials, but trusting the CA: refused by the server.
    std::vector<std::string> vars = {
      "NATS_URL=" + value_of(client, "NATS_URL"),
      "MARQUEE_NATS_TLS_CA=" + value_of(client, "MARQUEE_NATS_TLS_CA"),
      "MARQUEE_NATS_USER=", "MARQUEE_NATS_PASSWORD="};
    auto [status, out, err] =
      run_marquee({"request", "$SRV.PING.marquee"}, vars, dir.path());
    CHECK(status == 1);
    CHECK(err.find("Authorization Violation") != std::string::npos);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  }
  {
    // `marquee config` never prints a password.
    auto password = value_of(as("operator"), "MARQUEE_NATS_PASSWORD");
    auto [status, out, err] =
      run_marquee({"config"}, as("operator"), dir.path());
    CHECK(status == 0);
    CHECK(out.find("password = \"<redacted>\"") != std::string::npos);
    CHECK(out.find(password) == std::string::npos);
  }
  proc.signal(SIGTERM);
  CHECK(proc.wait(milliseconds{20000}) == 0);
}

TEST_CASE("marquee demo --secure prints commands that work as pasted",
          "[integration][security][process]") {
  temp_dir dir;
  child proc{{"demo", "--secure", "--data-dir", (dir.path() / "data").string()},
             {"MARQUEE_SERVICE_LOG_LEVEL=warn"},
             dir.path()};
  CHECK(eventually(
    [&] {
      return proc.out().find("Refused by the server") != std::string::npos;
    },
    milliseconds{60000}));
  INFO(proc.out() << proc.err());
  std::vector<std::string> lines;
  std::istringstream in{proc.out()};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  (. ", 0) == 0)
      lines.push_back(line.substr(2));
  REQUIRE(lines.size() >= 10);
  // The first client request, the first operator request, the publish.
  std::vector<std::string> picked;
  for (const char* role : {"/client.env", "/operator.env", "/producer.env"})
    for (const auto& l : lines)
      if (l.find(role) != std::string::npos) {
        picked.push_back(l);
        break;
      }
  REQUIRE(picked.size() == 3);
  for (const auto& command : picked) {
    INFO(command);
    auto pipe =
      ::popen(("cd " + dir.str() + " && " + command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, pipe))
      out.append(buf, n);
    auto status = ::pclose(pipe);
    INFO(out);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  proc.signal(SIGTERM);
  CHECK(proc.wait(milliseconds{20000}) == 0);
}
