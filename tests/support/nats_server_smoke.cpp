// Standalone check of bootstrap/nats_server against the installed
// nats-server: start with JetStream in a temp dir, carry one message with
// nats.c, stop, and leave nothing behind; two servers started at once get
// two ports; failures come back as reasons. Exits 0 on success, 1 with a
// one-line reason otherwise. Bounded in time by the servers' start timeouts
// and nats.c's request timeouts.

#include "bootstrap/nats_server.hpp"

#include <nats/nats.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>

namespace {

using namespace marquee;
namespace fs = std::filesystem;

// How long nats.c waits for a message or a reply.
constexpr int64_t nats_timeout_ms = 5000;

// A check's result: empty on success, else why it failed.
using outcome = std::string;

struct nats_deleter {
  void operator()(natsConnection* nc) const { natsConnection_Destroy(nc); }
  void operator()(natsSubscription* sub) const {
    natsSubscription_Destroy(sub);
  }
  void operator()(natsMsg* msg) const { natsMsg_Destroy(msg); }
};

template <class T>
using nats_ptr = std::unique_ptr<T, nats_deleter>;

std::string describe(const char* what, natsStatus s) {
  return std::string{what} + ": " + natsStatus_GetText(s);
}

// Returns whether anything accepts TCP connections on 127.0.0.1:`port`.
bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

nats_server_options options_in(const fs::path& dir) {
  nats_server_options opts;
  opts.store_dir = (dir / "store").string();
  return opts;
}

// Publishes one message and receives it; asks JetStream for account info.
outcome exchange_messages(const std::string& url) {
  natsConnection* raw_nc = nullptr;
  if (auto s = natsConnection_ConnectTo(&raw_nc, url.c_str()); s != NATS_OK)
    return describe("connect", s);
  nats_ptr<natsConnection> nc{raw_nc};
  natsSubscription* raw_sub = nullptr;
  const char* subject = "smoke.hello";
  if (auto s = natsConnection_SubscribeSync(&raw_sub, nc.get(), subject);
      s != NATS_OK)
    return describe("subscribe", s);
  nats_ptr<natsSubscription> sub{raw_sub};
  if (auto s = natsConnection_Flush(nc.get()); s != NATS_OK)
    return describe("flush", s);
  if (auto s = natsConnection_PublishString(nc.get(), subject, "hi");
      s != NATS_OK)
    return describe("publish", s);
  natsMsg* raw_msg = nullptr;
  if (auto s = natsSubscription_NextMsg(&raw_msg, sub.get(), nats_timeout_ms);
      s != NATS_OK)
    return describe("receive", s);
  nats_ptr<natsMsg> msg{raw_msg};
  std::string data{natsMsg_GetData(msg.get()),
                   static_cast<size_t>(natsMsg_GetDataLength(msg.get()))};
  if (data != "hi")
    return "received '" + data + "' instead of 'hi'";
  natsMsg* raw_reply = nullptr;
  if (auto s = natsConnection_RequestString(
        &raw_reply, nc.get(), "$JS.API.INFO", "", nats_timeout_ms);
      s != NATS_OK)
    return describe("JetStream info", s);
  nats_ptr<natsMsg> reply{raw_reply};
  std::string info = natsMsg_GetData(reply.get());
  if (info.find("account_info_response") == std::string::npos ||
      info.find("\"error\"") != std::string::npos)
    return "JetStream is not enabled: " + info;
  return {};
}

outcome start_exchange_stop(const fs::path& dir) {
  auto opts = options_in(dir);
  opts.log_file = (dir / "server.log").string();
  std::string error;
  auto server = nats_server_process::start(opts, error);
  if (!server)
    return "start: " + error;
  if (server->url() != "nats://127.0.0.1:" + std::to_string(server->port()))
    return "unexpected url " + server->url();
  if (!server->running() || !accepts_connections(server->port()))
    return "server is not up after start";
  if (auto failed = exchange_messages(server->url()); !failed.empty())
    return failed;
  auto port = server->port();
  auto pid = server->pid();
  server->stop();
  server->stop(); // idempotent
  if (server->running())
    return "server still running after stop";
  if (accepts_connections(port))
    return "port " + std::to_string(port) + " still accepts after stop";
  if (::kill(pid, 0) == 0 || errno != ESRCH)
    return "server process " + std::to_string(pid) + " still exists";
  server.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec || fs::exists(dir))
    return "cannot remove " + dir.string() + ": " + ec.message();
  return {};
}

// Starts two servers from two threads at once; each thread owns its server
// until `release`, because the child dies with the thread that started it.
outcome concurrent_starts_get_two_ports(const fs::path& dir) {
  std::promise<void> release;
  auto released = release.get_future().share();
  auto run = [released](fs::path sub, std::promise<outcome> port_or_error) {
    std::string error;
    auto server = nats_server_process::start(options_in(sub), error);
    port_or_error.set_value(server ? std::to_string(server->port())
                                   : "start: " + error);
    released.wait();
  };
  std::promise<outcome> first;
  std::promise<outcome> second;
  auto first_result = first.get_future();
  auto second_result = second.get_future();
  std::thread a{run, dir / "a", std::move(first)};
  std::thread b{run, dir / "b", std::move(second)};
  auto port_a = first_result.get();
  auto port_b = second_result.get();
  outcome result;
  if (port_a.rfind("start", 0) == 0 || port_b.rfind("start", 0) == 0)
    result = port_a.rfind("start", 0) == 0 ? port_a : port_b;
  else if (port_a == port_b)
    result = "two servers share port " + port_a;
  else if (!accepts_connections(std::stoi(port_a)) ||
           !accepts_connections(std::stoi(port_b)))
    result = "ports " + port_a + " and " + port_b + " do not both accept";
  release.set_value();
  a.join();
  b.join();
  return result;
}

// Checks that `opts` fails to start with an error containing `expected`.
outcome start_fails(const nats_server_options& opts,
                    const std::string& expected) {
  std::string error;
  if (auto server = nats_server_process::start(opts, error))
    return "started although it should fail with '" + expected + "'";
  if (error.find(expected) == std::string::npos)
    return "error '" + error + "' does not mention '" + expected + "'";
  return {};
}

outcome bad_starts_give_reasons(const fs::path& dir) {
  auto opts = options_in(dir);
  opts.executable = "no-such-nats-server";
  if (auto failed = start_fails(opts, "not found"); !failed.empty())
    return failed;
  opts = options_in(dir);
  opts.store_dir.clear();
  if (auto failed = start_fails(opts, "store_dir"); !failed.empty())
    return failed;
  opts = options_in(dir);
  opts.log_file = (dir / "bad_flag.log").string();
  opts.extra_args = {"--no-such-flag"};
  if (auto failed = start_fails(opts, "flag provided but not defined");
      !failed.empty())
    return failed;
  std::string error;
  auto server = nats_server_process::start(options_in(dir / "taken"), error);
  if (!server)
    return "start: " + error;
  opts = options_in(dir);
  opts.port = server->port();
  opts.log_file = (dir / "taken.log").string();
  if (auto failed = start_fails(opts, "address already in use");
      !failed.empty())
    return failed;
  server->kill_hard();
  if (server->running() || accepts_connections(opts.port))
    return "server survived kill_hard";
  return {};
}

fs::path make_temp_dir() {
  auto pattern = (fs::temp_directory_path() / "nats-smoke-XXXXXX").string();
  return ::mkdtemp(pattern.data()) != nullptr ? fs::path{pattern} : fs::path{};
}

} // namespace

int main() {
  const std::pair<const char*, std::function<outcome(const fs::path&)>>
    checks[] = {
      {"start, exchange, stop", start_exchange_stop},
      {"concurrent starts", concurrent_starts_get_two_ports},
      {"bad starts", bad_starts_give_reasons},
    };
  int status = 0;
  for (auto& [name, check] : checks) {
    auto dir = make_temp_dir();
    auto failed = dir.empty() ? "cannot create a temp dir" : check(dir);
    std::error_code ec;
    if (!dir.empty())
      fs::remove_all(dir, ec);
    if (!failed.empty()) {
      std::fprintf(stderr, "FAIL %s: %s\n", name, failed.c_str());
      status = 1;
      break;
    }
  }
  nats_Close();
  if (status == 0)
    std::printf("ok\n");
  return status;
}
