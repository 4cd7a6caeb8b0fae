#pragma once

/// The `marquee` executable as a child process of a test: start it with
/// arguments and environment, signal it (SIGTERM, kill -9), wait for its
/// exit within a bound, read what it wrote. Plus a free loopback port and a
/// readiness wait on `$SRV.PING.marquee`.
///
/// Needs `MARQUEE_BINARY`, the path of the executable, defined by the build.
///
/// Ownership: a `child` owns its process; destroying it kills (SIGKILL) and
/// reaps a child that has not been waited for. The child also gets SIGKILL
/// when the thread that started it exits (Linux PR_SET_PDEATHSIG), so a test
/// that dies leaves no marquee behind: start children from a thread that
/// outlives them, such as `main`.
///
/// Not thread-safe; one owner thread. Safe to use while other threads run:
/// everything the child needs is prepared before `fork`, and the child
/// calls only async-signal-safe functions before `execve`.

#include "tests/support/eventually.hpp"
#include "wire/nats_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace marquee::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

/// A child `marquee` process with its output in files.
class child {
public:
  /// Runs `MARQUEE_BINARY args...` in `dir`, with the inherited environment
  /// plus `env` (`NAME=value` entries, replacing inherited ones of the same
  /// name); stdout and stderr go to `dir/stdout` and `dir/stderr`.
  child(std::vector<std::string> args, const std::vector<std::string>& env,
        const std::filesystem::path& dir)
    : out_(dir / "stdout"), err_(dir / "stderr") {
    args.insert(args.begin(), MARQUEE_BINARY);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> vars = merged_environment(env);
    std::vector<char*> envp;
    for (auto& v : vars)
      envp.push_back(v.data());
    envp.push_back(nullptr);
    int out_fd =
      open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err_fd =
      open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    auto dir_text = dir.string();
    auto max_fd = static_cast<int>(sysconf(_SC_OPEN_MAX));
    if (max_fd < 0 || max_fd > 65536)
      max_fd = 65536;
    auto parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Async-signal-safe calls only: other threads of the test may hold
      // locks that this copy of the process will never see released.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent)
        _exit(127);
      if (out_fd < 0 || err_fd < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
          dup2(err_fd, STDERR_FILENO) < 0)
        _exit(127);
      // Descriptors of the test (sockets to nats-server) stay with it.
      for (int fd = STDERR_FILENO + 1; fd < max_fd; ++fd)
        close(fd);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      if (chdir(dir_text.c_str()) != 0)
        _exit(127);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    if (out_fd >= 0)
      close(out_fd);
    if (err_fd >= 0)
      close(err_fd);
  }

  child(const child&) = delete;
  child& operator=(const child&) = delete;

  ~child() {
    if (pid_ > 0 && status_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  void signal(int sig) {
    if (pid_ > 0 && status_ < 0)
      kill(pid_, sig);
  }

  /// The exit status (128 + signal if killed by one), or -1 if it did not
  /// exit within `timeout` (times `time_scale()`).
  int wait(std::chrono::milliseconds timeout) {
    if (status_ >= 0 || pid_ <= 0)
      return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout * time_scale();
    do {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    } while (std::chrono::steady_clock::now() < deadline);
    return -1;
  }

  std::string err() const { return slurp(err_); }
  std::string out() const { return slurp(out_); }

private:
  /// The environment of this process with `extra` added or replacing.
  static std::vector<std::string>
  merged_environment(const std::vector<std::string>& extra) {
    auto name_of = [](const std::string& entry) {
      return entry.substr(0, entry.find('='));
    };
    std::vector<std::string> out;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string entry{*e};
      bool replaced = false;
      for (const auto& x : extra)
        replaced = replaced || name_of(x) == name_of(entry);
      if (!replaced)
        out.push_back(std::move(entry));
    }
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  }

  static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in{p};
    return {std::istreambuf_iterator<char>{in}, {}};
  }

  std::filesystem::path out_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Connects to `url` once the service answers `$SRV.PING.marquee`; nullptr
/// if it does not within `timeout`.
inline std::unique_ptr<nats_client> await_ready(
  const std::string& url,
  std::chrono::milliseconds timeout = std::chrono::milliseconds{15000}) {
  std::unique_ptr<nats_client> client;
  bool ready = eventually(
    [&] {
      std::string error;
      if (!client)
        client = nats_client::connect(url, error);
      if (client && client->request("$SRV.PING.marquee", "",
                                    std::chrono::milliseconds{200}, error))
        return true;
      // The connection may be to a server on its way out (the embedded
      // server of a killed marquee still holds the port for a moment):
      // connect afresh next time.
      client.reset();
      return false;
    },
    timeout);
  return ready ? std::move(client) : nullptr;
}

} // namespace marquee::testing
