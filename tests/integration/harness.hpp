#pragma once

/// Integration harness: a real nats-server on a free loopback port, the
/// service in-process, and a client. Bounded in time: every wait has a
/// timeout.

#include "bootstrap/nats_server.hpp"
#include "bootstrap/service.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"
#include "wire/nats_client.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace marquee::testing {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// A reply, parsed.
struct reply {
  nats_message msg;
  rapidjson::Document json;

  int error_code() const {
    auto code = msg.header("Nats-Service-Error-Code");
    return code.empty() ? 0 : std::stoi(code);
  }
};

class harness {
public:
  /// Starts nats-server and the service, with config `overrides`.
  explicit harness(
    std::vector<std::pair<std::string, std::string>> overrides = {}) {
    std::string error;
    nats_server_options opts;
    opts.store_dir = (dir_.path() / "nats").string();
    server_ = nats_server_process::start(opts, error);
    REQUIRE(server_ != nullptr);
    cfg_.set("nats.url", server_->url(), error);
    cfg_.set("service.data_dir", (dir_.path() / "data").string(), error);
    cfg_.set("service.instance_id", "it1", error);
    cfg_.set("service.threads", "2", error);
    cfg_.set("service.log_level", "warn", error);
    // The time budget of a request (100 ms by default) is 2 s here, or
    // MARQUEE_REC_BUDGET_MS as the sanitizer suites set it for `marquee
    // serve` children too (scripts/sanitize.sh, docs/testing.md): no
    // answer may depend on how loaded the machine is. A request served in
    // time returns as early; the tests of the budget itself set their own
    // (durable_test.cpp) or run on the actor tests' scheduler.
    const char* budget = std::getenv("MARQUEE_REC_BUDGET_MS");
    REQUIRE(cfg_.set("rec.budget_ms", budget ? budget : "2000", error));
    for (const auto& [k, v] : overrides)
      REQUIRE(cfg_.set(k, v, error));
    start_service();
    client_ = nats_client::connect(server_->url(), error);
    REQUIRE(client_ != nullptr);
  }

  /// Stops the service (its state goes with it) and starts a new one on
  /// the same server and configuration.
  void restart_service() {
    stop_service();
    start_service();
  }

  /// Stops the service gracefully, as SIGTERM does.
  void stop_service() { svc_.reset(); }

  /// Starts the service on the same server and configuration.
  void start_service() {
    std::string error;
    INFO(error);
    REQUIRE(try_start_service(error));
  }

  /// The same, for a start that may fail: false and why.
  bool try_start_service(std::string& error) {
    svc_ = service::start(cfg_, error);
    return svc_ != nullptr;
  }

  /// `P.v1.` + `tail`.
  std::string subject(const std::string& tail) const {
    return "marquee.v1." + tail;
  }

  void publish(const std::string& tail, const std::string& body) {
    std::string error;
    INFO(error);
    REQUIRE(client_->publish(subject(tail), body, error));
  }

  /// Sends a request on the full subject and parses the reply.
  reply ask(const std::string& full_subject, const std::string& body = "") {
    std::string error;
    // Longer than any time budget of the service, so that it answers
    // first, even late.
    auto msg =
      client_->request(full_subject, body,
                       std::chrono::milliseconds{10000} * time_scale(), error);
    INFO(full_subject << ": " << error);
    REQUIRE(msg.has_value());
    reply r{std::move(*msg), {}};
    r.json.Parse(r.msg.body.c_str());
    INFO(r.msg.body);
    REQUIRE(!r.json.HasParseError());
    return r;
  }

  /// Sends a request on `P.v1.<tail>`.
  reply ask_v1(const std::string& tail, const std::string& body = "") {
    return ask(subject(tail), body);
  }

  /// Polls `pred` until it holds or `timeout` passes.
  static bool eventually(
    const std::function<bool()>& pred,
    std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) {
    return testing::eventually(pred, timeout);
  }

  /// Waits until every event published so far has been applied: the admin
  /// stats count `n` events in all, accepted or dead-lettered, and in
  /// durable mode the actors have applied the stream through its last
  /// message (a count says ingest decoded the events, not that the actors,
  /// and the trending list behind the title actors, have them yet).
  void await_events(uint64_t n) {
    auto counted = [&] {
      auto r = ask_v1("admin.it1.stats");
      uint64_t total = 0;
      for (auto& kv : r.json["events"].GetObject())
        total += kv.value.GetUint64();
      for (auto& kv : r.json["dlq"].GetObject())
        total += kv.value.GetUint64();
      return total >= n;
    };
    REQUIRE(eventually(counted));
    if (cfg_.get("ingest.mode") != "durable")
      return;
    auto info = ask("$JS.API.STREAM.INFO." + cfg_.get("stream.name"));
    await_applied(info.json["state"]["last_seq"].GetUint64());
  }

  /// Durable mode: waits until every actor has applied the event stream
  /// through sequence `n` (`ingest.applied` of the admin stats), that is,
  /// until the first `n` events published are visible in every answer.
  void await_applied(uint64_t n, std::chrono::milliseconds timeout =
                                   std::chrono::milliseconds{30000}) {
    uint64_t seen = 0;
    auto applied = [&] {
      auto r = ask_v1("admin.it1.stats");
      seen = r.json["ingest"]["applied"].GetUint64();
      return seen >= n;
    };
    if (!eventually(applied, timeout))
      FAIL("applied through " << seen << ", waited for " << n);
  }

  /// Kills nats-server hard and starts a new one on the same port.
  void restart_server() {
    auto port = server_->port();
    server_->kill_hard();
    nats_server_options opts;
    opts.port = port;
    opts.store_dir = (dir_.path() / "nats").string();
    std::string error;
    server_ = nats_server_process::start(opts, error);
    INFO(error);
    REQUIRE(server_ != nullptr);
  }

  nats_client& client() { return *client_; }
  nats_server_process& server() { return *server_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

private:
  temp_dir dir_;
  std::unique_ptr<nats_server_process> server_;
  config cfg_;
  std::unique_ptr<service> svc_;
  std::unique_ptr<nats_client> client_;
};

/// The next `n` messages of `watcher`'s subscription, each within 5 s.
inline std::vector<nats_message> collect(nats_client& watcher, size_t n) {
  std::vector<nats_message> out;
  for (size_t i = 0; i < n; ++i) {
    auto msg = watcher.next(std::chrono::milliseconds{5000});
    REQUIRE(msg.has_value());
    out.push_back(std::move(*msg));
  }
  return out;
}

/// Takes the dead letter of `subject` with `body` (byte for byte) out of
/// `letters`. Subjects are served by different subscriptions, so dead
/// letters of different subjects may arrive in any order: they are matched
/// as a set. Fails the test if there is none.
inline nats_message take_letter(std::vector<nats_message>& letters,
                                const std::string& subject,
                                const std::string& body) {
  auto match = std::find_if(letters.begin(), letters.end(), [&](auto& m) {
    return m.header("Marquee-Subject") == subject && m.body == body;
  });
  REQUIRE(match != letters.end());
  auto out = std::move(*match);
  letters.erase(match);
  return out;
}

} // namespace marquee::testing
