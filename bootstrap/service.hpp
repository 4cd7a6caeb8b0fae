#pragma once

/// Start-up and shutdown of the service, in phases: embedded nats-server,
/// actor system, actors, NATS edge; stopped in reverse order.
///
/// `run_service` is `marquee serve`: it starts, waits for SIGTERM or SIGINT
/// and stops. Call `block_stop_signals` first thing in `main`, before any
/// thread starts, so that the signals reach only that wait. Tests start and
/// stop a `service` directly.

#include "bootstrap/config.hpp"

#include <functional>
#include <memory>
#include <string>

namespace marquee {

/// Blocks SIGTERM and SIGINT in the calling thread (and so in every thread
/// it starts later).
void block_stop_signals();

/// What the service tells its caller once it answers requests.
struct ready_info {
  std::string nats_url;
  std::string prefix;
  std::string instance_id;
  /// The secured embedded server's directory (`nats.secure`): its CA, and
  /// each role's password and env file; empty otherwise.
  std::string secure_dir;
};

/// A running service. Not thread-safe: one owner thread starts and stops it.
class service {
public:
  /// Starts every phase; ready (answers `$SRV.PING.marquee`) on return. On
  /// failure returns null and sets `error` to a one-line reason.
  static std::unique_ptr<service> start(const config& cfg, std::string& error);

  const ready_info& info() const;

  /// Drains the edge, stops the actors, then the embedded server.
  /// Idempotent; the destructor calls it.
  void stop();

  ~service();

  struct impl;

private:
  explicit service(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// Runs the service until SIGTERM or SIGINT; `on_ready` runs once it is
/// ready. Returns the exit status; on failure, prints a one-line reason to
/// stderr.
int run_service(const config& cfg,
                const std::function<void(const ready_info&)>& on_ready);

} // namespace marquee
