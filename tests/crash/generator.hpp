#pragma once

/// The producer of the crash test: a thread that publishes plays,
/// impressions and thumbs of a fixed set of users and titles, and now and
/// then a user's profile or a title's catalog entry, to the JetStream
/// stream, each with a unique `Nats-Msg-Id` (and each user's events with a
/// per-user sequence number), and retries each one, with the same id,
/// until the stream acknowledges it. Only acknowledged events are kept, with
/// the stream sequence of their PubAck: what the reference model is fed.
///
/// Thread rules: `start`, `stop` and `events` belong to one owner thread;
/// the counters may be read from any thread while the producer runs;
/// `events` only after `stop`.

#include "tests/crash/sent_event.hpp"

#include <nats/nats.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace marquee::testing {

/// A JetStream publish that can be retried: the message goes out as a
/// request with a `Nats-Msg-Id` header, the reply is the stream's PubAck.
/// The connection reconnects forever, so it outlives nats-server restarts.
/// Not thread-safe; one owner thread.
class js_publisher {
public:
  /// What the stream said about one message.
  struct ack {
    std::string stream;
    uint64_t seq = 0;
    /// The id was seen within the duplicate window: stored once, earlier,
    /// at `seq`.
    bool duplicate = false;
  };

  static std::unique_ptr<js_publisher> connect(const std::string& url,
                                               std::string& error) {
    natsOptions* opts = nullptr;
    if (natsOptions_Create(&opts) != NATS_OK) {
      error = "cannot create NATS options";
      return nullptr;
    }
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetSendAsap(opts, true);
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetReconnectWait(opts, 50);
    natsConnection* nc = nullptr;
    auto st = natsConnection_Connect(&nc, opts);
    natsOptions_Destroy(opts);
    if (st != NATS_OK) {
      error =
        std::string{"cannot connect to "} + url + ": " + natsStatus_GetText(st);
      return nullptr;
    }
    return std::unique_ptr<js_publisher>{new js_publisher(nc)};
  }

  js_publisher(const js_publisher&) = delete;
  js_publisher& operator=(const js_publisher&) = delete;

  ~js_publisher() { natsConnection_Destroy(nc_); }

  /// One attempt: the PubAck, or nullopt and why (no reply in `timeout`,
  /// no stream listening, an error reply, a lost connection).
  std::optional<ack> publish(const std::string& subject,
                             const std::string& body, const std::string& id,
                             std::chrono::milliseconds timeout,
                             std::string& error) {
    natsMsg* raw = nullptr;
    auto st = natsMsg_Create(&raw, subject.c_str(), nullptr, body.data(),
                             static_cast<int>(body.size()));
    if (st != NATS_OK) {
      error = std::string{"cannot create a message: "} + natsStatus_GetText(st);
      return std::nullopt;
    }
    msg_ptr msg{raw};
    natsMsgHeader_Set(raw, "Nats-Msg-Id", id.c_str());
    natsMsg* reply_raw = nullptr;
    st = natsConnection_RequestMsg(&reply_raw, nc_, raw, timeout.count());
    if (st != NATS_OK) {
      error = std::string{"no PubAck: "} + natsStatus_GetText(st);
      return std::nullopt;
    }
    msg_ptr reply{reply_raw};
    std::string text{natsMsg_GetData(reply_raw),
                     static_cast<size_t>(natsMsg_GetDataLength(reply_raw))};
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    if (doc.HasParseError() || !doc.IsObject() || doc.HasMember("error") ||
        !doc.HasMember("seq") || !doc["seq"].IsUint64() ||
        !doc.HasMember("stream") || !doc["stream"].IsString()) {
      error = "not a PubAck: " + text.substr(0, 200);
      return std::nullopt;
    }
    ack out;
    out.stream = doc["stream"].GetString();
    out.seq = doc["seq"].GetUint64();
    out.duplicate = doc.HasMember("duplicate") && doc["duplicate"].IsBool() &&
                    doc["duplicate"].GetBool();
    return out;
  }

private:
  struct msg_deleter {
    void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
  };
  using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

  explicit js_publisher(natsConnection* nc) : nc_(nc) {
    // nop
  }

  natsConnection* nc_;
};

/// What the producer makes.
struct generator_params {
  std::string prefix = "marquee";
  std::string stream = "MARQUEE";
  int users = 40;
  int titles = 30;
  /// Publish rate while nothing fails, on average.
  double events_per_second = 400;
  /// Events published back to back, each once the one before is
  /// acknowledged, then a pause: the mean rate stays, but a checkpoint
  /// (due every so many events) begins while events pour in, so that
  /// actors have applied events past its sequence when they are asked for
  /// their state. Those must be skipped on replay; a profile event among
  /// them was applied twice before ed377b1. (Measured with the old code:
  /// some user had such events in about 1 checkpoint in 40 with events
  /// one at a time, in 1 in 4 with bursts of 40.)
  int burst = 1;
  /// `ts` of a user's event n: `base_ts + n * ts_step_ms`.
  int64_t base_ts = 0;
  int64_t ts_step_ms = 1000;
  /// One attempt waits this long for its PubAck.
  std::chrono::milliseconds attempt_timeout{1000};
  /// Pause between attempts of one event.
  std::chrono::milliseconds retry_pause{20};
  /// An event not acknowledged within this is a failure of the run.
  std::chrono::milliseconds give_up{60000};
  /// Percent of events published once more after their PubAck, as a
  /// producer does whose PubAck got lost: the stream must answer
  /// `duplicate` with the first sequence.
  int republish_percent = 3;
  /// Percent of events that replace a user's profile (`P.v1.profile`)
  /// and a title's metadata (`P.v1.catalog`); the others are plays,
  /// impressions and thumbs, half, a third and a sixth of them.
  int profile_percent = 3;
  int catalog_percent = 2;
  uint64_t seed = 1;
};

class event_generator {
public:
  /// Connects on the caller's thread; false and `error` if it cannot.
  bool start(const std::string& url, generator_params p, std::string& error) {
    params_ = std::move(p);
    pub_ = js_publisher::connect(url, error);
    if (!pub_)
      return false;
    rng_.seed(params_.seed);
    user_seq_.assign(static_cast<size_t>(params_.users), 0);
    id_base_ = "crash-" + std::to_string(params_.seed) + "-" +
               std::to_string(params_.base_ts) + "-";
    thread_ = std::thread{[this] { run(); }};
    return true;
  }

  /// Stops after the event in flight is acknowledged (or given up on);
  /// with `abandon`, at its next failed attempt (the test is failing
  /// anyway).
  void stop(bool abandon = false) {
    abandon_ = abandon_.load() || abandon;
    stopping_ = true;
    if (thread_.joinable())
      thread_.join();
    pub_.reset();
  }

  ~event_generator() { stop(true); }

  /// Acknowledged events, in publish order; read after `stop`.
  const std::vector<sent_event>& events() const { return events_; }

  uint64_t acked() const { return acked_.load(); }
  /// The highest stream sequence acknowledged so far.
  uint64_t last_seq() const { return last_seq_.load(); }
  /// PubAcks that said `duplicate`: a retry of a message stored before.
  uint64_t duplicates() const { return duplicates_.load(); }
  /// Events published again after their PubAck, on purpose.
  uint64_t republished() const { return republished_.load(); }
  /// Republished events that the stream did not recognise as duplicates
  /// of the first sequence: stored twice.
  uint64_t dedup_failures() const { return dedup_failures_.load(); }
  /// Attempts that got no PubAck.
  uint64_t failed_attempts() const { return failed_attempts_.load(); }
  /// Set when an event was never acknowledged: the run is void.
  bool gave_up() const { return gave_up_.load(); }

  std::string last_error() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_error_;
  }

private:
  using steady = std::chrono::steady_clock;

  template <class T>
  T pick(const std::vector<T>& xs) {
    std::uniform_int_distribution<size_t> d{0, xs.size() - 1};
    return xs[d(rng_)];
  }

  static std::string name(char letter, int i) {
    return letter + std::string{i < 10 ? "0" : ""} + std::to_string(i);
  }

  /// A random subset of `xs`, `lo` to `hi` of them, in random order.
  std::vector<std::string> some(const std::vector<std::string>& xs, size_t lo,
                                size_t hi) {
    auto shuffled = xs;
    std::shuffle(shuffled.begin(), shuffled.end(), rng_);
    std::uniform_int_distribution<size_t> n{lo, std::min(hi, xs.size())};
    shuffled.resize(n(rng_));
    return shuffled;
  }

  /// True `percent` times in 100.
  bool chance(int percent) { return percent_(rng_) < percent; }

  /// A profile: either field left out now and then (CONTRACT.md: a kid
  /// profile has a `max_age`; docs/wire.md: both are optional).
  void make_profile(sent_event& ev) {
    static const std::vector<int> ages = {0, 7, 12, 16, 18};
    static const std::vector<std::string> regions = {"US", "GB", "DE", "FR"};
    ev.kind = sent_event::type::profile;
    ev.title.clear();
    if (!chance(30))
      ev.max_age = pick(ages);
    if (!chance(20))
      ev.region = pick(regions);
  }

  /// A catalog entry: every field random, each left out now and then (it
  /// then takes its default, not its previous value: docs/wire.md).
  void make_catalog(sent_event& ev) {
    static const std::vector<std::string> names = {
      "Toy Story",    "Night Harbor",    "Les Misérables",
      "The 39 Steps", "Ōkami no kodomo", "Stalker"};
    static const std::vector<std::string> genres = {
      "Animation", "Comedy", "Drama", "Thriller", "Documentary", "Kids"};
    static const std::vector<std::string> regions = {"US", "GB", "DE", "FR",
                                                     "JP"};
    static const std::vector<int> ages = {0, 6, 12, 16, 18};
    ev.kind = sent_event::type::catalog;
    ev.user.clear();
    ev.user_seq = 0;
    ev.ts = 0;
    if (!chance(10))
      ev.name = pick(names) + " " + std::to_string(percent_(rng_));
    if (!chance(15))
      ev.genres = some(genres, chance(10) ? 0 : 1, 3);
    if (!chance(20))
      ev.min_age = pick(ages);
    if (!chance(20)) {
      std::uniform_int_distribution<int> year{1920, 2025};
      ev.year = year(rng_);
    }
    if (!chance(40))
      ev.regions = some(regions, 1, 3);
    if (!chance(30))
      ev.available = !chance(25);
  }

  sent_event make_event() {
    static const std::vector<double> progresses = {1.0,  0.95, 0.9,
                                                   0.75, 0.5,  0.25};
    static const std::vector<std::string> regions = {"US", "GB", "DE", ""};
    std::uniform_int_distribution<int> user_d{0, params_.users - 1};
    std::uniform_int_distribution<int> title_d{0, params_.titles - 1};
    std::uniform_int_distribution<int> kind_d{0, 99};
    auto u = user_d(rng_);
    sent_event ev;
    ev.user = name('u', u);
    ev.title = name('t', title_d(rng_));
    auto k = kind_d(rng_);
    if (k >= params_.profile_percent + params_.catalog_percent) {
      // A member's action on a title.
      ev.user_seq = ++user_seq_[static_cast<size_t>(u)];
      ev.ts = params_.base_ts +
              static_cast<int64_t>(ev.user_seq) * params_.ts_step_ms;
      k = kind_d(rng_);
      if (k < 50) {
        ev.kind = sent_event::type::play;
        ev.progress = pick(progresses);
        ev.region = pick(regions);
      } else if (k < 85) {
        ev.kind = sent_event::type::impression;
        ev.position = k % 12;
      } else {
        ev.kind = sent_event::type::feedback;
        ev.value = k % 3 == 0 ? -1 : 1;
      }
    } else if (k < params_.profile_percent) {
      ev.user_seq = ++user_seq_[static_cast<size_t>(u)];
      make_profile(ev);
    } else {
      make_catalog(ev);
    }
    ev.msg_id = id_base_ + std::to_string(events_.size() + 1);
    return ev;
  }

  /// Retries `ev` with the same id until the stream acknowledges it.
  std::optional<js_publisher::ack> publish_until_acked(const sent_event& ev) {
    auto subject = ev.subject(params_.prefix);
    auto body = ev.body();
    auto deadline = steady::now() + params_.give_up;
    for (;;) {
      std::string error;
      auto a =
        pub_->publish(subject, body, ev.msg_id, params_.attempt_timeout, error);
      if (a && a->stream == params_.stream) {
        if (a->duplicate)
          duplicates_.fetch_add(1);
        return a;
      }
      if (a)
        error = "PubAck from stream " + a->stream;
      failed_attempts_.fetch_add(1);
      {
        std::lock_guard<std::mutex> guard{mtx_};
        last_error_ = error;
      }
      if (steady::now() >= deadline || abandon_.load())
        return std::nullopt;
      std::this_thread::sleep_for(params_.retry_pause);
    }
  }

  void run() {
    auto burst = std::max(1, params_.burst);
    auto gap = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>{burst / params_.events_per_second});
    auto next = steady::now();
    for (uint64_t n = 0; !stopping_.load(); ++n) {
      if (n % static_cast<uint64_t>(burst) == 0) {
        next += gap;
        auto now = steady::now();
        if (next > now)
          std::this_thread::sleep_until(next);
        else if (now - next > std::chrono::seconds{1})
          next = now; // after an outage, no rush to catch up
      }
      auto ev = make_event();
      auto a = publish_until_acked(ev);
      if (!a) {
        gave_up_ = true;
        return;
      }
      ev.stream_seq = a->seq;
      if (percent_(rng_) < params_.republish_percent) {
        republished_.fetch_add(1);
        auto again = publish_until_acked(ev);
        if (!again) {
          gave_up_ = true;
          return;
        }
        if (!again->duplicate || again->seq != ev.stream_seq) {
          dedup_failures_.fetch_add(1);
          std::lock_guard<std::mutex> guard{mtx_};
          last_error_ = "event " + ev.msg_id + " published again: stored at " +
                        std::to_string(again->seq) + " after " +
                        std::to_string(ev.stream_seq);
        }
      }
      events_.push_back(ev);
      acked_.fetch_add(1);
      if (ev.stream_seq > last_seq_.load())
        last_seq_.store(ev.stream_seq);
    }
  }

  generator_params params_;
  std::unique_ptr<js_publisher> pub_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> user_seq_;
  std::string id_base_;
  std::vector<sent_event> events_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> abandon_{false};
  std::atomic<bool> gave_up_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> republished_{0};
  std::atomic<uint64_t> dedup_failures_{0};
  std::uniform_int_distribution<int> percent_{0, 99};
  std::atomic<uint64_t> failed_attempts_{0};
  mutable std::mutex mtx_;
  std::string last_error_;
};

} // namespace marquee::testing
