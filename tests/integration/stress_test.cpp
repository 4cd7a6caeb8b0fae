// A MovieLens-shaped client against `marquee serve` while every thread of
// the service is busy at once: the client pattern of the heap-corruption
// crash of issue 10 (docs/testing.md). Each rating is published as a play;
// before each sampled query the client publishes a marker impression of an
// uncatalogued title, polls `P.v1.impressions.<user>` until it is counted,
// then asks `P.v1.rec.user.<user>` with `at`. Several clients do this at
// once on disjoint users while frequent checkpoints (the writer thread) and
// a small live budget (passivation, users restored from LMDB on NATS
// callback threads) run under them. The service must answer every request,
// count every marker exactly once, and stop with exit 0 on SIGTERM; run
// under the sanitizers (scripts/sanitize.sh) this is the race hunt.
//
// A second test asks for admin stats while the service starts and stops
// over and over: the stats read the edge's subscriptions while `start` is
// still adding them (a data race found by TSan, see docs/testing.md).
//
// Sized by the environment, so that a long hunt is one command away and
// never silently smaller (defaults in `stress_params`):
//   MARQUEE_STRESS_RATINGS=<u.data>  ratings (catalog from u.item beside
//                                    it); default: synthetic ones
//   MARQUEE_STRESS_EVENTS=<n>        ratings replayed
//   MARQUEE_STRESS_CLIENTS=<n>       concurrent clients
//   MARQUEE_STRESS_QUERY_EVERY=<n>   a query every n-th rating of a client

#include "harness.hpp"

#include "bootstrap/nats_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/ratings.hpp"
#include "wire/nats_client.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace marquee;
using namespace marquee::testing;

namespace {

using std::chrono::milliseconds;

/// Every tunable of the run, in one place.
struct stress_params {
  std::string ratings;    // empty: synthetic
  size_t events = 4000;   // ratings replayed
  size_t clients = 3;     // concurrent clients, on disjoint users
  size_t query_every = 8; // a query every n-th rating of a client
  int synthetic_users = 120;
  int synthetic_titles = 60;
  /// Small and frequent checkpoints and a small live budget: the writer
  /// thread and passivation run all along.
  int checkpoint_events = 300;
  int max_live_users = 40;
  /// The time budget of a request (rec.budget_ms): generous, as the box is
  /// overloaded on purpose; past it a request is asked again.
  int budget_ms = 1000;
  milliseconds ready_timeout{30000};
  milliseconds request_timeout{10000};
  /// How long a marker may take to be counted.
  milliseconds marker_timeout{20000};
  milliseconds exit_timeout{30000};
};

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && std::atoi(v) > 0 ? static_cast<size_t>(std::atoi(v))
                                          : fallback;
}

stress_params params_from_env() {
  stress_params p;
  if (const char* r = std::getenv("MARQUEE_STRESS_RATINGS"))
    p.ratings = r;
  p.events = env_size("MARQUEE_STRESS_EVENTS", p.events);
  p.clients = env_size("MARQUEE_STRESS_CLIENTS", p.clients);
  p.query_every = env_size("MARQUEE_STRESS_QUERY_EVERY", p.query_every);
  return p;
}

/// Users rate titles in a pattern (title i, then i+1, ...), so that co-plays
/// and recommendations mean something; one second apart.
std::vector<rating> synthetic_ratings(const stress_params& p) {
  std::vector<rating> out;
  int64_t ts = 880'000'000;
  for (int step = 0; out.size() < p.events; ++step)
    for (int u = 1; u <= p.synthetic_users && out.size() < p.events; ++u)
      out.push_back({std::to_string(u),
                     std::to_string(1 + (u * 7 + step) % p.synthetic_titles), 4,
                     ts++});
  return out;
}

/// A reply, or why there was none.
struct answer {
  std::optional<nats_message> msg;
  std::string error;
  rapidjson::Document json;

  bool ok() const {
    return msg && msg->header("Nats-Service-Error-Code").empty() &&
           !json.HasParseError() && json.IsObject();
  }
  std::string describe() const {
    if (!msg)
      return "no reply: " + error;
    return msg->header("Nats-Service-Error-Code") + " " + msg->body;
  }
};

answer ask(nats_client& c, const std::string& subject, const std::string& body,
           milliseconds timeout) {
  answer a;
  a.msg = c.request(subject, body, timeout, a.error);
  if (a.msg)
    a.json.Parse(a.msg->body.c_str());
  return a;
}

/// The count of `title` in an impressions reply, or -1.
int64_t count_of(const answer& a, const std::string& title) {
  if (!a.ok() || !a.json.HasMember("items") || !a.json["items"].IsArray())
    return -1;
  for (const auto& item : a.json["items"].GetArray())
    if (item.HasMember("title") && item["title"].IsString() &&
        title == item["title"].GetString() && item.HasMember("count") &&
        item["count"].IsInt64())
      return item["count"].GetInt64();
  return -1;
}

/// One client: its users' ratings in order, a marker and a query every
/// `query_every` ratings. Records the first failure in `failure`.
struct client_run {
  std::vector<const rating*> ratings;
  size_t queries = 0;
  std::map<std::string, int64_t> markers; // by user
  std::string failure;
};

void run_client(const std::string& url, const stress_params& p, int64_t at,
                client_run& run) {
  std::string error;
  auto client = nats_client::connect(url, error);
  if (!client) {
    run.failure = "cannot connect: " + error;
    return;
  }
  const std::string base = "marquee.v1.";
  const std::string marker = "marker-unlisted";
  for (size_t i = 0; i < run.ratings.size(); ++i) {
    const auto& r = *run.ratings[i];
    auto ts = std::to_string(r.ts_s * 1000);
    if (i % p.query_every == p.query_every - 1) {
      // The marker: once counted, everything published before it for this
      // user has been applied.
      auto n = ++run.markers[r.user];
      if (!client->publish(base + "events.impression." + r.user,
                           R"({"title":")" + marker + R"(","ts":)" + ts + "}",
                           error)) {
        run.failure = "publishing a marker: " + error;
        return;
      }
      auto counted = eventually(
        [&] {
          auto a =
            ask(*client, base + "impressions." + r.user,
                R"({"titles":[")" + marker + R"("]})", p.request_timeout);
          auto c = count_of(a, marker);
          auto code = a.msg ? a.msg->header("Nats-Service-Error-Code") : "";
          if (c > n || (!a.ok() && a.msg && code != "429"))
            run.failure = "impressions." + r.user + " after marker " +
                          std::to_string(n) + ": " + a.describe();
          return c >= n || !run.failure.empty();
        },
        p.marker_timeout, milliseconds{2});
      if (!run.failure.empty())
        return;
      if (!counted) {
        run.failure = "marker " + std::to_string(n) + " of user " + r.user +
                      " was not counted within " +
                      std::to_string(p.marker_timeout.count()) + " ms";
        return;
      }
      // Past its time budget a request is answered 429 (the box is meant
      // to be overloaded here): asked again, as a client would.
      answer rec;
      auto answered = eventually(
        [&] {
          rec = ask(*client, base + "rec.user." + r.user,
                    R"({"k":10,"at":)" + std::to_string(at) + "}",
                    p.request_timeout);
          return !rec.msg ||
                 rec.msg->header("Nats-Service-Error-Code") != "429";
        },
        p.request_timeout, milliseconds{2});
      if (!answered || !rec.ok() || !rec.json.HasMember("items") ||
          !rec.json["items"].IsArray()) {
        run.failure = "rec.user." + r.user + ": " + rec.describe();
        return;
      }
      ++run.queries;
    }
    if (!client->publish(base + "events.play." + r.user,
                         R"({"title":")" + r.title + R"(","ts":)" + ts + "}",
                         error)) {
      run.failure = "publishing a play: " + error;
      return;
    }
  }
  // Every marker of this client's users, counted exactly once.
  for (const auto& [user, n] : run.markers) {
    auto a = ask(*client, base + "impressions." + user,
                 R"({"titles":[")" + marker + R"("]})", p.request_timeout);
    if (count_of(a, marker) != n) {
      run.failure = "user " + user + " has " + a.describe() + ", not " +
                    std::to_string(n) + " markers";
      return;
    }
  }
}

} // namespace

TEST_CASE("MovieLens-shaped clients with marker impressions, checkpoints and "
          "passivation all at once: every request answered, every marker "
          "counted once, a clean stop",
          "[integration][stress]") {
  auto p = params_from_env();
  std::string error;
  std::vector<rating> ratings;
  std::vector<movie> movies;
  if (p.ratings.empty()) {
    ratings = synthetic_ratings(p);
    for (int t = 1; t <= p.synthetic_titles; ++t)
      movies.push_back({std::to_string(t),
                        "Title " + std::to_string(t),
                        {t % 2 ? "Drama" : "Comedy"},
                        1995});
  } else {
    auto loaded = load_ratings(p.ratings, error);
    INFO(error);
    REQUIRE(loaded);
    ratings = std::move(*loaded);
    if (ratings.size() > p.events)
      ratings.resize(p.events);
    if (auto path = movies_beside(p.ratings); !path.empty()) {
      auto m = load_movies(path, error);
      INFO(error);
      REQUIRE(m);
      movies = std::move(*m);
    }
  }
  REQUIRE(!ratings.empty());
  // `at` of every query: after every play, so that no query is refused as
  // earlier than the newest applied play whatever the clients' interleaving.
  int64_t at = 0;
  for (const auto& r : ratings)
    at = std::max(at, r.ts_s * 1000 + 1);

  temp_dir dir{"marquee-stress"};
  nats_server_options sopts;
  sopts.store_dir = (dir.path() / "nats").string();
  auto server = nats_server_process::start(sopts, error);
  INFO(error);
  REQUIRE(server != nullptr);
  child proc{
    {"serve", "--nats-url", server->url(), "--data-dir",
     (dir.path() / "data").string()},
    {"MARQUEE_INGEST_MODE=durable", "MARQUEE_SERVICE_THREADS=2",
     "MARQUEE_SERVICE_LOG_LEVEL=warn",
     "MARQUEE_CHECKPOINT_EVENTS=" + std::to_string(p.checkpoint_events),
     "MARQUEE_PASSIVATION_MAX_USERS=" + std::to_string(p.max_live_users),
     "MARQUEE_REC_BUDGET_MS=" + std::to_string(p.budget_ms)},
    dir.path()};
  auto admin = await_ready(server->url(), p.ready_timeout);
  INFO(proc.err());
  REQUIRE(admin != nullptr);

  // The catalog first, then the clients on disjoint users.
  for (const auto& m : movies) {
    std::string body = R"({"name":"title )" + m.id + R"(","genres":[)";
    for (size_t g = 0; g < m.genres.size(); ++g)
      body += std::string{g ? "," : ""} + "\"" + m.genres[g] + "\"";
    body += "]}";
    REQUIRE(admin->publish("marquee.v1.catalog." + m.id, body, error));
  }
  std::vector<client_run> runs(p.clients);
  std::hash<std::string> hash;
  for (const auto& r : ratings)
    runs[hash(r.user) % p.clients].ratings.push_back(&r);
  std::vector<std::thread> threads;
  for (auto& run : runs)
    threads.emplace_back(
      [&, url = server->url()] { run_client(url, p, at, run); });
  // Meanwhile: snapshots on demand and stats, as an operator would; each
  // snapshot is answered once its checkpoint is committed.
  std::atomic<bool> done{false};
  size_t snapshots = 0;
  std::thread operator_thread{[&] {
    std::string err;
    auto c = nats_client::connect(server->url(), err);
    while (c && !done.load()) {
      if (c->request("marquee.v1.admin.all.snapshot", "", p.request_timeout,
                     err))
        ++snapshots;
      c->request("marquee.v1.admin.all.stats", "", p.request_timeout, err);
    }
  }};
  for (auto& t : threads)
    t.join();
  done.store(true);
  operator_thread.join();

  size_t queries = 0;
  for (const auto& run : runs) {
    INFO(proc.err());
    CHECK(run.failure == "");
    queries += run.queries;
  }
  CHECK(queries > 0);
  CHECK(snapshots > 0);
  admin.reset();
  proc.signal(SIGTERM);
  auto status = proc.wait(p.exit_timeout);
  INFO(proc.err());
  CHECK(status == 0);
  CHECK(proc.err().find("Sanitizer") == std::string::npos);
}

TEST_CASE("admin stats asked while the service starts and stops again and "
          "again are whole documents",
          "[integration][stress][start]") {
  constexpr int restarts = 12;
  harness h;
  std::atomic<bool> done{false};
  std::atomic<size_t> answered{0};
  std::string failure; // written by the asker only, read after the join
  std::thread asker{[&] {
    std::string err;
    auto c = nats_client::connect(h.server().url(), err);
    if (!c) {
      failure = "cannot connect: " + err;
      return;
    }
    // No pause: requests are waiting whenever a subscription appears.
    while (!done.load()) {
      auto r =
        c->request("marquee.v1.admin.it1.stats", "", milliseconds{2000}, err);
      if (!r)
        continue; // no responders while the service is down
      rapidjson::Document d;
      d.Parse(r->body.c_str());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("dropped")) {
        failure = r->body;
        return;
      }
      answered.fetch_add(1);
    }
  }};
  for (int i = 0; i < restarts; ++i)
    h.restart_service();
  done.store(true);
  asker.join();
  CHECK(failure == "");
  CHECK(answered.load() > 0);
}
