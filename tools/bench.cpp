#include "tools/bench.hpp"

#include "bootstrap/nats_server.hpp"
#include "bootstrap/service.hpp"
#include "wire/load.hpp"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <malloc.h>

namespace marquee {

namespace {

namespace fs = std::filesystem;
using load::clock;
using std::chrono::duration;
using std::chrono::milliseconds;

constexpr int64_t day_ms = 24 * 3600 * 1000;
constexpr milliseconds patience{600'000}; // for one ingest run to finish

int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

double seconds_since(clock::time_point t0) {
  return duration<double>(clock::now() - t0).count();
}

// -- the workload -------------------------------------------------------------

/// Plays and impressions as the contract writes them: users uniform,
/// titles by popularity (Zipf, exponent 1), seeded.
class workload {
public:
  workload(uint32_t users, uint32_t titles, uint64_t seed)
    : users_(users), rng_(seed), cdf_(titles) {
    double sum = 0;
    for (uint32_t r = 0; r < titles; ++r)
      cdf_[r] = sum += 1.0 / (r + 1);
    for (auto& c : cdf_)
      c /= sum;
  }

  uint32_t user() {
    return std::uniform_int_distribution<uint32_t>{0, users_ - 1}(rng_);
  }

  uint32_t title() {
    double u = std::uniform_real_distribution<double>{0, 1}(rng_);
    auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<uint32_t>(
      std::min<size_t>(it - cdf_.begin(), cdf_.size() - 1));
  }

  /// One event of `kind` ("play" or "impression") for `user` at `ts`: the
  /// subject after "P.v1.events." and the body.
  void event(const std::string& kind, uint32_t user, int64_t ts,
             std::string& tail, std::string& body) {
    event(kind, user, title(), ts, tail, body);
  }

  /// The same, of a given title.
  void event(const std::string& kind, uint32_t user, uint32_t title, int64_t ts,
             std::string& tail, std::string& body) {
    static constexpr const char* regions[] = {"US", "GB", "DE", "FR", "BR"};
    static constexpr const char* rows[] = {"home", "trending", "similar"};
    char buf[160];
    tail = kind + ".u" + std::to_string(user);
    if (kind == "play") {
      // One play in five stops early (in progress).
      double progress = coin(0.2) ? 0.3 : 0.95;
      std::snprintf(buf, sizeof buf,
                    "{\"title\":\"t%u\",\"ts\":%lld,\"progress\":%.2f,"
                    "\"region\":\"%s\",\"device\":\"tv\"}",
                    title, static_cast<long long>(ts), progress,
                    regions[user % 5]);
    } else {
      std::snprintf(
        buf, sizeof buf,
        "{\"title\":\"t%u\",\"ts\":%lld,\"row\":\"%s\",\"position\":%u}", title,
        static_cast<long long>(ts), rows[pick(3)], pick(40));
    }
    body = buf;
  }

  /// Plays and impressions as a member makes them: 20 plays to 50
  /// impressions.
  const char* mixed_kind() { return coin(20.0 / 70) ? "play" : "impression"; }

  bool coin(double p) {
    return std::uniform_real_distribution<double>{0, 1}(rng_) < p;
  }

  uint32_t pick(uint32_t n) {
    return std::uniform_int_distribution<uint32_t>{0, n - 1}(rng_);
  }

private:
  uint32_t users_;
  std::mt19937_64 rng_;
  std::vector<double> cdf_;
};

std::string catalog_body(uint32_t t) {
  static constexpr const char* genres[] = {
    "Action",  "Animation", "Comedy",  "Crime",  "Documentary", "Drama",
    "Fantasy", "Horror",    "Romance", "Sci-Fi", "Thriller",    "Children"};
  return std::string{"{\"name\":\"Title "} + std::to_string(t) +
         "\",\"genres\":[\"" + genres[t % 12] + "\",\"" +
         genres[(t / 12) % 12] +
         "\"],\"min_age\":" + std::to_string((t % 4) * 6) +
         ",\"year\":" + std::to_string(1970 + t % 55) + "}";
}

// -- figures ------------------------------------------------------------------

uint32_t percentile(std::vector<uint32_t> xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(std::ceil(p * xs.size())) - 1;
  k = std::min(k, xs.size() - 1);
  std::nth_element(xs.begin(), xs.begin() + static_cast<ptrdiff_t>(k),
                   xs.end());
  return xs[k];
}

std::string with_commas(double x) {
  auto s = std::to_string(static_cast<long long>(std::llround(x)));
  int sign = s[0] == '-' ? 1 : 0;
  for (int i = static_cast<int>(s.size()) - 3; i > sign; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string fixed(double x, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << x;
  return os.str();
}

/// One line of the table.
struct row {
  std::string figure;
  std::string marquee;
  std::string raw;
  std::string ratio;
  std::string target;
  std::string verdict; // "met", "missed" or ""
};

void print_table(const std::vector<row>& rows, std::ostream& out) {
  const char* head[] = {"figure", "marquee", "raw, same run",
                        "ratio",  "target",  ""};
  size_t w[6] = {};
  auto cells = [](const row& r) {
    return std::vector<const std::string*>{&r.figure, &r.marquee, &r.raw,
                                           &r.ratio,  &r.target,  &r.verdict};
  };
  for (int i = 0; i < 6; ++i)
    w[i] = std::string{head[i]}.size();
  for (const auto& r : rows) {
    auto c = cells(r);
    for (int i = 0; i < 6; ++i)
      w[i] = std::max(w[i], c[i]->size());
  }
  auto line = [&](const std::vector<std::string>& c) {
    out << "| ";
    for (int i = 0; i < 6; ++i)
      out << std::left << std::setw(static_cast<int>(w[i])) << c[i]
          << (i < 5 ? " | " : " |\n");
  };
  line({head[0], head[1], head[2], head[3], head[4], head[5]});
  out << "|";
  for (int i = 0; i < 6; ++i)
    out << std::string(w[i] + 2, '-') << "|";
  out << "\n";
  for (const auto& r : rows) {
    auto c = cells(r);
    line({*c[0], *c[1], *c[2], *c[3], *c[4], *c[5]});
  }
}

/// A throughput row: marquee / raw against `at_least`.
row rate_row(std::string figure, double m, double r, double at_least,
             const char* unit) {
  row x{std::move(figure),
        with_commas(m) + unit,
        with_commas(r) + unit,
        fixed(m / r, 2),
        "",
        ""};
  if (at_least > 0) {
    x.target = ">= " + fixed(at_least, 2);
    x.verdict = m / r >= at_least ? "met" : "missed";
  }
  return x;
}

/// Writes `xs` (one per line) to `<dir>/<name>.csv` when a directory is set.
void write_samples(const std::string& dir, const std::string& name,
                   const std::vector<uint32_t>& xs) {
  if (dir.empty())
    return;
  std::ofstream f{fs::path{dir} / (name + ".csv")};
  for (auto x : xs)
    f << x << '\n';
}

/// Samples a count every 100 ms on a thread of its own, from construction
/// until `stop`, and once more when stopped: the series of a
/// throughput-over-time plot, never empty however short the run. `count` runs
/// on that thread only.
class sampler {
public:
  explicit sampler(std::function<uint64_t()> count)
    : t0_(clock::now()), thread_([this, count = std::move(count)] {
        std::unique_lock<std::mutex> guard{mx_};
        for (;;) {
          bool last = stop_;
          guard.unlock();
          auto n = count();
          points_.emplace_back(seconds_since(t0_), n);
          guard.lock();
          if (last)
            return;
          stopped_.wait_for(guard, milliseconds{100}, [this] { return stop_; });
        }
      }) {}

  ~sampler() { stop(); }

  /// Stops sampling after one last sample; returns (seconds, count) pairs.
  const std::vector<std::pair<double, uint64_t>>& stop() {
    {
      std::lock_guard<std::mutex> guard{mx_};
      stop_ = true;
    }
    stopped_.notify_one();
    if (thread_.joinable())
      thread_.join();
    return points_;
  }

private:
  clock::time_point t0_;
  std::mutex mx_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::vector<std::pair<double, uint64_t>> points_;
  std::thread thread_;
};

/// Writes a sampler's series to `<dir>/<name>.csv` ("seconds,count").
void write_series(const std::string& dir, const std::string& name,
                  const std::vector<std::pair<double, uint64_t>>& xs) {
  if (dir.empty())
    return;
  std::ofstream f{fs::path{dir} / (name + ".csv")};
  for (const auto& [t, n] : xs)
    f << t << ',' << n << '\n';
}

// -- marquee, in this process -------------------------------------------------

/// What the bench reads of `admin ... stats`.
struct stats {
  uint64_t play = 0;
  uint64_t impression = 0;
  uint64_t dead_letters = 0;
  uint64_t applied = 0;
  /// The stream sequence of the last committed checkpoint.
  uint64_t checkpoint = 0;
  uint64_t live_users = 0;
  uint64_t passivated = 0;
};

/// Asks marquee (subject prefix `prefix`) for its stats on `conn`.
std::optional<stats> read_stats(load::connection& conn,
                                simdjson::dom::parser& parser,
                                const std::string& prefix, std::string& error) {
  std::string body;
  if (!conn.request(prefix + ".v1.admin.all.stats", "{}", milliseconds{5000},
                    body, error))
    return std::nullopt;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) {
    error = "unreadable stats: " + body.substr(0, 200);
    return std::nullopt;
  }
  stats s;
  auto number = [&](const char* pointer) -> uint64_t {
    uint64_t v = 0;
    return doc.at_pointer(pointer).get(v) == simdjson::SUCCESS ? v : 0;
  };
  s.play = number("/events/play");
  s.impression = number("/events/impression");
  s.applied = number("/ingest/applied");
  s.checkpoint = number("/ingest/checkpoint");
  s.live_users = number("/actors/user");
  s.passivated = number("/store/passivated");
  simdjson::dom::object dlq;
  if (doc["dlq"].get(dlq) == simdjson::SUCCESS)
    for (auto field : dlq) {
      uint64_t v = 0;
      if (field.value.get(v) == simdjson::SUCCESS)
        s.dead_letters += v;
    }
  return s;
}

class bench_run {
public:
  explicit bench_run(const bench_options& opts) : opts_(opts) {}

  ~bench_run() {
    stop_marquee();
    if (server_)
      server_->stop();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  bool start(std::string& error) {
    char tmpl[] = "/tmp/marquee-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      error = "cannot create a temporary directory in /tmp";
      return false;
    }
    dir_ = tmpl;
    nats_server_options so;
    so.executable = opts_.service.get("nats.server");
    so.store_dir = (dir_ / "nats").string();
    so.log_file = (dir_ / "nats-server.log").string();
    server_ = nats_server_process::start(so, error);
    if (!server_)
      return false;
    admin_ = load::connection::open(url(), true, error);
    return admin_ != nullptr;
  }

  const std::string& url() const { return server_->url(); }
  load::connection& admin() { return *admin_; }
  std::string prefix() const { return opts_.service.get("service.prefix"); }

  /// Starts marquee on a fresh data directory and an empty stream, with
  /// `extra` configuration (key, value).
  bool start_marquee(
    const std::string& mode, std::string& error,
    const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    stop_marquee();
    auto stream = opts_.service.get("stream.name");
    if (!admin_->delete_stream(stream, error) ||
        !admin_->delete_stream(stream + "_DLQ", error))
      return false;
    cfg_ = opts_.service;
    auto data = dir_ / ("marquee-" + std::to_string(++runs_));
    if (!cfg_.set("nats.url", url(), error) ||
        !cfg_.set("nats.secure", "false", error) ||
        !cfg_.set("service.data_dir", data.string(), error) ||
        !cfg_.set("ingest.mode", mode, error))
      return false;
    for (const auto& [k, v] : extra)
      if (!cfg_.set(k, v, error))
        return false;
    return restart_marquee(error);
  }

  /// Stops marquee and starts it again on the same data and stream.
  bool restart_marquee(std::string& error) {
    stop_marquee();
    svc_ = service::start(cfg_, error);
    if (!svc_) {
      error = "cannot start marquee: " + error;
      return false;
    }
    return true;
  }

  void stop_marquee() {
    if (svc_)
      svc_->stop();
    svc_.reset();
  }

  std::optional<stats> read_stats(std::string& error) {
    return marquee::read_stats(*admin_, parser_, prefix(), error);
  }

  /// Polls stats until `done` holds; fails after `patience`.
  bool wait_stats(const std::function<bool(const stats&)>& done,
                  milliseconds every, std::string& error) {
    auto deadline = clock::now() + patience;
    while (clock::now() < deadline) {
      auto s = read_stats(error);
      if (!s)
        return false;
      if (s->dead_letters > 0) {
        error = "marquee dead-lettered " + std::to_string(s->dead_letters) +
                " of the bench's events (see its log)";
        return false;
      }
      if (done(*s))
        return true;
      std::this_thread::sleep_for(every);
    }
    error = "marquee did not apply the events within " +
            std::to_string(patience.count() / 1000) + " s";
    return false;
  }

  std::vector<row>& rows() { return rows_; }

private:
  const bench_options& opts_;
  fs::path dir_;
  std::unique_ptr<nats_server_process> server_;
  std::unique_ptr<load::connection> admin_;
  std::unique_ptr<service> svc_;
  config cfg_;
  simdjson::dom::parser parser_;
  int runs_ = 0;
  std::vector<row> rows_;
};

// -- ingest -------------------------------------------------------------------

struct prepared {
  std::vector<std::string> tails;
  std::vector<std::string> bodies;
};

prepared prepare_events(const bench_options& o, const std::string& kind) {
  workload w{o.ingest_users, o.ingest_titles, o.seed};
  prepared p;
  p.tails.resize(o.ingest_events);
  p.bodies.resize(o.ingest_events);
  auto t0 = wall_ms() - day_ms;
  for (uint64_t i = 0; i < o.ingest_events; ++i)
    w.event(kind, w.user(), t0 + static_cast<int64_t>(i), p.tails[i],
            p.bodies[i]);
  return p;
}

/// Publishes every event of `p` under `base`: to the stream, all
/// acknowledged (durable), or as core messages, all flushed.
bool send_all(load::connection& pub, const std::string& base, const prepared& p,
              bool durable, std::string& error) {
  for (size_t i = 0; i < p.tails.size(); ++i) {
    bool ok = durable ? pub.js_publish(base + p.tails[i], p.bodies[i], error)
                      : pub.publish(base + p.tails[i], p.bodies[i], error);
    if (!ok)
      return false;
  }
  return durable ? pub.js_complete(patience, error)
                 : pub.flush(milliseconds{60'000}, error);
}

/// Events per second through core publish → subscribe, or JetStream
/// publish → pull consumer.
std::optional<double> raw_ingest(bench_run& run, const prepared& p,
                                 bool durable, const std::string& series,
                                 const std::string& out_dir,
                                 std::string& error) {
  auto pub = load::connection::open(run.url(), false, error);
  if (!pub)
    return std::nullopt;
  const std::string base = "bench.raw.";
  const std::string stream = "BENCH_RAW";
  std::unique_ptr<load::receiver> rx;
  if (durable) {
    if (!run.admin().reset_stream(stream, {base + ">"}, error))
      return std::nullopt;
    rx = load::pull_reader::start(run.url(), stream, 512, error);
  } else {
    rx = load::counter::start(run.url(), base + ">", error);
  }
  if (!rx)
    return std::nullopt;
  const uint64_t n = p.tails.size();
  auto t0 = clock::now();
  sampler samples{[&] { return rx->count(); }};
  if (!send_all(*pub, base, p, durable, error))
    return std::nullopt;
  bool all = rx->wait_for(n, t0 + patience);
  double rate = n / seconds_since(t0);
  write_series(out_dir, series, samples.stop());
  auto count = rx->count();
  auto why = rx->shortfall();
  rx.reset();
  if (durable)
    run.admin().delete_stream(stream, error);
  if (!all) {
    error = "the raw receiver got " + std::to_string(count) + " of " +
            std::to_string(n) + " messages" + (why.empty() ? "" : ": " + why);
    return std::nullopt;
  }
  return rate;
}

/// Events per second from the first publish until marquee applied the
/// last (durable: `ingest.applied`; core: every event accepted by kind).
std::optional<double> marquee_ingest(bench_run& run, const prepared& p,
                                     const std::string& kind, bool durable,
                                     const std::string& series,
                                     const std::string& out_dir,
                                     std::string& error) {
  if (!run.start_marquee(durable ? "durable" : "core", error))
    return std::nullopt;
  auto pub = load::connection::open(run.url(), false, error);
  // The sampler asks on a connection of its own.
  auto probe = load::connection::open(run.url(), false, error);
  if (!pub || !probe)
    return std::nullopt;
  auto applied = [&](const stats& s) {
    return durable ? s.applied : kind == "play" ? s.play : s.impression;
  };
  const uint64_t n = p.tails.size();
  simdjson::dom::parser parser;
  auto t0 = clock::now();
  sampler samples{[&]() -> uint64_t {
    std::string why;
    auto s = read_stats(*probe, parser, run.prefix(), why);
    return s ? applied(*s) : 0;
  }};
  if (!send_all(*pub, run.prefix() + ".v1.events.", p, durable, error) ||
      !run.wait_stats([&](const stats& s) { return applied(s) >= n; },
                      milliseconds{5}, error))
    return std::nullopt;
  double rate = n / seconds_since(t0);
  write_series(out_dir, series, samples.stop());
  run.stop_marquee();
  return rate;
}

bool scenario_ingest(bench_run& run, const bench_options& o, std::ostream& log,
                     std::string& error) {
  struct target {
    const char* kind;
    bool durable;
    double at_least;
  };
  const target runs[] = {{"play", true, 0.75},
                         {"impression", true, 0.9},
                         {"play", false, 0.5},
                         {"impression", false, 0}};
  for (const auto& t : runs) {
    auto p = prepare_events(o, t.kind);
    std::string what =
      std::string{t.kind} + "s, " + (t.durable ? "durable" : "core") + " (" +
      with_commas(static_cast<double>(o.ingest_events)) + " events)";
    log << "bench: ingest of " << what << ": marquee\n";
    auto series = std::string{t.kind} + "s_" +
                  (t.durable ? "durable" : "core") + "_over_time";
    auto m =
      marquee_ingest(run, p, t.kind, t.durable, series, o.out_dir, error);
    if (!m)
      return false;
    log << "bench: ingest of " << what << ": raw\n";
    auto r = raw_ingest(run, p, t.durable, "raw_" + series, o.out_dir, error);
    if (!r)
      return false;
    run.rows().push_back(rate_row(std::string{t.kind} + "s applied, " +
                                    (t.durable ? "durable" : "core") +
                                    " (ev/s)",
                                  *m, *r, t.at_least, ""));
  }
  return true;
}

// -- query and freshness ------------------------------------------------------

/// Latencies (µs) and the rate of `clients` clients asking in a loop for
/// `seconds`; each client has its own connection.
struct load_result {
  std::vector<uint32_t> latencies; // of the answers that were not errors
  double rate = 0;                 // answers that were not errors, per second
  size_t reply_bytes = 0;          // median
  uint64_t errors = 0;             // error replies (429 past the budget, …)
  std::string first_error;
  std::string failure; // no reply at all: the run failed
};

load_result ask_in_loop(const std::string& url, uint32_t clients,
                        double seconds, uint64_t seed,
                        const std::function<std::string(workload&)>& subject,
                        const std::string& body) {
  load_result out;
  std::vector<std::vector<uint32_t>> lat(clients);
  std::vector<std::vector<uint32_t>> sizes(clients);
  std::vector<std::string> failures(clients);
  std::vector<uint64_t> errors(clients);
  std::vector<std::string> first_errors(clients);
  std::vector<std::unique_ptr<load::connection>> conns;
  for (uint32_t c = 0; c < clients; ++c) {
    std::string error;
    auto conn = load::connection::open(url, true, error);
    if (!conn) {
      out.failure = error;
      return out;
    }
    conns.push_back(std::move(conn));
  }
  auto t0 = clock::now();
  auto deadline =
    t0 + std::chrono::duration_cast<clock::duration>(duration<double>(seconds));
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      workload w{1, 1, seed + c};
      std::string reply;
      std::string error;
      while (clock::now() < deadline) {
        auto s = subject(w);
        auto a = clock::now();
        bool refused = false;
        if (!conns[c]->request(s, body, milliseconds{5000}, reply, error,
                               &refused)) {
          if (!refused) {
            failures[c] = error;
            return;
          }
          if (errors[c]++ == 0)
            first_errors[c] = error;
          continue;
        }
        lat[c].push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(clock::now() -
                                                                a)
            .count()));
        sizes[c].push_back(static_cast<uint32_t>(reply.size()));
      }
    });
  for (auto& t : threads)
    t.join();
  double elapsed = seconds_since(t0);
  std::vector<uint32_t> all_sizes;
  for (uint32_t c = 0; c < clients; ++c) {
    if (!failures[c].empty() && out.failure.empty())
      out.failure = failures[c];
    out.errors += errors[c];
    if (out.first_error.empty())
      out.first_error = first_errors[c];
    out.latencies.insert(out.latencies.end(), lat[c].begin(), lat[c].end());
    all_sizes.insert(all_sizes.end(), sizes[c].begin(), sizes[c].end());
  }
  out.rate = out.latencies.size() / elapsed;
  out.reply_bytes = percentile(all_sizes, 0.5);
  return out;
}

/// Publishes plays and impressions to the stream at `rate` per second on
/// a thread of its own until destroyed.
class background_ingest {
public:
  background_ingest(const std::string& url, const std::string& base,
                    const bench_options& o, double rate, std::string& error)
    : conn_(load::connection::open(url, false, error)) {
    if (!conn_)
      return;
    thread_ = std::thread{[this, base, &o, rate] {
      workload w{o.users, o.titles, o.seed + 1000};
      std::string tail;
      std::string body;
      auto t0 = clock::now();
      uint64_t sent = 0;
      while (!stop_.load()) {
        auto due = static_cast<uint64_t>(rate * seconds_since(t0));
        for (; sent < due && !stop_.load(); ++sent) {
          w.event(w.mixed_kind(), w.user(), wall_ms(), tail, body);
          std::string e;
          if (!conn_->js_publish(base + tail, body, e)) {
            set_failure(e);
            return;
          }
        }
        std::this_thread::sleep_for(milliseconds{1});
      }
      sent_ = sent;
    }};
  }

  ~background_ingest() { stop(); }

  bool ok() const { return conn_ != nullptr; }

  /// Stops publishing; returns the events sent.
  uint64_t stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    return sent_;
  }

  std::string failure() {
    std::lock_guard<std::mutex> guard{mtx_};
    return failure_;
  }

private:
  void set_failure(const std::string& e) {
    std::lock_guard<std::mutex> guard{mtx_};
    failure_ = e;
  }

  std::unique_ptr<load::connection> conn_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  uint64_t sent_ = 0;
  std::mutex mtx_;
  std::string failure_;
};

/// `ask_in_loop` with `clients` clients while `rate` events per second go
/// to the stream under `base` (subjects `<base><kind>.<user>`).
std::optional<load_result>
ask_while_ingesting(bench_run& run, const bench_options& o,
                    const std::string& base, double rate,
                    const std::function<std::string(workload&)>& subject,
                    const std::string& body, std::string& error) {
  background_ingest bg{run.url(), base, o, rate, error};
  if (!bg.ok())
    return std::nullopt;
  auto out =
    ask_in_loop(run.url(), o.clients, o.seconds, o.seed, subject, body);
  bg.stop();
  if (auto f = bg.failure(); !f.empty()) {
    error = f;
    return std::nullopt;
  }
  return out;
}

/// Catalog, then `preload` plays and impressions spread over the week
/// before now; returns the events per second until all were applied.
std::optional<double> preload(bench_run& run, const bench_options& o,
                              std::ostream& log, std::string& error) {
  if (!run.start_marquee("durable", error))
    return std::nullopt;
  auto pub = load::connection::open(run.url(), false, error);
  if (!pub)
    return std::nullopt;
  const std::string base = run.prefix() + ".v1.";
  for (uint32_t t = 0; t < o.titles; ++t)
    if (!pub->js_publish(base + "catalog.t" + std::to_string(t),
                         catalog_body(t), error))
      return std::nullopt;
  workload w{o.users, o.titles, o.seed};
  std::string tail;
  std::string body;
  auto start_ms = wall_ms() - 7 * day_ms;
  auto t0 = clock::now();
  uint64_t step = std::max<uint64_t>(o.preload / 10, 1);
  for (uint64_t i = 0; i < o.preload; ++i) {
    // Every user has events, then the rest at random.
    uint32_t user = i < o.users ? static_cast<uint32_t>(i) : w.user();
    auto ts = start_ms + static_cast<int64_t>(static_cast<double>(i) /
                                              o.preload * 7 * day_ms);
    w.event(w.mixed_kind(), user, ts, tail, body);
    if (!pub->js_publish(base + "events." + tail, body, error))
      return std::nullopt;
    if ((i + 1) % step == 0)
      log << "bench: preload: " << with_commas(static_cast<double>(i + 1))
          << " events published\n";
  }
  if (!pub->js_complete(patience, error))
    return std::nullopt;
  uint64_t last = o.titles + o.preload;
  if (!run.wait_stats([&](const stats& s) { return s.applied >= last; },
                      milliseconds{50}, error))
    return std::nullopt;
  return o.preload / seconds_since(t0);
}

bool scenario_query(bench_run& run, const bench_options& o, double ingest_rate,
                    std::ostream& log, std::string& error) {
  const std::string rec = run.prefix() + ".v1.rec.user.u";
  auto marquee_subject = [&](workload& w) {
    return rec + std::to_string(w.pick(o.users));
  };
  const std::string body = "{\"k\":20}";
  // Warm up: every code path and connection once.
  auto warm = ask_in_loop(run.url(), 1, 1, o.seed, marquee_subject, body);
  if (!warm.failure.empty()) {
    error = warm.failure;
    return false;
  }
  log << "bench: rec.user, 1 client: marquee\n";
  auto m1 = ask_in_loop(run.url(), 1, o.seconds, o.seed, marquee_subject, body);
  log << "bench: rec.user, " << o.clients << " clients: marquee\n";
  auto mn =
    ask_in_loop(run.url(), o.clients, o.seconds, o.seed, marquee_subject, body);
  log << "bench: rec.user, " << o.clients << " clients, ingesting "
      << with_commas(ingest_rate) << " ev/s: marquee\n";
  auto mi = ask_while_ingesting(run, o, run.prefix() + ".v1.events.",
                                ingest_rate, marquee_subject, body, error);
  if (!mi)
    return false;
  for (const auto* r : {&m1, &mn, &*mi}) {
    if (!r->failure.empty()) {
      error = "marquee: " + r->failure;
      return false;
    }
    if (r->errors > 0)
      log << "bench: " << r->errors
          << " error replies, the first: " << r->first_error << "\n";
  }
  // The baseline answers with as many bytes as marquee's median reply.
  auto responder = load::responder::start(
    run.url(), "bench.rr", std::string(m1.reply_bytes, 'x'), error);
  if (!responder)
    return false;
  auto raw_subject = [](workload&) { return std::string{"bench.rr"}; };
  log << "bench: request/reply, 1 client: raw\n";
  auto r1 = ask_in_loop(run.url(), 1, o.seconds, o.seed, raw_subject, body);
  log << "bench: request/reply, " << o.clients << " clients: raw\n";
  auto rn =
    ask_in_loop(run.url(), o.clients, o.seconds, o.seed, raw_subject, body);
  // The same stream traffic beside the baseline, into a stream of its own.
  log << "bench: request/reply, " << o.clients << " clients, "
      << with_commas(ingest_rate) << " ev/s into a stream: raw\n";
  if (!run.admin().reset_stream("BENCH_BG", {"bench.bg.>"}, error))
    return false;
  auto ri = ask_while_ingesting(run, o, "bench.bg.", ingest_rate, raw_subject,
                                body, error);
  run.admin().delete_stream("BENCH_BG", error);
  if (!ri)
    return false;
  for (const auto* r : {&r1, &rn, &*ri})
    if (!r->failure.empty()) {
      error = "raw request/reply: " + r->failure;
      return false;
    }
  write_samples(o.out_dir, "rec_user_1", m1.latencies);
  write_samples(o.out_dir, "raw_rr_1", r1.latencies);
  write_samples(o.out_dir, "rec_user_n", mn.latencies);
  write_samples(o.out_dir, "raw_rr_n", rn.latencies);
  write_samples(o.out_dir, "rec_user_n_ingesting", mi->latencies);
  write_samples(o.out_dir, "raw_rr_n_ingesting", ri->latencies);

  auto m50 = percentile(m1.latencies, 0.5);
  auto r50 = percentile(r1.latencies, 0.5);
  auto m99 = percentile(m1.latencies, 0.99);
  auto r99 = percentile(r1.latencies, 0.99);
  auto& rows = run.rows();
  auto delta = static_cast<double>(m50) - static_cast<double>(r50);
  rows.push_back({"rec.user p50, 1 client (us)", with_commas(m50),
                  with_commas(r50),
                  (delta >= 0 ? "+" : "") + with_commas(delta) + " us",
                  "<= raw + 100 us", delta <= 100 ? "met" : "missed"});
  rows.push_back({"rec.user p99, 1 client (us)", with_commas(m99),
                  with_commas(r99),
                  fixed(static_cast<double>(m99) / r99, 2) + "x", "<= 3x",
                  m99 <= 3.0 * r99 ? "met" : "missed"});
  auto n = std::to_string(o.clients);
  rows.push_back(
    rate_row("rec.user, " + n + " clients (req/s)", mn.rate, rn.rate, 0.5, ""));
  rows.push_back(rate_row("rec.user, " + n + " clients, ingesting (req/s)",
                          mi->rate, ri->rate, 0.5, ""));
  auto mn99 = percentile(mn.latencies, 0.99);
  auto mi99 = percentile(mi->latencies, 0.99);
  auto rn99 = percentile(rn.latencies, 0.99);
  auto ri99 = percentile(ri->latencies, 0.99);
  rows.push_back({"rec.user p99, " + n + " clients (us)", with_commas(mn99),
                  with_commas(rn99),
                  fixed(static_cast<double>(mn99) / rn99, 2) + "x", "", ""});
  rows.push_back({"rec.user p99, " + n + " clients, ingesting (us)",
                  with_commas(mi99), with_commas(ri99),
                  fixed(static_cast<double>(mi99) / ri99, 2) + "x", "", ""});
  // Error replies are answers (the contract's 429 past the time budget)
  // but not recommendations: counted apart, never in the rates above.
  rows.push_back(
    {"rec.user error replies: 1 client / " + n + " / " + n + " ingesting",
     std::to_string(m1.errors) + " / " + std::to_string(mn.errors) + " / " +
       std::to_string(mi->errors),
     std::to_string(r1.errors) + " / " + std::to_string(rn.errors) + " / " +
       std::to_string(ri->errors),
     "", "", ""});
  return true;
}

/// Event to effect: a play published to the stream, then `rec.user` with
/// `after` = its sequence; the time from the publish to the answer. The
/// raw figure is the same pair of round trips without marquee: the stream
/// publish, then a request to the trivial responder.
bool scenario_freshness(bench_run& run, const bench_options& o,
                        double ingest_rate, std::ostream& log,
                        std::string& error) {
  auto probe = load::connection::open(run.url(), true, error);
  if (!probe)
    return false;
  auto responder = load::responder::start(run.url(), "bench.rr", "{}", error);
  if (!responder ||
      !run.admin().reset_stream("BENCH_FRESH", {"bench.fresh"}, error))
    return false;
  log << "bench: freshness while ingesting " << with_commas(ingest_rate)
      << " ev/s\n";
  background_ingest bg{run.url(), run.prefix() + ".v1.events.", o, ingest_rate,
                       error};
  if (!bg.ok())
    return false;
  workload w{o.users, o.titles, o.seed + 2000};
  std::vector<uint32_t> fresh;
  std::vector<uint32_t> raw;
  uint64_t late = 0;
  const std::string base = run.prefix() + ".v1.";
  std::string tail;
  std::string body;
  std::string reply;
  auto micros = [](clock::time_point a) {
    return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - a)
        .count());
  };
  auto t0 = clock::now();
  while (seconds_since(t0) < o.seconds) {
    auto user = w.user();
    w.event("play", user, wall_ms(), tail, body);
    uint64_t seq = 0;
    auto a = clock::now();
    bool refused = false;
    if (!probe->js_publish_sync(base + "events." + tail, body, seq, error))
      return false;
    if (probe->request(base + "rec.user.u" + std::to_string(user),
                       "{\"k\":20,\"after\":" + std::to_string(seq) + "}",
                       milliseconds{5000}, reply, error, &refused))
      fresh.push_back(micros(a));
    else if (refused) {
      ++late; // not applied within the time budget: a 503
      error.clear();
    } else
      return false;
    a = clock::now();
    if (!probe->js_publish_sync("bench.fresh", body, seq, error) ||
        !probe->request("bench.rr", "{}", milliseconds{5000}, reply, error))
      return false;
    raw.push_back(micros(a));
    std::this_thread::sleep_for(milliseconds{10});
  }
  bg.stop();
  if (auto f = bg.failure(); !f.empty()) {
    error = f;
    return false;
  }
  run.admin().delete_stream("BENCH_FRESH", error);
  write_samples(o.out_dir, "freshness", fresh);
  write_samples(o.out_dir, "raw_freshness", raw);
  auto f50 = percentile(fresh, 0.5);
  auto f99 = percentile(fresh, 0.99);
  auto r50 = percentile(raw, 0.5);
  auto r99 = percentile(raw, 0.99);
  run.rows().push_back(
    {"freshness p50 (us)", with_commas(f50), with_commas(r50),
     fixed(static_cast<double>(f50) / r50, 2) + "x", "", ""});
  run.rows().push_back({"freshness p99 (us)", with_commas(f99),
                        with_commas(r99),
                        fixed(static_cast<double>(f99) / r99, 2) + "x",
                        "<= 5,000 us", f99 <= 5000 ? "met" : "missed"});
  run.rows().push_back(
    {"freshness probes not applied within the budget",
     std::to_string(late) + " of " + std::to_string(late + fresh.size()), "",
     "", "", ""});
  return true;
}

// -- memory and recovery ------------------------------------------------------

/// The resident set of this process after handing freed memory back to the
/// system, so that earlier runs' freed heap does not hide new allocations:
/// the process's own (anonymous) memory, and the file pages it maps, i.e.
/// LMDB's database (page cache: shared with the kernel's cache of the file,
/// and reclaimed under memory pressure).
struct resident {
  double anon = 0;
  double file = 0;
};

resident settled_resident() {
  ::malloc_trim(0);
  std::ifstream f{"/proc/self/status"};
  std::string line;
  resident r;
  auto kib = [&line] { return std::stod(line.substr(8)) * 1024; };
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) == 0)
      r.anon = kib();
    else if (line.rfind("RssFile:", 0) == 0)
      r.file = kib();
  }
  return r;
}

/// Publishes to the stream; `make(i, tail, body)` writes event i.
bool publish_all(
  bench_run& run, uint64_t n,
  const std::function<void(uint64_t, std::string&, std::string&)>& make,
  std::string& error) {
  auto pub = load::connection::open(run.url(), false, error);
  if (!pub)
    return false;
  const std::string base = run.prefix() + ".v1.";
  std::string tail;
  std::string body;
  for (uint64_t i = 0; i < n; ++i) {
    make(i, tail, body);
    if (!pub->js_publish(base + tail, body, error))
      return false;
  }
  return pub->js_complete(patience, error);
}

bool wait_applied(bench_run& run, uint64_t sequence, std::string& error) {
  return run.wait_stats([&](const stats& s) { return s.applied >= sequence; },
                        milliseconds{20}, error);
}

/// Waits until a checkpoint covers `sequence` (so every event up to it is
/// applied too): memory is measured at rest, not while a checkpoint holds
/// its encoded values.
bool wait_checkpointed(bench_run& run, uint64_t sequence, std::string& error) {
  return run.wait_stats(
    [&](const stats& s) { return s.checkpoint >= sequence; }, milliseconds{20},
    error);
}

bool scenario_memory(bench_run& run, const bench_options& o, std::ostream& log,
                     std::string& error) {
  if (!run.start_marquee("durable", error))
    return false;
  auto rss0 = settled_resident();
  log << "bench: memory: " << with_commas(o.memory_titles)
      << " catalog entries\n";
  uint64_t seq = o.memory_titles;
  if (!publish_all(
        run, o.memory_titles,
        [](uint64_t i, std::string& tail, std::string& body) {
          tail = "catalog.t" + std::to_string(i);
          body = catalog_body(static_cast<uint32_t>(i));
        },
        error) ||
      !wait_checkpointed(run, seq, error))
    return false;
  auto rss_catalog = settled_resident();
  // Every title shown once (one user): each gets its actor, so that the
  // users below are measured without the actors of the titles they play
  // (ADR 30: a title with a catalog entry alone has none). An impression,
  // not a play: no co-play pairs, no trending state.
  log << "bench: memory: " << with_commas(o.memory_titles)
      << " titles shown once\n";
  auto warm_ms = wall_ms() - 2 * day_ms;
  if (!publish_all(
        run, o.memory_titles,
        [&](uint64_t i, std::string& tail, std::string& body) {
          tail = "events.impression.w0";
          body = "{\"title\":\"t" + std::to_string(i) + "\",\"ts\":" +
                 std::to_string(warm_ms + static_cast<int64_t>(i)) + "}";
        },
        error))
    return false;
  seq += o.memory_titles;
  if (!wait_checkpointed(run, seq, error))
    return false;
  auto rss1 = settled_resident();
  // Each user: 20 plays, then impressions of 50 distinct titles.
  log << "bench: memory: " << with_commas(o.memory_users)
      << " users with 20 plays and 50 impressed titles each\n";
  workload w{o.memory_users, o.memory_titles, o.seed};
  auto start_ms = wall_ms() - day_ms;
  std::vector<uint32_t> shown;
  if (!publish_all(
        run, uint64_t{o.memory_users} * 70,
        [&](uint64_t i, std::string& tail, std::string& body) {
          auto user = static_cast<uint32_t>(i / 70);
          auto nth = i % 70;
          auto ts = start_ms + static_cast<int64_t>(i);
          if (nth < 20) {
            w.event("play", user, ts, tail, body);
            tail.insert(0, "events.");
            return;
          }
          if (nth == 20)
            shown.clear();
          // A title not shown to this user yet.
          auto title = w.title();
          while (std::find(shown.begin(), shown.end(), title) != shown.end())
            title = w.title();
          shown.push_back(title);
          w.event("impression", user, title, ts, tail, body);
          tail.insert(0, "events.");
        },
        error))
    return false;
  seq += uint64_t{o.memory_users} * 70;
  if (!wait_checkpointed(run, seq, error))
    return false;
  auto rss2 = settled_resident();
  auto per_title = (rss_catalog.anon - rss0.anon) / o.memory_titles;
  auto per_played = (rss1.anon - rss_catalog.anon) / o.memory_titles;
  auto per_user = (rss2.anon - rss1.anon) / o.memory_users;
  // A resident set that shrank says the profile is too small to measure
  // against the process's own noise (the quick one's 5,000 titles), not
  // that the target is met.
  auto verdict = [](double x, double target) {
    return x < 0 ? "too small to measure" : x <= target ? "met" : "missed";
  };
  run.rows().push_back({"memory per title, catalog entry (bytes)",
                        with_commas(per_title), "", "", "<= 1,024",
                        verdict(per_title, 1024)});
  run.rows().push_back(
    {"memory per title with an actor (one impression), beyond its entry "
     "(bytes)",
     with_commas(per_played), "", "", "", ""});
  run.rows().push_back({"memory per live user, 20 plays + 50 titles (bytes)",
                        with_commas(per_user), "", "", "<= 5,120",
                        verdict(per_user, 5120)});
  run.rows().push_back(
    {"LMDB pages mapped per user (bytes; page cache, not counted above)",
     with_commas((rss2.file - rss1.file) / o.memory_users), "", "", "", ""});
  // Users passing through: one play each, with the shipped passivation.
  if (!run.start_marquee("durable", error))
    return false;
  log << "bench: memory: " << with_commas(static_cast<double>(o.passing_users))
      << " distinct users passing through\n";
  auto rss3 = settled_resident();
  workload p{1, o.titles, o.seed + 3000};
  if (!publish_all(
        run, o.passing_users,
        [&](uint64_t i, std::string& tail, std::string& body) {
          p.event("play", 0, start_ms + static_cast<int64_t>(i), tail, body);
          tail = "events.play.p" + std::to_string(i);
        },
        error) ||
      !wait_applied(run, o.passing_users, error))
    return false;
  auto s = run.read_stats(error);
  if (!s)
    return false;
  auto rss4 = settled_resident();
  run.rows().push_back(
    {"memory growth, " + with_commas(static_cast<double>(o.passing_users)) +
       " users passing (MB; " +
       with_commas(static_cast<double>(s->live_users)) + " live, " +
       with_commas(static_cast<double>(s->passivated)) + " passivated)",
     with_commas((rss4.anon - rss3.anon) / 1e6), "", "", "", ""});
  run.stop_marquee();
  return true;
}

bool scenario_recovery(bench_run& run, const bench_options& o,
                       std::ostream& log, std::string& error) {
  if (!run.start_marquee("durable", error))
    return false;
  auto users = o.recovery_users;
  log << "bench: recovery: " << with_commas(users)
      << " users, one play each, then a checkpoint\n";
  workload w{users, o.titles, o.seed + 4000};
  auto start_ms = wall_ms() - day_ms;
  if (!publish_all(
        run, users,
        [&](uint64_t i, std::string& tail, std::string& body) {
          w.event("play", static_cast<uint32_t>(i),
                  start_ms + static_cast<int64_t>(i), tail, body);
          tail.insert(0, "events.");
        },
        error) ||
      !wait_applied(run, users, error))
    return false;
  std::string reply;
  if (!run.admin().request(run.prefix() + ".v1.admin.all.snapshot", "{}",
                           patience, reply, error))
    return false;
  // Start to serving: until a checkpointed user is answered.
  run.stop_marquee();
  auto ask = load::connection::open(run.url(), true, error);
  if (!ask)
    return false;
  auto t0 = clock::now();
  if (!run.restart_marquee(error))
    return false;
  const std::string subject = run.prefix() + ".v1.rec.user.u0";
  std::string why;
  while (!ask->request(subject, "{\"k\":20}", milliseconds{5000}, reply, why)) {
    if (seconds_since(t0) > 600) {
      error = "not serving 600 s after a start: " + why;
      return false;
    }
    std::this_thread::sleep_for(milliseconds{1});
  }
  double serving = seconds_since(t0);
  run.rows().push_back(
    {"start to serving, " + with_commas(users) + " users checkpointed (s)",
     fixed(serving, 2), "", "", "<= 5", serving <= 5 ? "met" : "missed"});
  // Replay: events stored while marquee was down, read at its next start.
  run.stop_marquee();
  auto n = o.ingest_events;
  log << "bench: recovery: replay of " << with_commas(static_cast<double>(n))
      << " events\n";
  workload r{users, o.titles, o.seed + 5000};
  prepared events;
  for (uint64_t i = 0; i < n; ++i) {
    events.tails.emplace_back();
    events.bodies.emplace_back();
    r.event(r.mixed_kind(), r.user(), wall_ms(), events.tails.back(),
            events.bodies.back());
  }
  auto pub = load::connection::open(run.url(), false, error);
  if (!pub ||
      !send_all(*pub, run.prefix() + ".v1.events.", events, true, error))
    return false;
  t0 = clock::now();
  if (!run.restart_marquee(error) ||
      !wait_applied(run, uint64_t{users} + n, error))
    return false;
  double replay = n / seconds_since(t0);
  run.stop_marquee();
  // The baseline: a pull consumer reading the same events, stored.
  if (!run.admin().reset_stream("BENCH_REPLAY", {"bench.replay.>"}, error) ||
      !send_all(*pub, "bench.replay.", events, true, error))
    return false;
  t0 = clock::now();
  auto reader = load::pull_reader::start(run.url(), "BENCH_REPLAY", 512, error);
  if (!reader)
    return false;
  bool all = reader->wait_for(n, t0 + patience);
  double raw = n / seconds_since(t0);
  auto shortfall = reader->shortfall();
  reader.reset();
  run.admin().delete_stream("BENCH_REPLAY", error);
  if (!all) {
    error = "the raw pull consumer did not read the stored events" +
            (shortfall.empty() ? "" : ": " + shortfall);
    return false;
  }
  run.rows().push_back(
    rate_row("replay after a start (ev/s)", replay, raw, 0.5, ""));
  return true;
}

} // namespace

const std::vector<std::string>& bench_scenarios() {
  static const std::vector<std::string> names{"ingest", "query", "freshness",
                                              "memory", "recovery"};
  return names;
}

bool run_bench(const bench_options& opts, std::ostream& out, std::ostream& log,
               std::string& error) {
  auto wanted = [&](const char* name) {
    return opts.scenarios.empty() ||
           std::find(opts.scenarios.begin(), opts.scenarios.end(), name) !=
             opts.scenarios.end();
  };
  if (!opts.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(opts.out_dir, ec);
    if (ec) {
      error = "cannot create " + opts.out_dir + ": " + ec.message();
      return false;
    }
  }
  bench_run run{opts};
  bool ok = run.start(error);
  if (ok && wanted("ingest"))
    ok = scenario_ingest(run, opts, log, error);
  if (ok && (wanted("query") || wanted("freshness"))) {
    log << "bench: preloading " << with_commas(opts.users) << " users, "
        << with_commas(opts.titles) << " titles, "
        << with_commas(static_cast<double>(opts.preload)) << " events\n";
    auto rate = preload(run, opts, log, error);
    ok = rate.has_value();
    if (ok) {
      log << "bench: preload applied at " << with_commas(*rate)
          << " ev/s; the runs below ingest at half that\n";
      run.rows().push_back(
        {"preload, durable, mixed (ev/s)", with_commas(*rate), "", "", "", ""});
      if (wanted("query"))
        ok = scenario_query(run, opts, *rate / 2, log, error);
      if (ok && wanted("freshness"))
        ok = scenario_freshness(run, opts, *rate / 2, log, error);
    }
  }
  if (ok && wanted("memory"))
    ok = scenario_memory(run, opts, log, error);
  if (ok && wanted("recovery"))
    ok = scenario_recovery(run, opts, log, error);
  print_table(run.rows(), out);
  return ok;
}

} // namespace marquee
