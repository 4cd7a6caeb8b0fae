// The long crash test of durable mode (DESIGN.md, "Durability: checkpoints
// plus replay"): while a producer publishes plays, impressions, thumbs,
// profiles and catalog entries with `Nats-Msg-Id` and retries,
// marquee is killed with -9 many times, some of them inside a checkpoint
// commit held open by the test hook, and nats-server is killed a few times.
// At the end the state marquee serves equals that of a reference model fed
// every acknowledged event once (profiles and catalog entries included:
// each counts once in a user's `events`, and moves its actor's
// `applied_through`), and a rebuild from the stream alone, with the LMDB
// directory deleted, serves the same state again.
//
// Seeded: MARQUEE_CRASH_SEED=<n> repeats the choices of a run (the timing
// of kills still varies). MARQUEE_CRASH_LOG_DIR=<dir> keeps the logs of
// every run there; a failing run keeps them in $TMPDIR regardless.

#include "bootstrap/nats_server.hpp"
#include "tests/crash/generator.hpp"
#include "tests/crash/reference_model.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "wire/nats_client.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace marquee;
using namespace marquee::testing;

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// Every tunable of the run, in one place.
struct crash_params {
  std::string instance = "crash1";
  std::string prefix = "marquee";
  std::string stream = "MARQUEE";
  int users = 40;
  int titles = 30;
  double events_per_second = 400;
  /// Published in bursts of this many, back to back (generator_params).
  int burst = 40;
  /// Rounds of start, run, kill -9.
  int rounds = 24;
  /// Every this many rounds (from round 1), the kill waits for a held
  /// checkpoint commit.
  int commit_kill_every = 3;
  /// Rounds in which nats-server is killed while marquee runs, and after
  /// which it is killed while marquee is down.
  std::set<int> server_kill_live = {5, 17};
  std::set<int> server_kill_down = {11};
  /// How long marquee runs before a random kill, at most.
  milliseconds max_uptime{1500};
  /// How long marquee stays down between rounds, at most.
  milliseconds max_downtime{400};
  /// How long nats-server stays down, at most.
  milliseconds max_server_downtime{1500};
  /// Checkpoints every 300 events or 1 s, each commit held 150 ms: about
  /// one kill in six lands in a commit by chance, the others anywhere.
  int checkpoint_events = 300;
  int checkpoint_interval_ms = 1000;
  int commit_hold_ms = 150;
  /// In every other run, at most 15 of the 40 users live, and those idle
  /// for 300 ms leave too: users keep leaving memory and coming back from
  /// the store. (Over the budget, checkpoints follow each other, so most
  /// kills in those runs land in a commit; the other runs have none.)
  int max_live_users = 15;
  int idle_ms = 300;
  /// In the same runs, at most 10 of the 30 titles live: titles leave
  /// memory and come back from the store too.
  int max_live_titles = 10;
  /// Bounds of the waits.
  milliseconds ready_timeout{20000};
  milliseconds commit_timeout{10000};
  milliseconds resume_timeout{20000};
  milliseconds catch_up_timeout{60000};
  milliseconds dump_timeout{10000};
  milliseconds exit_timeout{20000};
};

/// The environment of every marquee run: durable ingest, small and
/// frequent checkpoints, a small live budget, a fixed instance id, and,
/// while the chaos lasts,
/// checkpoint commits held open so that kills land inside them
/// (bootstrap/service.cpp, `hold_commits_for_tests`).
std::vector<std::string> marquee_env(const crash_params& p, bool hold_commits,
                                     bool live_budget) {
  std::vector<std::string> env = {
    "MARQUEE_INGEST_MODE=durable",
    "MARQUEE_SERVICE_INSTANCE_ID=" + p.instance,
    "MARQUEE_SERVICE_THREADS=2",
    "MARQUEE_CHECKPOINT_EVENTS=" + std::to_string(p.checkpoint_events),
    "MARQUEE_CHECKPOINT_INTERVAL_MS=" +
      std::to_string(p.checkpoint_interval_ms),
    "MARQUEE_PASSIVATION_MAX_USERS=" +
      std::to_string(live_budget ? p.max_live_users : 0),
    "MARQUEE_PASSIVATION_IDLE_MS=" +
      std::to_string(live_budget ? p.idle_ms : 0),
    "MARQUEE_PASSIVATION_MAX_TITLES=" +
      std::to_string(live_budget ? p.max_live_titles : 0),
    "MARQUEE_TEST_COMMIT_HOLD_MS=" +
      std::to_string(hold_commits ? p.commit_hold_ms : 0)};
  return env;
}

uint64_t seed_of_run() {
  if (const char* s = std::getenv("MARQUEE_CRASH_SEED"))
    return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

/// Admin and JetStream API requests that survive nats-server restarts: a
/// failed request drops the connection and the next one connects afresh.
class admin_client {
public:
  admin_client(std::string url, const crash_params& p)
    : url_(std::move(url)), prefix_(p.prefix), instance_(p.instance) {
    // nop
  }

  /// The parsed reply to `subject`, or nullopt (no server, no reply, an
  /// error reply, not JSON); `last_error` says which.
  std::optional<rapidjson::Document> ask(const std::string& subject,
                                         const std::string& body = "") {
    std::string error;
    if (!client_)
      client_ = nats_client::connect(url_, error);
    if (!client_) {
      last_error_ = error;
      return std::nullopt;
    }
    auto reply = client_->request(subject, body, milliseconds{2000}, error);
    if (!reply) {
      last_error_ = error;
      client_.reset();
      return std::nullopt;
    }
    rapidjson::Document doc;
    doc.Parse(reply->body.c_str());
    if (doc.HasParseError() || !doc.IsObject() ||
        !reply->header("Nats-Service-Error-Code").empty() ||
        doc.HasMember("error")) {
      last_error_ = subject + ": " + reply->body.substr(0, 300);
      return std::nullopt;
    }
    return doc;
  }

  std::optional<rapidjson::Document> admin(const std::string& verb,
                                           const std::string& body = "") {
    return ask(prefix_ + ".v1.admin." + instance_ + "." + verb, body);
  }

  /// `ingest` of admin stats.
  struct ingest {
    uint64_t position = 0;
    bool caught_up = false;
    uint64_t checkpoint = 0;
  };

  std::optional<ingest> ingest_state() {
    auto d = admin("stats");
    if (!d || !d->HasMember("ingest") || !(*d)["ingest"].IsObject())
      return std::nullopt;
    const auto& i = (*d)["ingest"];
    if (!i.HasMember("position") || !i["position"].IsUint64() ||
        !i.HasMember("caught_up") || !i["caught_up"].IsBool() ||
        !i.HasMember("checkpoint") || !i["checkpoint"].IsUint64())
      return std::nullopt;
    return ingest{i["position"].GetUint64(), i["caught_up"].GetBool(),
                  i["checkpoint"].GetUint64()};
  }

  const std::string& last_error() const { return last_error_; }

  /// The reply to `subject` as it came (up to `max` bytes), or why none
  /// came: for the logs of a failure.
  std::string raw(const std::string& subject, size_t max = 4000) {
    std::string error;
    if (!client_)
      client_ = nats_client::connect(url_, error);
    if (!client_)
      return "no connection: " + error;
    auto reply = client_->request(subject, "", milliseconds{2000}, error);
    if (!reply) {
      client_.reset();
      return "no reply: " + error;
    }
    return reply->body.substr(0, max);
  }

private:
  std::string url_;
  std::string prefix_;
  std::string instance_;
  std::unique_ptr<nats_client> client_;
  std::string last_error_;
};

/// The stacks of every thread of a marquee that stopped making progress,
/// written to `to` with gdb (when installed) before the test kills it: what
/// a hang was waiting on. Returns a line for the chaos log.
std::string dump_stacks(pid_t pid, const fs::path& to) {
  if (std::system("command -v gdb >/dev/null 2>&1") != 0)
    return "no stacks of pid " + std::to_string(pid) + ": gdb not installed";
  auto command = "timeout 60 gdb -p " + std::to_string(pid) +
                 " -batch -ex 'thread apply all bt' >'" + to.string() +
                 "' 2>&1";
  int status = std::system(command.c_str());
  return "stacks of pid " + std::to_string(pid) + " in " + to.string() +
         " (gdb status " + std::to_string(status) + ")";
}

/// A line per thing that happened, in the logs directory and on stdout.
class chaos_log {
public:
  explicit chaos_log(const fs::path& file) : out_(file) {
    // nop
  }

  void line(const std::string& text) {
    auto s = std::chrono::duration<double>(steady::now() - start_).count();
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "[%7.3f] ", s);
    out_ << stamp << text << std::endl;
  }

private:
  steady::time_point start_ = steady::now();
  std::ofstream out_;
};

/// Copies the logs directory when the test fails (or always, to
/// MARQUEE_CRASH_LOG_DIR), before the temporary directory goes.
class log_keeper {
public:
  explicit log_keeper(fs::path logs) : logs_(std::move(logs)) {
    // nop
  }

  ~log_keeper() {
    const char* dir = std::getenv("MARQUEE_CRASH_LOG_DIR");
    fs::path to;
    if (dir != nullptr)
      to = fs::path{dir} / ("run-" + std::to_string(getpid()));
    else if (!passed)
      to = fs::temp_directory_path() /
           ("marquee-crash-logs-" + std::to_string(getpid()));
    else
      return;
    std::error_code ec;
    fs::create_directories(to, ec);
    fs::copy(logs_, to,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing,
             ec);
    std::cout << "crash test logs kept in " << to.string()
              << (ec ? " (copy failed: " + ec.message() + ")" : "")
              << std::endl;
  }

  bool passed = false;

private:
  fs::path logs_;
};

/// Where two texts first differ, with a little context of each.
std::string first_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i])
    ++i;
  auto from = i > 60 ? i - 60 : 0;
  return "at byte " + std::to_string(i) + ": before ..." + a.substr(from, 160) +
         "... after ..." + b.substr(from, 160) + "...";
}

/// Every user's and title's dump, each fetched once it has applied all the
/// model expects of it (dumps and events reach an actor from different
/// senders); compared with the model. Returns the canonical dumps by
/// "user/<id>" and "title/<id>".
std::map<std::string, std::string>
dumps_checked(admin_client& admin, const reference_model& model,
              milliseconds timeout, std::vector<std::string>& mismatches) {
  std::map<std::string, std::string> out;
  auto one = [&](const std::string& kind, const std::string& id,
                 uint64_t expected_through, auto compare) {
    std::optional<rapidjson::Document> dump;
    bool applied = eventually(
      [&] {
        dump = admin.admin(kind, R"({"id":")" + id + R"(","at":0})");
        if (!dump)
          return false;
        auto i = dump->FindMember("applied_through");
        return i != dump->MemberEnd() && i->value.IsUint64() &&
               i->value.GetUint64() >= expected_through;
      },
      timeout, milliseconds{20});
    if (!dump) {
      mismatches.push_back(kind + " " + id + ": no dump within " +
                           std::to_string(timeout.count()) +
                           " ms: " + admin.last_error());
      return;
    }
    if (!applied)
      mismatches.push_back(kind + " " + id + ": applied_through stayed below " +
                           std::to_string(expected_through) + " for " +
                           std::to_string(timeout.count()) +
                           " ms (details below)");
    for (auto& line : compare(id, *dump))
      mismatches.push_back(std::move(line));
    out[kind + "/" + id] = reference_model::canonical(*dump);
  };
  // applied_through covers profile and catalog events too: a dump is taken
  // once the actor has applied its last event of any kind.
  for (const auto& [id, m] : model.users())
    one("user", id, m.applied_through,
        [&](const std::string& x, const rapidjson::Value& d) {
          return model.compare_user(x, d);
        });
  for (const auto& [id, m] : model.titles())
    one("title", id, m.applied_through,
        [&](const std::string& x, const rapidjson::Value& d) {
          return model.compare_title(x, d);
        });
  return out;
}

/// The end of what a marquee run wrote (its log goes to stdout).
std::string output_of(const child& proc) {
  auto text = proc.out() + proc.err();
  return text.size() > 3000 ? "..." + text.substr(text.size() - 3000) : text;
}

/// Lists up to `max` lines of `xs` after a heading.
std::string listing(const std::string& heading,
                    const std::vector<std::string>& xs, size_t max = 40) {
  std::string out = heading + " (" + std::to_string(xs.size()) + ")";
  for (size_t i = 0; i < xs.size() && i < max; ++i)
    out += "\n  " + xs[i];
  if (xs.size() > max)
    out += "\n  ... and " + std::to_string(xs.size() - max) + " more";
  return out;
}

} // namespace

TEST_CASE("marquee killed with -9 again and again, also inside checkpoint "
          "commits, and nats-server killed too, serves exactly the state of "
          "every acknowledged event applied once; a rebuild from the stream "
          "alone serves it again",
          "[integration][crash][durable]") {
  crash_params p;
  auto seed = seed_of_run();
  auto test_started = steady::now();
  std::mt19937_64 rng{seed};
  auto uniform_ms = [&rng](milliseconds max) {
    std::uniform_int_distribution<int64_t> d{0, max.count()};
    return milliseconds{d(rng)};
  };

  temp_dir dir{"marquee-crash"};
  auto data = dir.path() / "data";
  auto logs = dir.path() / "logs";
  auto marker = data / "commit-held";
  fs::create_directories(logs);
  log_keeper keeper{logs};
  chaos_log chaos{logs / "chaos.log"};
  chaos.line("seed " + std::to_string(seed));
  INFO("seed " << seed << " (MARQUEE_CRASH_SEED repeats it)");

  // nats-server: ours, on a free port, restarted on the same port and
  // store after each kill.
  nats_server_options sopts;
  sopts.store_dir = (dir.path() / "nats").string();
  sopts.log_file = (logs / "nats-server.log").string();
  std::string error;
  auto server = nats_server_process::start(sopts, error);
  INFO(error);
  REQUIRE(server != nullptr);
  sopts.port = server->port();
  const auto url = server->url();
  int server_kills = 0;
  auto kill_and_restart_server = [&](milliseconds down) {
    server->kill_hard();
    ++server_kills;
    chaos.line("nats-server killed (-9); down for " +
               std::to_string(down.count()) + " ms");
    std::this_thread::sleep_for(down);
    std::string err;
    server = nats_server_process::start(sopts, err);
    INFO("restarting nats-server: " << err);
    REQUIRE(server != nullptr);
    chaos.line("nats-server restarted on the same port and store");
  };

  // marquee: a child per run, its output in logs/<name>/.
  auto start_marquee = [&](const std::string& name, bool hold_commits,
                           bool live_budget) {
    auto out = logs / name;
    fs::create_directories(out);
    std::error_code ec;
    fs::remove(marker, ec); // left behind by a kill inside a commit
    return std::make_unique<child>(
      std::vector<std::string>{"serve", "--nats-url", url, "--data-dir",
                               data.string()},
      marquee_env(p, hold_commits, live_budget), out);
  };

  admin_client admin{url, p};
  event_generator generator;
  generator_params gp;
  gp.prefix = p.prefix;
  gp.stream = p.stream;
  gp.users = p.users;
  gp.titles = p.titles;
  gp.events_per_second = p.events_per_second;
  gp.burst = p.burst;
  // A day ago: every event is in the past (a time ahead of its arrival
  // would count as the arrival's, which the model cannot know), and dumps
  // asked with "at":0 are stamped with the newest event's time, not the
  // clock, and compare exactly.
  gp.base_ts = std::chrono::duration_cast<milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count() -
               24 * 3'600'000;
  gp.seed = seed;

  // -- chaos ------------------------------------------------------------------

  int kills = 0;
  int kills_in_commit = 0;
  int commit_kills_aimed = 0;
  int commit_waits_missed = 0;
  std::vector<std::string> failures;
  for (int round = 0; round < p.rounds; ++round) {
    char name[32];
    std::snprintf(name, sizeof(name), "round-%02d", round);
    auto proc = start_marquee(name, true, round % 2 == 0);
    if (await_ready(url, p.ready_timeout) == nullptr)
      FAIL(name << ": marquee did not answer $SRV.PING.marquee within "
                << p.ready_timeout.count() << " ms; output:\n"
                << output_of(*proc));
    chaos.line(std::string{name} + ": marquee ready (pid " +
               std::to_string(proc->pid()) + ")");
    if (round == 0) {
      // marquee has created the stream: the producer may start.
      if (!generator.start(url, gp, error))
        FAIL("the producer cannot start: " << error);
    }
    std::string how;
    if (p.server_kill_live.count(round) > 0) {
      std::this_thread::sleep_for(uniform_ms(p.max_uptime));
      auto before = generator.last_seq();
      kill_and_restart_server(uniform_ms(p.max_server_downtime));
      // marquee reconnects by itself and reads on past what the stream
      // held at the kill and what was published since.
      bool publishing = eventually(
        [&] { return generator.last_seq() > before; }, p.resume_timeout);
      auto target = generator.last_seq();
      uint64_t position = 0;
      bool resumed = publishing && eventually(
                                     [&] {
                                       auto i = admin.ingest_state();
                                       position = i ? i->position : position;
                                       return i && i->position >= target;
                                     },
                                     p.resume_timeout, milliseconds{50});
      if (!resumed) {
        failures.push_back(
          std::string{name} + ": after the nats-server restart " +
          (publishing ? "marquee did not read on within " +
                          std::to_string(p.resume_timeout.count()) +
                          " ms: stream at " + std::to_string(target) +
                          ", marquee at " + std::to_string(position) +
                          " (last admin error: " + admin.last_error() + ")"
                      : "the producer got no PubAck within " +
                          std::to_string(p.resume_timeout.count()) +
                          " ms: " + generator.last_error()));
        chaos.line(failures.back());
        // What the server and marquee say: pull requests standing,
        // deliveries awaiting acks, the ack floor.
        chaos.line("consumers: " +
                   admin.raw("$JS.API.CONSUMER.LIST." + p.stream));
        chaos.line("stats: " +
                   admin.raw(p.prefix + ".v1.admin." + p.instance + ".stats"));
        chaos.line(dump_stacks(proc->pid(), logs / name / "stacks"));
      } else {
        chaos.line(std::string{name} + ": marquee read on to " +
                   std::to_string(position) + " after the restart");
      }
      std::this_thread::sleep_for(uniform_ms(p.max_uptime));
      how = "after a nats-server restart";
    } else if (round % p.commit_kill_every == 1) {
      bool held = eventually([&] { return fs::exists(marker); },
                             p.commit_timeout, milliseconds{1});
      ++commit_kills_aimed;
      if (held)
        std::this_thread::sleep_for(
          uniform_ms(milliseconds{p.commit_hold_ms / 2}));
      else
        ++commit_waits_missed;
      how = held ? "inside a held commit" : "(no commit came)";
    } else {
      std::this_thread::sleep_for(uniform_ms(p.max_uptime));
      how = "at a random point";
    }
    proc->signal(SIGKILL);
    auto status = proc->wait(milliseconds{5000});
    if (status != 128 + SIGKILL)
      failures.push_back(std::string{name} + ": exit status after kill -9: " +
                         std::to_string(status));
    ++kills;
    bool in_commit = fs::exists(marker);
    if (in_commit)
      ++kills_in_commit;
    auto i = generator.last_seq();
    chaos.line(std::string{name} + ": kill -9 " + how + "; " +
               (in_commit ? "a commit was held open" : "no commit held") +
               "; stream at " + std::to_string(i) + "; exit status " +
               std::to_string(status));
    if (p.server_kill_down.count(round) > 0)
      kill_and_restart_server(uniform_ms(p.max_server_downtime));
    std::this_thread::sleep_for(uniform_ms(p.max_downtime));
  }
  generator.stop();
  INFO("producer: " << generator.last_error());
  REQUIRE_FALSE(generator.gave_up());
  chaos.line("producer stopped: " + std::to_string(generator.acked()) +
             " events acknowledged, last stream sequence " +
             std::to_string(generator.last_seq()));

  // -- the reference model ----------------------------------------------------

  reference_model model;
  std::map<sent_event::type, uint64_t> per_kind;
  {
    auto events = generator.events();
    std::sort(events.begin(), events.end(), [](const auto& x, const auto& y) {
      return x.stream_seq < y.stream_seq;
    });
    std::set<uint64_t> seqs;
    for (const auto& ev : events) {
      model.apply(ev);
      ++per_kind[ev.kind];
      seqs.insert(ev.stream_seq);
    }
    INFO(listing("reference model problems", model.problems()));
    REQUIRE(model.problems().empty());
    // Every acknowledged event has a sequence of its own.
    REQUIRE(seqs.size() == events.size());
  }
  const auto last_seq = generator.last_seq();
  size_t users_with_profile = 0;
  for (const auto& [id, u] : model.users())
    users_with_profile += u.profiles > 0 ? 1 : 0;
  size_t titles_with_meta = 0;
  for (const auto& [id, t] : model.titles())
    titles_with_meta += t.meta ? 1 : 0;

  // -- recovery after the last crash ------------------------------------------

  std::vector<std::string> mismatches = failures;
  if (generator.dedup_failures() > 0)
    mismatches.push_back(
      "stream: " + std::to_string(generator.dedup_failures()) +
      " events published again with their Nats-Msg-Id "
      "were not reported as duplicates: " +
      generator.last_error());
  auto final_run = start_marquee("final", false, true);
  REQUIRE(await_ready(url, p.ready_timeout) != nullptr);
  // The stream holds each acknowledged event once and nothing else.
  auto info = admin.ask("$JS.API.STREAM.INFO." + p.stream);
  INFO(admin.last_error());
  REQUIRE(info);
  auto stream_msgs = (*info)["state"]["messages"].GetUint64();
  auto stream_last = (*info)["state"]["last_seq"].GetUint64();
  if (stream_msgs != generator.acked() || stream_last != last_seq)
    mismatches.push_back(
      "stream: expected " + std::to_string(generator.acked()) +
      " messages through sequence " + std::to_string(last_seq) + ", got " +
      std::to_string(stream_msgs) + " through " + std::to_string(stream_last));
  std::optional<admin_client::ingest> ingest;
  bool caught_up = eventually(
    [&] {
      ingest = admin.ingest_state();
      return ingest && ingest->position == stream_last && ingest->caught_up;
    },
    p.catch_up_timeout, milliseconds{50});
  INFO("final run: " << (ingest
                           ? "position " + std::to_string(ingest->position) +
                               (ingest->caught_up ? ", caught up"
                                                  : ", not caught up")
                           : admin.last_error())
                     << "; output:\n"
                     << output_of(*final_run));
  REQUIRE(caught_up);
  std::vector<std::string> model_diffs;
  auto before = dumps_checked(admin, model, p.dump_timeout, model_diffs);
  mismatches.insert(mismatches.end(), model_diffs.begin(), model_diffs.end());
  auto stats = admin.admin("stats");
  REQUIRE(stats);
  auto unreadable = (*stats)["store"]["unreadable"].GetUint64();
  auto refused = (*stats)["store"]["refused"].GetUint64();
  if (unreadable + refused > 0)
    mismatches.push_back("store: " + std::to_string(unreadable) +
                         " stored states unreadable, " +
                         std::to_string(refused) + " refused");
  final_run->signal(SIGTERM);
  auto final_status = final_run->wait(p.exit_timeout);
  if (final_status != 0)
    mismatches.push_back("final run: exit status after SIGTERM: " +
                         std::to_string(final_status));
  chaos.line("final run: caught up at " + std::to_string(stream_last) + ", " +
             std::to_string(model_diffs.size()) +
             " differences from the model; SIGTERM exit status " +
             std::to_string(final_status));

  // -- rebuild from the stream alone ------------------------------------------

  std::error_code ec;
  auto removed = fs::remove_all(data / "state", ec);
  INFO("removing " << (data / "state").string() << ": " << ec.message());
  REQUIRE(removed > 0);
  auto rebuild = start_marquee("rebuild", false, true);
  REQUIRE(await_ready(url, p.ready_timeout) != nullptr);
  caught_up = eventually(
    [&] {
      ingest = admin.ingest_state();
      return ingest && ingest->position == stream_last && ingest->caught_up;
    },
    p.catch_up_timeout, milliseconds{50});
  INFO("rebuild: " << (ingest ? "position " + std::to_string(ingest->position)
                              : admin.last_error())
                   << "; output:\n"
                   << output_of(*rebuild));
  REQUIRE(caught_up);
  std::vector<std::string> rebuild_model_diffs;
  auto after = dumps_checked(admin, model, p.dump_timeout, rebuild_model_diffs);
  std::vector<std::string> rebuild_diffs;
  for (const auto& line : rebuild_model_diffs)
    rebuild_diffs.push_back("rebuild: " + line);
  for (const auto& [key, text] : before) {
    auto i = after.find(key);
    if (i == after.end())
      rebuild_diffs.push_back("rebuild: " + key + ": no dump after rebuild");
    else if (i->second != text)
      rebuild_diffs.push_back("rebuild: " + key + ": dumps differ " +
                              first_difference(text, i->second));
  }
  rebuild->signal(SIGTERM);
  auto rebuild_status = rebuild->wait(p.exit_timeout);
  if (rebuild_status != 0)
    rebuild_diffs.push_back("rebuild: exit status after SIGTERM: " +
                            std::to_string(rebuild_status));
  mismatches.insert(mismatches.end(), rebuild_diffs.begin(),
                    rebuild_diffs.end());

  // -- verdict ----------------------------------------------------------------

  auto seconds =
    std::chrono::duration<double>(steady::now() - test_started).count();
  char summary[768];
  std::snprintf(
    summary, sizeof(summary),
    "crash summary: seed %llu, %d rounds, %d marquee kills (-9), %d inside a "
    "held commit (%d aimed at one), %d nats-server kills (-9); %llu events "
    "acknowledged "
    "(%llu plays, %llu impressions, %llu thumbs, %llu profiles, %llu "
    "catalog entries) through stream sequence "
    "%llu; %llu published again on purpose, %llu PubAcks said duplicate, "
    "%llu attempts without PubAck retried; %zu users (%zu with a profile), "
    "%zu titles (%zu with metadata) compared: %zu differences from the "
    "model, %zu after the rebuild; %.1f s",
    static_cast<unsigned long long>(seed), p.rounds, kills, kills_in_commit,
    commit_kills_aimed, server_kills,
    static_cast<unsigned long long>(generator.acked()),
    static_cast<unsigned long long>(per_kind[sent_event::type::play]),
    static_cast<unsigned long long>(per_kind[sent_event::type::impression]),
    static_cast<unsigned long long>(per_kind[sent_event::type::feedback]),
    static_cast<unsigned long long>(per_kind[sent_event::type::profile]),
    static_cast<unsigned long long>(per_kind[sent_event::type::catalog]),
    static_cast<unsigned long long>(last_seq),
    static_cast<unsigned long long>(generator.republished()),
    static_cast<unsigned long long>(generator.duplicates()),
    static_cast<unsigned long long>(generator.failed_attempts()),
    model.users().size(), users_with_profile, model.titles().size(),
    titles_with_meta, model_diffs.size(), rebuild_diffs.size(), seconds);
  chaos.line(summary);
  std::cout << summary << std::endl;
  INFO(summary);
  INFO(listing("differences", mismatches));
  keeper.passed = kills >= 10 && kills_in_commit >= 2 && server_kills >= 2 &&
                  commit_waits_missed == 0 && mismatches.empty();
  CHECK(kills >= 10);
  CHECK(kills_in_commit >= 2);
  CHECK(server_kills >= 2);
  CHECK(commit_waits_missed == 0);
  REQUIRE(mismatches.empty());
}
