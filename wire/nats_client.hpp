#pragma once

/// A small NATS client for the tools around the service: the demo loader,
/// `marquee request`, and the integration tests.
///
/// Not thread-safe: one owner thread. Errors are values: every call returns
/// false or nullopt and sets `error` to a one-line reason.

#include "wire/nats_auth.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace marquee {

/// A received message: subject, body and headers.
struct nats_message {
  std::string subject;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  /// The value of header `key`, or empty.
  std::string header(std::string_view key) const;
};

class nats_client {
public:
  /// Connects to `url`. With `send_asap`, every message leaves at once
  /// (lowest request latency); without, the library batches writes (highest
  /// publish throughput).
  static std::unique_ptr<nats_client>
  connect(const std::string& url, std::string& error, bool send_asap = true);

  /// Connects to `url` with credentials and TLS settings (`apply_auth`).
  static std::unique_ptr<nats_client> connect(const std::string& url,
                                              const nats_auth& auth,
                                              std::string& error,
                                              bool send_asap = true);
  ~nats_client();

  bool publish(const std::string& subject, std::string_view body,
               std::string& error);

  /// Publishes with headers.
  bool publish(const std::string& subject, std::string_view body,
               const std::vector<std::pair<std::string, std::string>>& headers,
               std::string& error);

  /// Sends a request and waits for its reply (service errors come back as a
  /// reply with the `Nats-Service-Error-Code` header).
  std::optional<nats_message> request(const std::string& subject,
                                      std::string_view body,
                                      std::chrono::milliseconds timeout,
                                      std::string& error);

  /// Subscribes synchronously to `subject`; returns a handle for `next`.
  bool subscribe(const std::string& subject, std::string& error);

  /// The next message of the subscription, or nullopt after `timeout`.
  std::optional<nats_message> next(std::chrono::milliseconds timeout);

  /// Waits until the server has processed everything sent so far.
  bool flush(std::chrono::milliseconds timeout, std::string& error);

  /// The last thing the server refused on this connection (its
  /// "Permissions Violation for ..." line), or empty. The server reports a
  /// refused publish or subscription asynchronously; after `flush` the
  /// report of everything sent before it has arrived.
  std::string refused() const;

  struct impl;

private:
  explicit nats_client(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace marquee
