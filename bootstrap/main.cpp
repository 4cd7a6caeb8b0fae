/// The `marquee` executable: serve, demo, request.

#include "bootstrap/config.hpp"
#include "bootstrap/service.hpp"
#include "tools/demo_data.hpp"
#include "tools/replay.hpp"
#include "wire/nats_client.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/document.h>

#include <chrono>
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

/// Publishes the demo data (unless the stream of an earlier demo already
/// holds events), then prints requests to try with `program`.
void load_demo(const ready_info& info, const std::string& program) {
  std::string error;
  auto client = nats_client::connect(info.nats_url, error, false);
  if (!client) {
    std::cerr << "marquee demo: " << error << '\n';
    return;
  }
  auto base = info.prefix + ".v1.";
  if (auto held = events_in_stream(*client, info); held > 0) {
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
  common_flags config_flags;
  auto show_config = app.add_subcommand(
    "config", "print the effective configuration (file, environment, flags)");
  add_common(show_config, config_flags);
  std::string url = "nats://127.0.0.1:4222";
  std::string subject;
  std::string body;
  int timeout_ms = 2000;
  auto request =
    app.add_subcommand("request", "send one request, print the reply");
  request->add_option("--nats-url", url, "NATS server URL");
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
  auto publish = app.add_subcommand("publish", "publish one message");
  publish->add_option("--nats-url", url, "NATS server URL");
  publish->add_option("subject", subject, "subject")->required();
  publish->add_option("body", body, "JSON body")->required();
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
  if (*replay) {
    if (!load_config(replay_flags, ro.service, error)) {
      std::cerr << "marquee: " << error << '\n';
      return 2;
    }
    ro.service.set("service.log_level", "warn", error);
    ro.data_dir = replay_flags.data_dir;
    error.clear();
    if (!run_replay(ro, std::cout, std::cerr, error)) {
      std::cerr << "marquee replay: " << error << '\n';
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
    std::string program = argv[0];
    auto on_ready = [program](const ready_info& info) {
      load_demo(info, program);
    };
    return run_service(
      cfg, *demo ? std::function<void(const ready_info&)>{on_ready} : nullptr);
  }
  auto client = nats_client::connect(url, error);
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
