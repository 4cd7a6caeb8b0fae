#include "bootstrap/service.hpp"

#include "actors/directory.hpp"
#include "actors/recommender.hpp"
#include "actors/similarity_actor.hpp"
#include "actors/trending_actor.hpp"
#include "bootstrap/checkpoint.hpp"
#include "bootstrap/nats_security.hpp"
#include "bootstrap/nats_server.hpp"
#include "domain/window.hpp"
#include "persistence/lmdb_state_source.hpp"
#include "persistence/lmdb_store.hpp"
#include "wire/nats_edge.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

namespace marquee {

namespace {

constexpr const char* version = "0.1.0";

std::string random_id() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return buf;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Test hook for crash tests: with `MARQUEE_TEST_COMMIT_HOLD_MS` set, every
/// checkpoint transaction stays open that long before its commit, while
/// `<data_dir>/commit-held` exists, so that a test can kill the process
/// inside a commit. Never set in production.
void hold_commits_for_tests(lmdb_store& store, const std::string& data_dir) {
  const char* hold = std::getenv("MARQUEE_TEST_COMMIT_HOLD_MS");
  if (hold == nullptr || std::atoi(hold) <= 0)
    return;
  auto ms = std::chrono::milliseconds{std::atoi(hold)};
  auto marker = std::filesystem::path{data_dir} / "commit-held";
  spdlog::warn("test hook: every checkpoint commit is held open {} ms",
               ms.count());
  store.set_before_commit([ms, marker] {
    std::ofstream{marker} << "held\n";
    std::this_thread::sleep_for(ms);
    std::error_code ec;
    std::filesystem::remove(marker, ec);
  });
}

} // namespace

struct service::impl {
  ready_info info;
  // Members are destroyed in reverse order: the edge first, the embedded
  // server last.
  std::unique_ptr<nats_server_process> server;
  // Durable mode: the LMDB store of the data directory, locked for this
  // process alone.
  std::shared_ptr<lmdb_store> store;
  std::shared_ptr<id_tables> ids;
  std::unique_ptr<caf::actor_system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<trending_cell> trending_state;
  std::shared_ptr<directory> dir;
  similarity_shards similarity;
  std::unique_ptr<nats_edge> edge;
  bool stopped = false;

  void stop() {
    if (stopped)
      return;
    stopped = true;
    // Reverse order of start: the edge (no new work), the actors, the actor
    // system (waits for every actor), the embedded server.
    // Draining stops ingest and, in durable mode, takes the last checkpoint.
    if (edge)
      edge->drain(std::chrono::milliseconds{5000});
    edge.reset();
    for (auto& a : similarity.actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    similarity = {};
    if (dir)
      dir->clear();
    dir.reset();
    sys.reset();
    if (server)
      server->stop();
    server.reset();
    store.reset(); // releases the data directory
  }
};

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

namespace {

/// What `service::start` reads from the configuration, checked.
struct settings {
  service_params params;
  decode_limits limits;
  id_limits id_caps;
  size_t threads = 1;
  int pending_msgs = 0;
  int port = 0;
  size_t max_batch = 0;
  bool durable = false;
  stream_config stream;
  uint64_t checkpoint_events = 0;
  int64_t checkpoint_ms = 0;
  directory::passivation passivation;
  std::string prefix;
  std::string instance_id;
  nats_auth auth;      // credentials for an external server
  bool secure = false; // the embedded server secured (docs/security.md)
};

bool valid_stream_name(const std::string& name) {
  return !name.empty() &&
         name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
           std::string::npos;
}

std::optional<settings> read_settings(const config& cfg, std::string& error) {
  settings out;
  auto params = cfg.to_params(error);
  if (!params)
    return std::nullopt;
  out.params = *params;
  auto limits = cfg.to_limits(error);
  if (!limits)
    return std::nullopt;
  out.limits = *limits;
  auto id_caps = cfg.to_id_limits(error);
  if (!id_caps)
    return std::nullopt;
  out.id_caps = *id_caps;
  auto threads = cfg.get_int("service.threads", 0, 256, error);
  auto pending = cfg.get_int("nats.pending_msgs", 1000, 1 << 30, error);
  auto port = cfg.get_int("nats.port", 0, 65535, error);
  auto max_batch = cfg.get_int("nats.max_batch", 1, 1 << 20, error);
  auto ckpt_events = cfg.get_int("checkpoint.events", 1, 100'000'000, error);
  auto ckpt_ms = cfg.get_int("checkpoint.interval_ms", 10, 86'400'000, error);
  auto idle_ms = cfg.get_int("passivation.idle_ms", 0, 1LL << 40, error);
  auto max_users = cfg.get_int("passivation.max_users", 0, 1LL << 40, error);
  auto max_titles = cfg.get_int("passivation.max_titles", 0, 1LL << 40, error);
  if (!ckpt_events || !ckpt_ms || !idle_ms || !max_users || !max_titles)
    return std::nullopt;
  out.passivation.idle_ms = *idle_ms;
  out.passivation.max_users = static_cast<size_t>(*max_users);
  out.passivation.max_titles = static_cast<size_t>(*max_titles);
  out.checkpoint_events = static_cast<uint64_t>(*ckpt_events);
  out.checkpoint_ms = *ckpt_ms;
  if (!threads || !pending || !port || !max_batch)
    return std::nullopt;
  out.threads = *threads > 0
                  ? static_cast<size_t>(*threads)
                  : std::max(1u, std::thread::hardware_concurrency());
  out.pending_msgs = static_cast<int>(*pending);
  out.port = static_cast<int>(*port);
  out.max_batch = static_cast<size_t>(*max_batch);
  auto mode = cfg.get("ingest.mode");
  if (mode != "core" && mode != "durable") {
    error = "'ingest.mode' must be core or durable, not '" + mode + "'";
    return std::nullopt;
  }
  out.durable = mode == "durable";
  auto max_age = parse_window(cfg.get("stream.max_age"));
  auto dup_window = parse_window(cfg.get("stream.duplicate_window"));
  if (!max_age || !dup_window) {
    error = "'stream.max_age' and 'stream.duplicate_window' must be windows "
            "such as 2m or 30d";
    return std::nullopt;
  }
  out.stream.name = cfg.get("stream.name");
  if (!valid_stream_name(out.stream.name)) {
    error = "'stream.name' must be letters, digits, '_' or '-', not '" +
            out.stream.name + "'";
    return std::nullopt;
  }
  out.stream.max_age_ms = *max_age;
  auto max_bytes = cfg.get_int("stream.max_bytes", -1, int64_t{1} << 50, error);
  if (!max_bytes)
    return std::nullopt;
  if (*max_bytes == 0) {
    error = "'stream.max_bytes' must be -1 (no limit) or a size in bytes";
    return std::nullopt;
  }
  out.stream.max_bytes = *max_bytes;
  out.stream.duplicate_window_ms = *dup_window;
  const auto& dlq = cfg.get("stream.dlq");
  auto dlq_age = parse_window(cfg.get("stream.dlq_max_age"));
  if (dlq != "true" && dlq != "false") {
    error = "'stream.dlq' must be true or false, not '" + dlq + "'";
    return std::nullopt;
  }
  if (!dlq_age) {
    error = "'stream.dlq_max_age' must be a window such as 7d";
    return std::nullopt;
  }
  out.stream.dlq = dlq == "true";
  out.stream.dlq_max_age_ms = *dlq_age;
  out.prefix = cfg.get("service.prefix");
  if (!is_valid_id(out.prefix) || out.prefix.find(':') != std::string::npos) {
    error = "'service.prefix' must be one subject token of [A-Za-z0-9_-], "
            "not '" +
            out.prefix + "'";
    return std::nullopt;
  }
  out.stream.prefix = out.prefix;
  auto auth = cfg.to_nats_auth(error);
  if (!auth)
    return std::nullopt;
  out.auth = *auth;
  const auto& secure = cfg.get("nats.secure");
  if (secure != "true" && secure != "false") {
    error = "'nats.secure' must be true or false, not '" + secure + "'";
    return std::nullopt;
  }
  out.secure = secure == "true";
  if (out.secure && !cfg.get("nats.url").empty()) {
    error = "'nats.secure' secures the embedded nats-server; with 'nats.url' "
            "set, give that server's credentials instead (nats.user, "
            "nats.tls_ca, ...: docs/security.md)";
    return std::nullopt;
  }
  out.instance_id = cfg.get("service.instance_id");
  if (out.instance_id.empty())
    out.instance_id = random_id();
  if (!is_valid_id(out.instance_id) || out.instance_id == "all") {
    error = "'service.instance_id' must be a valid id other than 'all'";
    return std::nullopt;
  }
  return out;
}

} // namespace

std::unique_ptr<service> service::start(const config& cfg, std::string& error) {
  auto set = read_settings(cfg, error);
  if (!set)
    return nullptr;
  spdlog::set_level(spdlog::level::from_str(cfg.get("service.log_level")));
  auto n_threads = set->threads;
  auto ptr = std::make_unique<impl>();
  auto& s = *ptr;

  // Phase 0: durable mode owns the data directory's state store; a second
  // instance on the same directory stops here, at once.
  uint64_t checkpoint = 0;
  if (set->durable) {
    std::error_code ec;
    std::string detail;
    auto state_dir =
      (std::filesystem::path{cfg.get("service.data_dir")} / "state").string();
    s.store = lmdb_store::open({state_dir}, ec, detail);
    if (!s.store) {
      error = detail;
      return nullptr;
    }
    if (auto err = s.store->checkpoint_sequence(checkpoint)) {
      error = "cannot read the last checkpoint in " + state_dir + ": " +
              err.message();
      return nullptr;
    }
    hold_commits_for_tests(*s.store, cfg.get("service.data_dir"));
  }

  // Phase 1: NATS, embedded unless a URL is given.
  auto url = cfg.get("nats.url");
  auto auth = set->auth;
  std::string secure_dir;
  if (url.empty()) {
    std::filesystem::path data_dir{cfg.get("service.data_dir")};
    std::error_code ec;
    std::filesystem::create_directories(data_dir / "nats", ec);
    if (ec) {
      error = "cannot create data directory " + data_dir.string() + ": " +
              ec.message();
      return nullptr;
    }
    nats_server_options opts;
    opts.executable = cfg.get("nats.server");
    opts.port = set->port;
    opts.store_dir = (data_dir / "nats").string();
    opts.log_file = (data_dir / "nats-server.log").string();
    std::optional<secure_files> secured;
    if (set->secure) {
      // TLS, one account per role, generated passwords: docs/security.md.
      secure_setup_options so;
      so.dir = (data_dir / "secure").string();
      so.prefix = set->prefix;
      so.stream = set->stream.name;
      so.listen.clear(); // the launcher's flags: -a, -p, -js -sd
      secured = prepare_secure_dir(so, error);
      if (!secured) {
        error = "cannot secure the embedded nats-server: " + error;
        return nullptr;
      }
      opts.extra_args = {"-c", secured->config};
    }
    s.server = nats_server_process::start(opts, error);
    // A fixed port may still be held for a moment by the server of a
    // marquee that was just killed (it flushes its store on the way out).
    for (int retry = 0;
         !s.server && opts.port != 0 && retry < 20 &&
         error.find("address already in use") != std::string::npos;
         ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds{250});
      error.clear();
      s.server = nats_server_process::start(opts, error);
    }
    if (!s.server) {
      error = "cannot start the embedded nats-server: " + error;
      return nullptr;
    }
    url = s.server->url();
    if (secured) {
      url = "tls://" + opts.host + ":" + std::to_string(s.server->port());
      auto own = role_auth(secured->dir, "marquee", error);
      if (!own || !write_role_env_files(secured->dir, url, error)) {
        error = "cannot secure the embedded nats-server: " + error;
        s.stop();
        return nullptr;
      }
      auth = *own;
      secure_dir = secured->dir;
    }
    spdlog::info("embedded nats-server at {} (pid {}, data in {}{})", url,
                 s.server->pid(), opts.store_dir,
                 secured ? ", TLS and accounts of " + secured->config : "");
  }

  // Phase 2: the actor system, CAF's sharing scheduler, one thread per core.
  s.sys_cfg = std::make_unique<caf::actor_system_config>();
  s.sys_cfg->set("scheduler.policy", caf::atom("sharing"));
  s.sys_cfg->set("scheduler.max-threads", n_threads);
  s.sys_cfg->set("logger.verbosity", caf::atom("quiet"));
  s.sys = std::make_unique<caf::actor_system>(*s.sys_cfg);

  // Phase 3: actors.
  auto shared_params = std::make_shared<const service_params>(set->params);
  auto ids = std::make_shared<id_tables>();
  s.ids = ids;
  s.trending_state = std::make_shared<trending_cell>(shared_params);
  std::shared_ptr<state_source> source;
  if (s.store)
    source = std::make_shared<lmdb_state_source>(s.store, ids);
  // The caps on distinct ids. A user or title with stored state is not new:
  // it comes back past the cap (the store is asked only at the cap).
  // Weak: the interners outlive the directory, which owns the source and,
  // through it, the store and its lock.
  std::weak_ptr<state_source> weak_source = source;
  auto stored_ids = [&](bool (state_source::*has)(std::string_view)) {
    if (!source)
      return known_fn{};
    return known_fn{[weak_source, has](std::string_view id) {
      auto src = weak_source.lock();
      return src && ((*src).*has)(id);
    }};
  };
  ids->users.set_limit(set->id_caps.users, stored_ids(&state_source::has_user));
  ids->titles.set_limit(set->id_caps.titles,
                        stored_ids(&state_source::has_title));
  ids->regions.set_limit(set->id_caps.regions);
  ids->genres.set_limit(set->id_caps.genres);
  s.dir = std::make_shared<directory>(*s.sys, shared_params, s.trending_state,
                                      std::move(source));
  // Item similarity: one shard per scheduler thread, unless it is off;
  // each starts from what the last checkpoint stored.
  if (shared_params->similarity.window > 0) {
    auto sp = std::shared_ptr<const similarity_params>(
      shared_params, &shared_params->similarity);
    std::shared_ptr<const stored_similarity> stored;
    if (s.store) {
      stored = load_similarity(*ids, *s.store, checkpoint, error);
      if (!stored) {
        s.stop();
        return nullptr;
      }
      spdlog::info("restored item similarity of {} titles",
                   stored->titles.size());
    }
    s.similarity = spawn_similarity_shards(
      *s.sys, sp, static_cast<uint32_t>(n_threads), stored);
  }

  if (s.store) {
    // Trending from the stored titles it needs; the title actors
    // themselves come back when an event or a request needs them.
    // A failure is told by the error alone: `error` comes in empty here
    // whatever the caller held in it before.
    std::string restore_error;
    auto titles =
      restore_trending(*s.trending_state, *ids, *s.store, checkpoint,
                       shared_params->trending, restore_error);
    if (!restore_error.empty()) {
      error = std::move(restore_error);
      s.stop();
      return nullptr;
    }
    spdlog::info("restored trending from {} stored titles; replaying the "
                 "stream from sequence {}",
                 titles, checkpoint + 1);
  }

  // Phase 4: the NATS edge.
  edge_config ecfg;
  ecfg.url = url;
  ecfg.auth = auth;
  ecfg.prefix = set->prefix;
  ecfg.instance_id = set->instance_id;
  ecfg.version = version;
  ecfg.limits = set->limits;
  ecfg.pending_msgs = set->pending_msgs;
  ecfg.gateways = n_threads;
  ecfg.max_batch = set->max_batch;
  ecfg.durable = set->durable;
  ecfg.stream = set->stream;
  ecfg.start_sequence = checkpoint + 1;
  ecfg.checkpoint_events = set->checkpoint_events;
  ecfg.checkpoint_interval = std::chrono::milliseconds{set->checkpoint_ms};
  ecfg.passivation = set->passivation;
  edge_deps deps;
  deps.ids = ids;
  deps.params = shared_params;
  deps.dir = s.dir;
  deps.rec = rec_sources{shared_params, s.dir, s.trending_state,
                         neighbours_from(s.similarity.cells)};
  deps.similarity = s.similarity.actors;
  deps.now_ms = wall_ms;
  if (set->durable) // the checkpoint's state is applied from the start
    deps.applied = std::make_shared<applied_tracker>(checkpoint);
  if (s.store) {
    // Runs on the checkpoint writer's thread, after the ingest thread sent
    // the events up to `sequence` (bootstrap/checkpoint.hpp): users once
    // the applied sequence reaches it, titles by a snapshot request queued
    // behind them, so every actor stored has applied at least those.
    deps.load_ring = [ids, store = s.store](user_key user) {
      return load_ring(*ids, *store, user);
    };
    deps.checkpoint = [sys = s.sys.get(), dir = s.dir, ids, store = s.store,
                       applied = deps.applied, shards = s.similarity](
                        uint64_t sequence, const std::vector<user_key>& users,
                        const std::vector<title_key>& titles,
                        checkpoint_extra& extra) {
      auto res =
        checkpoint_some(*sys, *dir, *ids, *store, *applied, sequence, users,
                        titles, extra, shards, std::chrono::seconds{30});
      if (res.error.empty())
        spdlog::debug("checkpoint at stream sequence {}: {} users, {} titles",
                      sequence, res.users, res.titles);
      return res.error;
    };
  }
  s.edge = nats_edge::start(*s.sys, ecfg, deps, error);
  if (!s.edge) {
    s.stop();
    return nullptr;
  }
  s.info = ready_info{url, set->prefix, set->instance_id, secure_dir};
  spdlog::info(
    "marquee {} ready: instance {}, prefix {}, {} threads, {} ingest", version,
    set->instance_id, set->prefix, n_threads,
    set->durable ? "durable" : "core");
  return std::unique_ptr<service>{new service(std::move(ptr))};
}

service::service(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

const ready_info& service::info() const {
  return impl_->info;
}

void service::stop() {
  impl_->stop();
}

service::~service() {
  impl_->stop();
}

int run_service(const config& cfg,
                const std::function<void(const ready_info&)>& on_ready) {
  std::string error;
  auto svc = service::start(cfg, error);
  if (!svc) {
    std::cerr << "marquee: " << error << '\n';
    return 1;
  }
  if (on_ready)
    on_ready(svc->info());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("{}: draining and stopping",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  svc->stop();
  spdlog::info("stopped");
  return 0;
}

} // namespace marquee
