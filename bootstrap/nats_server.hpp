#pragma once

/// A `nats-server` child process: the embedded default of `marquee serve` (a
/// private server on loopback with JetStream, stopped with the service) and
/// the real server of integration tests (a free loopback port, per test).
///
/// Ownership: the process object owns the child and a private runtime
/// directory under $TMPDIR (for the server's ports file). Destroying it stops
/// the child, reaps it and removes that directory; it never removes
/// `store_dir` or `log_file`. If the parent is killed, the child still dies
/// (below) but the small runtime directory stays behind.
///
/// The child dies with its parent: it gets SIGTERM when the *thread* that
/// called `start` exits (Linux PR_SET_PDEATHSIG), so call `start` from a
/// thread that outlives the server, such as `main`. The child runs in its own
/// process group, so a terminal's Ctrl-C reaches only the parent, which then
/// stops the server in order.
///
/// Not thread-safe; owned by one thread. Starts no threads; `start` and `stop`
/// block the caller for at most `start_timeout` and `grace`. Exit statuses
/// are lost if SIGCHLD is ignored or another part of the process reaps with
/// `waitpid(-1)`; stopping still works. Never throws on bad input or a failing
/// server: errors are one-line strings.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace marquee {

/// How to run the server.
struct nats_server_options {
  std::string executable = "nats-server"; // a path, or looked up in PATH
  std::string host = "127.0.0.1";         // client listen address (-a)
  int port = 0;                           // 0: a free port, chosen by the OS
  bool jetstream = true;
  std::string store_dir; // JetStream store (-sd); required if jetstream
  std::string log_file;  // log and stderr appended; empty: /dev/null
  std::chrono::milliseconds start_timeout{10000}; // until it accepts clients
  std::vector<std::string> extra_args;            // passed through
};

/// A running `nats-server` child; see the file comment for ownership.
class nats_server_process {
public:
  /// Starts the server and waits until it accepts TCP connections on its
  /// port. On failure returns nullptr, leaves no child behind and sets `error`
  /// to a one-line reason: invalid options, executable not found or not
  /// executable, exited early with its status and the last line it logged
  /// (when `log_file` is set), or no connections within `start_timeout`.
  static std::unique_ptr<nats_server_process>
  start(const nats_server_options& opts, std::string& error);

  nats_server_process(const nats_server_process&) = delete;
  nats_server_process& operator=(const nats_server_process&) = delete;

  /// Calls `stop()`.
  ~nats_server_process();

  /// Client URL, `nats://<host>:<port>`.
  const std::string& url() const { return url_; }

  /// The client port the server listens on.
  int port() const { return port_; }

  /// The child's process id; stays valid as a number after it exits.
  pid_t pid() const { return pid_; }

  /// Returns whether the child still runs; reaps it if it has exited.
  bool running();

  /// Sends SIGTERM, waits up to `grace` for a clean exit (JetStream flushes
  /// its store), then SIGKILL; always reaps. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{5000});

  /// Sends SIGKILL now and reaps, as a crash would (for crash tests).
  void kill_hard();

private:
  explicit nats_server_process(std::string runtime_dir);

  /// Polls until the server accepts clients, exits or `timeout` passes.
  bool await_ready(const std::string& host, std::chrono::milliseconds timeout,
                   std::string& error);

  /// Reaps the child if it has exited, or waits for that if `block`;
  /// returns whether it is gone.
  bool reap(bool block);

  /// Says why the reaped child ended, with its last log line of this run.
  std::string describe_exit() const;

  std::string runtime_dir_; // holds the ports file; removed on stop
  std::string ports_file_;
  std::string log_file_;
  int64_t log_offset_ = 0; // log size before this run
  std::string url_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool reaped_ = true;   // no child to signal or wait for
  int exit_status_ = -1; // raw waitpid status once reaped; -1: unknown
};

} // namespace marquee
