#pragma once

/// Raw NATS load for `marquee bench` (tools/bench.hpp): the transport's own
/// figures, measured in the same run as marquee's, and the publishers and
/// requesters that drive marquee itself. Nothing here knows marquee: these
/// are the baselines (core publish → subscribe, JetStream publish → pull
/// consumer, request → a trivial responder) and the clients both share, so
/// that a ratio compares marquee with the transport and not two clients.
///
/// Each object owns one connection and is used by one thread, except where
/// a member says otherwise. Errors are values: false or nullptr with a
/// one-line reason in `error`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace marquee::load {

using clock = std::chrono::steady_clock;

/// A publishing and requesting connection.
class connection {
public:
  /// With `send_asap`, each message leaves at once (for latency); without,
  /// nats.c batches writes (for throughput).
  static std::unique_ptr<connection> open(const std::string& url,
                                          bool send_asap, std::string& error);
  ~connection();

  /// Core publish.
  bool publish(const std::string& subject, std::string_view body,
               std::string& error);

  /// Waits until the server has everything published so far.
  bool flush(std::chrono::milliseconds timeout, std::string& error);

  /// JetStream publish without waiting for the acknowledgement; at most
  /// `max_pending` are unacknowledged at a time (nats.c stalls beyond).
  bool js_publish(const std::string& subject, std::string_view body,
                  std::string& error);

  /// JetStream publish that waits for the acknowledgement; `sequence` gets
  /// the stream sequence the server gave the message.
  bool js_publish_sync(const std::string& subject, std::string_view body,
                       uint64_t& sequence, std::string& error);

  /// Waits until every JetStream publish is acknowledged; fails if any was
  /// refused (the count of refusals is in the reason).
  bool js_complete(std::chrono::milliseconds timeout, std::string& error);

  /// Sends a request and waits for its reply; `reply` gets the body. A reply
  /// with `Nats-Service-Error-Code` is a failure naming the error, and sets
  /// `*refused` (when given) to tell it from no reply at all.
  bool request(const std::string& subject, std::string_view body,
               std::chrono::milliseconds timeout, std::string& reply,
               std::string& error, bool* refused = nullptr);

  /// Creates (or replaces) a file-stored stream named `name` on `subjects`.
  bool reset_stream(const std::string& name,
                    const std::vector<std::string>& subjects,
                    std::string& error);

  /// Removes stream `name` if it exists.
  bool delete_stream(const std::string& name, std::string& error);

  struct impl;

private:
  explicit connection(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// The receiving end of a baseline: how many messages came, and a wait
/// for a count. `count`, `wait_for` and `shortfall` may be called from any
/// thread.
class receiver {
public:
  virtual ~receiver();

  uint64_t count() const;

  /// Waits until `n` messages came or `deadline` passed; returns whether
  /// they came.
  bool wait_for(uint64_t n, clock::time_point deadline) const;

  /// Why fewer may have come than were sent (messages the client dropped,
  /// a failed read), or empty: a failed baseline is never hidden.
  virtual std::string shortfall() const = 0;

protected:
  receiver();

  /// Counts one more message and wakes those who wait for the count.
  void add();

private:
  std::atomic<uint64_t> count_{0};
  mutable std::atomic<uint64_t> wanted_{UINT64_MAX};
  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
};

/// Counts the messages on a subject (an asynchronous subscription with
/// no pending limit).
class counter : public receiver {
public:
  static std::unique_ptr<counter>
  start(const std::string& url, const std::string& subject, std::string& error);
  ~counter() override;

  std::string shortfall() const override;

  struct impl;

private:
  counter();
  std::unique_ptr<impl> impl_;
};

/// Reads a stream through a durable pull consumer (acknowledge all, one
/// acknowledgement per half batch), as a lean JetStream client does: two
/// pull requests of `batch` messages kept standing, so that the server
/// never waits for one. The reading runs on a thread of its own.
class pull_reader : public receiver {
public:
  static std::unique_ptr<pull_reader> start(const std::string& url,
                                            const std::string& stream,
                                            int batch, std::string& error);
  /// Stops the thread and removes the consumer.
  ~pull_reader() override;

  /// The first failure of the reading thread, or empty.
  std::string shortfall() const override;

  struct impl;

private:
  pull_reader();
  std::unique_ptr<impl> impl_;
};

/// Answers every request on `subject` (a queue group) with `body`, at once:
/// the trivial responder of the request/reply baseline.
class responder {
public:
  static std::unique_ptr<responder> start(const std::string& url,
                                          const std::string& subject,
                                          std::string body, std::string& error);
  ~responder();

  struct impl;

private:
  explicit responder(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace marquee::load
