/// The `marquee` executable: serve, demo, request.

#include "bootstrap/config.hpp"
#include "bootstrap/nats_security.hpp"
#include "bootstrap/service.hpp"
#include "tools/bench.hpp"
#include "tools/demo_data.hpp"
#include "tools/replay.hpp"
#include "wire/nats_client.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <iostream>

extern char** environ;

namespace marquee {

namespace {

struct common_flags {
  std::string config_file;
  std::string nats_url;
  std::string data_dir;
  std::string prefix;
};

void add_common(CLI::App* cmd, common_flags& f) {
  cmd->add_option("--config", f.config_file, "TOML configuration file")
    ->check(CLI::ExistingFile);
  cmd->add_option("--nats-url", f.nats_url,
                  "NATS server URL (default: an embedded nats-server)");
  cmd->add_option("--data-dir", f.data_dir,
                  "data directory (default: marquee-data)");
  cmd->add_option("--prefix", f.prefix, "subject prefix (default: marquee)");
}

/// Defaults, then the file, then the environment, then flags.
bool load_config(const common_flags& f, config& cfg, std::string& error) {
  if (!f.config_file.empty() && !cfg.load_file(f.config_file, error))
    return false;
  if (!cfg.load_env(environ, error))
    return false;
  if (!f.nats_url.empty())
    cfg.set("nats.url", f.nats_url, error);
  if (!f.data_dir.empty())
    cfg.set("service.data_dir", f.data_dir, error);
  if (!f.prefix.empty())
    cfg.set("service.prefix", f.prefix, error);
  return true;
}

/// The NATS settings of `marquee request` and `publish`: a config file and
/// the environment, as `serve` reads them, then these flags.
struct client_flags {
  std::string config_file;
  std::string url;
  std::string user;
  std::string creds;
  std::string nkey;
  std::string nkey_seed;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_hostname;
};

void add_client(CLI::App* cmd, client_flags& f) {
  cmd
    ->add_option("--config", f.config_file,
                 "TOML configuration file (its [nats] keys)")
    ->check(CLI::ExistingFile);
  cmd->add_option("--nats-url", f.url,
                  "NATS server URL (default: NATS_URL, nats.url, else "
                  "nats://127.0.0.1:4222)");
  cmd->add_option("--user", f.user,
                  "NATS user (its password: MARQUEE_NATS_PASSWORD)");
  cmd->add_option("--creds", f.creds, ".creds file (user JWT and nkey seed)");
  cmd->add_option("--nkey", f.nkey, "nkey public key (U...)");
  cmd->add_option("--nkey-seed", f.nkey_seed, "file of that nkey's seed");
  cmd->add_option("--tls-ca", f.tls_ca,
                  "CA of the server's certificate (TLS on, server verified)");
  cmd->add_option("--tls-cert", f.tls_cert, "client certificate (mutual TLS)");
  cmd->add_option("--tls-key", f.tls_key, "its private key");
  cmd->add_option("--tls-hostname", f.tls_hostname,
                  "server name to verify (default: the URL's host)");
}

/// The URL and credentials of `request` and `publish`; false and why if
/// the configuration or a credential file is bad.
bool client_settings(const client_flags& f, std::string& url, nats_auth& auth,
                     std::string& error) {
  config cfg;
  if (!f.config_file.empty() && !cfg.load_file(f.config_file, error))
    return false;
  if (!cfg.load_env(environ, error))
    return false;
  const std::pair<const char*, const std::string*> flags[] = {
    {"nats.url", &f.url},
    {"nats.user", &f.user},
    {"nats.creds", &f.creds},
    {"nats.nkey", &f.nkey},
    {"nats.nkey_seed", &f.nkey_seed},
    {"nats.tls_ca", &f.tls_ca},
    {"nats.tls_cert", &f.tls_cert},
    {"nats.tls_key", &f.tls_key},
    {"nats.tls_hostname", &f.tls_hostname},
  };
  for (const auto& [key, value] : flags)
    if (!value->empty())
      cfg.set(key, *value, error);
  url =
    cfg.get("nats.url").empty() ? "nats://127.0.0.1:4222" : cfg.get("nats.url");
  cfg.set("nats.url", url, error);
  auto checked = cfg.to_nats_auth(error);
  if (!checked)
    return false;
  auth = *checked;
  return true;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// How many events the service's stream held when it started (applied or
/// still to replay), from its admin stats; 0 in core mode.
uint64_t events_in_stream(nats_client& client, const ready_info& info) {
  std::string error;
  auto reply =
    client.request(info.prefix + ".v1.admin." + info.instance_id + ".stats", "",
                   std::chrono::milliseconds{5000}, error);
  rapidjson::Document d;
  if (!reply || d.Parse(reply->body.c_str()).HasParseError() ||
      !d.HasMember("ingest"))
    return 0;
  const auto& ingest = d["ingest"];
  return ingest["position"].GetUint64() + ingest["behind"].GetUint64();
}

/// The requests to try on a secured demo, each with the env file of the
/// role that may make it (docs/security.md).
void print_secure_demo(
  const ready_info& info, const std::string& program,
  const std::pair<const char*, const char*> (&requests)[6]) {
  auto base = info.prefix + ".v1.";
  auto as = [&](const char* role, const char* verb) {
    // The directory's path holds no quote (nats_security.cpp refuses those).
    return "  (. '" + info.secure_dir + "/" + role + ".env' && " + program +
           " " + verb + " ";
  };
  std::cout << "NATS: " << info.nats_url
            << "   (TLS, one account per role; Ctrl-C stops)\n"
            << "Credentials: " << info.secure_dir
            << " (CA, each role's password and env file)\n\n"
            << "Try, in another terminal, as a client:\n";
  for (const auto& [tail, body] : requests)
    if (std::string_view{tail}.rfind("admin.", 0) != 0)
      std::cout << as("client", "request") << base << tail << " '" << body
                << "')\n";
  std::cout << as("client", "request") << "'$SRV.INFO.marquee')\n"
            << "As an operator (admin verbs, dead letters):\n";
  for (const auto& [tail, body] : requests)
    if (std::string_view{tail}.rfind("admin.", 0) == 0)
      std::cout << as("operator", "request") << base << tail << " '" << body
                << "')\n";
  std::cout << as("operator", "request") << base << "admin.all.snapshot)\n"
            << "Publish an event as a producer and ask again:\n"
            << as("producer", "publish") << base
            << "events.play.u1 '{\"title\":\"t5\"}')\n"
            << "Refused by the server: a client calling an admin verb, a "
               "producer asking for recommendations:\n"
            << as("client", "request") << base
            << "admin.all.user '{\"id\":\"u1\"}')\n"
            << as("producer", "request") << base << "rec.user.u1)\n"
            << std::endl;
}

/// Publishes the demo data (unless the stream of an earlier demo already
/// holds events), then prints requests to try with `program`. A secured
/// demo publishes as the producer and reads the stats as the operator.
void load_demo(const ready_info& info, const std::string& program) {
  std::string error;
  bool secure = !info.secure_dir.empty();
  nats_auth producer;
  nats_auth operator_auth;
  if (secure) {
    auto p = role_auth(info.secure_dir, "producer", error);
    auto o = p ? role_auth(info.secure_dir, "operator", error) : std::nullopt;
    if (!p || !o) {
      std::cerr << "marquee demo: " << error << '\n';
      return;
    }
    producer = *p;
    operator_auth = *o;
  }
  auto client = nats_client::connect(info.nats_url, producer, error, false);
  auto admin = secure
                 ? nats_client::connect(info.nats_url, operator_auth, error)
                 : nullptr;
  if (!client || (secure && !admin)) {
    std::cerr << "marquee demo: " << error << '\n';
    return;
  }
  auto base = info.prefix + ".v1.";
  if (auto held = events_in_stream(secure ? *admin : *client, info); held > 0) {
    std::cout << "\nmarquee demo: the event stream in the data directory "
                 "already holds "
              << held << " events; they are replayed, nothing is added.\n";
  } else {
    auto data = make_demo_data(wall_ms());
    for (const auto& m : data)
      if (!client->publish(base + m.subject_tail, m.body, error)) {
        std::cerr << "marquee demo: " << error << '\n';
        return;
      }
    client->flush(std::chrono::milliseconds{5000}, error);
    std::cout << "\nmarquee demo: loaded " << data.size()
              << " catalog entries, profiles and events.\n";
  }
  const std::pair<const char*, const char*> requests[] = {
    {"rec.user.u1", R"({"k":5,"explain":true})"},
    {"rec.user.u1", R"({"row":"continue_watching"})"},
    {"rec.trending", R"({"k":5,"window":"7d"})"},
    {"impressions.u1", R"({"windows":["1d","7d","30m"]})"},
    {"admin.all.user", R"({"id":"u1"})"},
    {"admin.all.title", R"({"id":"t0"})"},
  };
  if (secure) {
    print_secure_demo(info, program, requests);
    return;
  }
  auto call = program + " request --nats-url " + info.nats_url + " ";
  std::cout << "NATS: " << info.nats_url << "   (Ctrl-C stops)\n\n"
            << "Try, in another terminal:\n";
  for (const auto& [tail, body] : requests)
    std::cout << "  " << call << base << tail << " '" << body << "'\n";
  std::cout << "  " << call << "'$SRV.INFO.marquee'\n"
            << "Publish an event and ask again:\n"
            << "  " << program << " publish --nats-url " << info.nats_url << " "
            << base << "events.play.u1 '{\"title\":\"t5\"}'\n"
            << std::endl;
}

/// `marquee secure-setup`: the deployable form of `nats.secure`.
int secure_setup(secure_setup_options so, const std::vector<std::string>& hosts,
                 std::string url, bool print_template) {
  if (print_template) {
    auto spec = template_spec();
    spec.prefix = so.prefix;
    spec.stream = so.stream;
    std::cout << render_secure_config(spec);
    return 0;
  }
  auto token = [](const std::string& t) {
    return !t.empty() &&
           t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz"
                               "0123456789_-") == std::string::npos;
  };
  if (so.dir.empty() || !token(so.prefix) || !token(so.stream)) {
    std::cerr << "marquee secure-setup: give a directory (or --template); "
                 "--prefix and --stream are letters, digits, '_' or '-'\n";
    return 2;
  }
  if (!hosts.empty())
    so.hosts = hosts;
  if (url.empty()) {
    auto colon = so.listen.rfind(':');
    auto host = so.hosts.front();
    url = "tls://" +
          (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
          ":" +
          (colon == std::string::npos ? "4222" : so.listen.substr(colon + 1));
  }
  std::string error;
  auto files = prepare_secure_dir(so, error);
  if (!files || !write_role_env_files(files->dir, url, error)) {
    std::cerr << "marquee secure-setup: " << error << '\n';
    return 1;
  }
  std::cout << "wrote " << files->config << " (server certificate for";
  for (const auto& h : so.hosts)
    std::cout << ' ' << h;
  std::cout << ")\n"
            << "run:   nats-server -c " << files->config << '\n'
            << "then:  marquee serve with " << files->dir
            << "/marquee.env sourced\n"
            << "roles: " << files->dir
            << "/{producer,client,operator}.env (URL " << url << ", CA "
            << files->ca << ")\n";
  return 0;
}

} // namespace

} // namespace marquee

int main(int argc, char** argv) {
  using namespace marquee;
  block_stop_signals();
  CLI::App app{"marquee: real-time recommendations from live actor state"};
  app.require_subcommand(1);
  common_flags serve_flags;
  auto serve = app.add_subcommand("serve", "run the service");
  add_common(serve, serve_flags);
  common_flags demo_flags;
  auto demo = app.add_subcommand(
    "demo", "serve on the embedded default and load a demo catalog and events");
  add_common(demo, demo_flags);
  bool demo_secure = false;
  demo->add_flag("--secure", demo_secure,
                 "secure the embedded nats-server: TLS, one account and "
                 "generated password per role (nats.secure)");
  common_flags config_flags;
  auto show_config = app.add_subcommand(
    "config", "print the effective configuration (file, environment, flags)");
  add_common(show_config, config_flags);
  client_flags cf;
  std::string subject;
  std::string body;
  int timeout_ms = 2000;
  auto request =
    app.add_subcommand("request", "send one request, print the reply");
  add_client(request, cf);
  request->add_option("--timeout-ms", timeout_ms, "reply timeout");
  request->add_option("subject", subject, "subject")->required();
  request->add_option("body", body, "JSON body (default: empty)");
  common_flags replay_flags;
  replay_options ro;
  auto replay = app.add_subcommand(
    "replay", "replay a MovieLens ratings file through marquee and score its "
              "recommendations against baselines (prequential protocol)");
  add_common(replay, replay_flags);
  replay->add_option("ratings", ro.ratings, "u.data or ratings.csv")
    ->required()
    ->check(CLI::ExistingFile);
  replay
    ->add_option("--movies", ro.movies,
                 "u.item or movies.csv (default: the one beside the ratings)")
    ->check(CLI::ExistingFile);
  replay->add_option("--k", ro.k, "list length")->check(CLI::Range(1, 200));
  replay->add_option("--warmup", ro.warmup, "share of events never queried")
    ->check(CLI::Range(0.0, 0.99));
  replay->add_option("--queries", ro.queries, "sampled query events")
    ->check(CLI::Range(1, 10000000));
  replay->add_option("--seed", ro.seed, "sample seed (Python's random)");
  replay->add_option("--recent", ro.recent, "plays used by item-kNN")
    ->check(CLI::Range(1, 1000));
  replay->add_option("--limit", ro.limit, "only the first N ratings in time");
  replay->add_option("--variant", ro.variant, "experiment variant to ask for");
  common_flags bench_flags;
  bench_options bo;
  bool quick = false;
  auto bench = app.add_subcommand(
    "bench", "measure marquee beside the raw NATS transport in the same run "
             "(docs/benchmarks.md)");
  add_common(bench, bench_flags);
  bench
    ->add_option("scenario", bo.scenarios,
                 "ingest, query, freshness, "
                 "memory, recovery (default: all)")
    ->check(CLI::IsMember(bench_scenarios()));
  bench->add_flag(
    "--quick", quick,
    "a small profile for a first look: 10k users, 2k titles, 200k "
    "events preloaded; 50k events per ingest run; 3 s runs; "
    "2k users and 5k titles for memory, 100k passing; 50k "
    "users checkpointed");
  bench->add_option("--users", bo.users, "users of the preloaded state")
    ->check(CLI::Range(1u, 100'000'000u));
  bench->add_option("--titles", bo.titles, "titles of the preloaded state")
    ->check(CLI::Range(1u, 10'000'000u));
  bench->add_option("--events", bo.preload, "events preloaded")
    ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  bench
    ->add_option("--ingest-events", bo.ingest_events,
                 "events of each ingest run")
    ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  bench
    ->add_option("--memory-users", bo.memory_users,
                 "users of the memory profile")
    ->check(CLI::Range(1u, 100'000'000u));
  bench
    ->add_option("--memory-titles", bo.memory_titles,
                 "titles of the memory profile")
    ->check(CLI::Range(1u, 10'000'000u));
  bench
    ->add_option("--passing-users", bo.passing_users,
                 "distinct users passing through")
    ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  bench
    ->add_option("--recovery-users", bo.recovery_users,
                 "users checkpointed before a restart")
    ->check(CLI::Range(1u, 100'000'000u));
  bench->add_option("--clients", bo.clients, "concurrent clients")
    ->check(CLI::Range(1u, 1024u));
  bench->add_option("--seconds", bo.seconds, "length of each timed run")
    ->check(CLI::Range(0.5, 3600.0));
  bench->add_option("--seed", bo.seed, "workload seed");
  bench->add_option("--out", bo.out_dir,
                    "directory for the samples (CSV), for plots");
  std::string bench_log_level = "warn";
  bench
    ->add_option("--log-level", bench_log_level,
                 "marquee's log level while measured (default: warn; debug "
                 "logs each checkpoint and how long it took)")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  auto publish = app.add_subcommand("publish", "publish one message");
  add_client(publish, cf);
  publish->add_option("subject", subject, "subject")->required();
  publish->add_option("body", body, "JSON body")->required();
  secure_setup_options so;
  so.listen = "0.0.0.0:4222";
  so.store_dir = "/var/lib/nats";
  std::vector<std::string> hosts;
  std::string setup_url;
  bool print_template = false;
  auto setup = app.add_subcommand(
    "secure-setup",
    "write a secured nats-server configuration (TLS, one account per role) "
    "with its CA, server certificate and role passwords (docs/security.md)");
  setup->add_option("dir", so.dir, "directory to write (created 0700)");
  setup->add_option("--host", hosts,
                    "name or address in the server certificate (repeatable; "
                    "default: 127.0.0.1 and localhost)");
  setup->add_option("--listen", so.listen, "the server's client address");
  setup->add_option("--store-dir", so.store_dir, "the JetStream store");
  setup->add_option("--prefix", so.prefix, "subject prefix P");
  setup->add_option("--stream", so.stream, "marquee's stream (stream.name)");
  setup->add_option("--url", setup_url,
                    "URL for the roles' env files (default: tls://<first "
                    "host>:<listen port>)");
  setup->add_flag("--template", print_template,
                  "print the configuration with placeholders instead "
                  "(deploy/nats-server-secure.conf)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    std::cerr << "marquee: " << e.what() << " (see --help)\n";
    return 2;
  }
  std::string error;
  if (*show_config) {
    config cfg;
    if (!load_config(config_flags, cfg, error)) {
      std::cerr << "marquee: " << error << '\n';
      return 2;
    }
    std::cout << cfg.to_toml();
    return 0;
  }
  if (*setup)
    return secure_setup(so, hosts, setup_url, print_template);
  if (*replay) {
    if (!load_config(replay_flags, ro.service, error)) {
      std::cerr << "marquee: " << error << '\n';
      return 2;
    }
    // Replay talks to its own server without credentials.
    ro.service.set("nats.secure", "false", error);
    ro.service.set("service.log_level", "warn", error);
    ro.data_dir = replay_flags.data_dir;
    error.clear();
    if (!run_replay(ro, std::cout, std::cerr, error)) {
      std::cerr << "marquee replay: " << error << '\n';
      return 1;
    }
    return 0;
  }
  if (*bench) {
    if (!load_config(bench_flags, bo.service, error)) {
      std::cerr << "marquee: " << error << '\n';
      return 2;
    }
    if (!bench_flags.nats_url.empty()) {
      std::cerr << "marquee: bench runs its own nats-server\n";
      return 2;
    }
    // --quick changes only what was not given.
    auto small = [&](const char* flag, auto& value, auto v) {
      if (quick && bench->count(flag) == 0)
        value = v;
    };
    small("--users", bo.users, 10'000u);
    small("--titles", bo.titles, 2'000u);
    small("--events", bo.preload, uint64_t{200'000});
    small("--ingest-events", bo.ingest_events, uint64_t{50'000});
    small("--seconds", bo.seconds, 3.0);
    small("--memory-users", bo.memory_users, 2'000u);
    small("--memory-titles", bo.memory_titles, 5'000u);
    small("--passing-users", bo.passing_users, uint64_t{100'000});
    small("--recovery-users", bo.recovery_users, 50'000u);
    bo.service.set("service.log_level", bench_log_level, error);
    error.clear();
    if (!run_bench(bo, std::cout, std::cerr, error)) {
      std::cerr << "marquee bench: " << error << '\n';
      return 1;
    }
    return 0;
  }
  if (*serve || *demo) {
    const auto& flags = *serve ? serve_flags : demo_flags;
    config cfg;
    if (!load_config(flags, cfg, error)) {
      std::cerr << "marquee: " << error << '\n';
      return 2;
    }
    if (*demo && !flags.nats_url.empty()) {
      std::cerr << "marquee: demo runs on the embedded default only\n";
      return 2;
    }
    if (*demo)
      cfg.set("nats.url", "", error);
    if (*demo && demo_secure)
      cfg.set("nats.secure", "true", error);
    std::string program = argv[0];
    auto on_ready = [program](const ready_info& info) {
      load_demo(info, program);
    };
    return run_service(
      cfg, *demo ? std::function<void(const ready_info&)>{on_ready} : nullptr);
  }
  std::string url;
  nats_auth auth;
  if (!client_settings(cf, url, auth, error)) {
    std::cerr << "marquee: " << error << '\n';
    return 2;
  }
  auto client = nats_client::connect(url, auth, error);
  if (!client) {
    std::cerr << "marquee: " << error << '\n';
    return 1;
  }
  if (*publish) {
    if (!client->publish(subject, body, error) ||
        !client->flush(std::chrono::milliseconds{5000}, error)) {
      std::cerr << "marquee: " << error << '\n';
      return 1;
    }
    // The server reports a refused publish after the fact; by the end of
    // the flush the report has come.
    if (auto why = client->refused(); !why.empty()) {
      std::cerr << "marquee: " << why << '\n';
      return 1;
    }
    return 0;
  }
  auto reply = client->request(subject, body,
                               std::chrono::milliseconds{timeout_ms}, error);
  if (!reply) {
    std::cerr << "marquee: " << error << '\n';
    return 1;
  }
  std::cout << reply->body << '\n';
  auto code = reply->header("Nats-Service-Error-Code");
  if (!code.empty()) {
    std::cerr << "marquee: error " << code << ": "
              << reply->header("Nats-Service-Error") << '\n';
    return 1;
  }
  return 0;
}
