#include "bootstrap/config.hpp"

#include "domain/window.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace marquee;

namespace {

constexpr int64_t minute = ms_per_minute;
constexpr int64_t hour = ms_per_hour;
constexpr int64_t day = ms_per_day;

/// A TOML file in the temp directory, removed at the end of its scope.
class temp_file {
public:
  explicit temp_file(const std::string& text) {
    static int counter = 0;
    auto name = "marquee-config-test-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter++) + ".toml";
    path_ = (std::filesystem::temp_directory_path() / name).string();
    std::ofstream out{path_};
    out << text;
  }

  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// An environment block, as `environ` is: NAME=VALUE entries, then null.
class env_block {
public:
  env_block(std::initializer_list<std::string> entries) : entries_(entries) {
    for (auto& e : entries_)
      ptrs_.push_back(e.data());
    ptrs_.push_back(nullptr);
  }

  char** get() { return ptrs_.data(); }

private:
  std::vector<std::string> entries_;
  std::vector<char*> ptrs_;
};

service_params params_of(const config& cfg) {
  std::string error;
  auto p = cfg.to_params(error);
  if (!p)
    FAIL("invalid params: " << error);
  return *p;
}

} // namespace

TEST_CASE("the defaults give the contract's params", "[bootstrap][config]") {
  config cfg;
  auto p = params_of(cfg);
  CHECK(p.user.impressions.alpha == 0.5);
  CHECK(p.user.impressions.windows_ms ==
        std::vector<int64_t>{day, 7 * day, 30 * day, 180 * day, 365 * day});
  CHECK(p.user.impressions.rates.size() == 5);
  CHECK(p.user.impressions.raw_retention_ms == day);
  CHECK(p.user.impressions.raw_max == 128);
  CHECK(p.trending.alpha == 0.5);
  CHECK(p.trending.windows_ms == std::vector<int64_t>{hour, day, 7 * day});
  CHECK(p.trending.capacity == 1000);
  CHECK(p.user.recent_max == 50);
  CHECK(p.user.in_progress_max == 50);
  CHECK(p.rec.default_k == 20);
  CHECK(p.rec.max_k == 200);
  CHECK(p.rec.budget_ms == 100);
  REQUIRE(p.rec.trending_window < p.trending.windows_ms.size());
  CHECK(p.trending.windows_ms[p.rec.trending_window] == day);
  // The trending feature of the ranking: over the longest window.
  CHECK(p.rec.ranking.trending_window == p.trending.windows_ms.size() - 1);
  CHECK(p.rec.ranking.trending_weight == 0.3);
  CHECK(p.similarity.shrink == 0);
  CHECK(p.similarity.min_support == 2);
  CHECK(p.rec.ranking.genre_weight == 0.3);
  CHECK(p.rec.ranking.profile_decay == 1.0);
  CHECK(p.similarity.neighbour_exponent == 0.5);
  CHECK(p.similarity.popularity_exponent == 0.5);
  std::string error;
  auto limits = cfg.to_limits(error);
  REQUIRE(limits);
  CHECK(limits->max_payload == 64 * 1024);
  CHECK(limits->max_future_ms == day);
  CHECK(cfg.get("service.prefix") == "marquee");
  CHECK(cfg.get("nats.url").empty());
}

TEST_CASE("every documented key has a default", "[bootstrap][config]") {
  config cfg;
  for (const auto& key : config_keys()) {
    INFO("key: " << key.name);
    CHECK(cfg.get(key.name) == key.default_value);
    std::string error;
    CHECK(cfg.set(key.name, key.default_value, error));
  }
}

TEST_CASE("a TOML file overrides the keys it names, arrays included",
          "[bootstrap][config]") {
  temp_file file{R"(# marquee.toml
[service]
prefix = "mq"
threads = 4

[impressions]
alpha = 0.25
windows = ["1h", "2d"]
raw_max = 64

[trending]
windows = ["30m", "1d"]

[rec]
default_k = 5
trending_window = "30m"
)"};
  config cfg;
  std::string error;
  REQUIRE(cfg.load_file(file.path(), error));
  CHECK(error.empty());
  CHECK(cfg.get("service.prefix") == "mq");
  CHECK(cfg.get("service.threads") == "4");
  CHECK(cfg.get("impressions.windows") == "1h,2d");
  auto p = params_of(cfg);
  CHECK(p.user.impressions.alpha == 0.25);
  CHECK(p.user.impressions.windows_ms == std::vector<int64_t>{hour, 2 * day});
  CHECK(p.user.impressions.raw_max == 64);
  CHECK(p.trending.windows_ms == std::vector<int64_t>{30 * minute, day});
  CHECK(p.rec.trending_window == 0);
  CHECK(p.rec.default_k == 5);
  // Keys the file does not name keep their defaults.
  CHECK(p.rec.max_k == 200);
  CHECK(p.trending.alpha == 0.5);
  CHECK(cfg.get("service.data_dir") == "marquee-data");
}

TEST_CASE("a number in a TOML file keeps its value", "[bootstrap][config]") {
  temp_file file{"[impressions]\nalpha = 0.9999999\n"
                 "[trending]\nalpha = 0.123456789\n"};
  config cfg;
  std::string error;
  REQUIRE(cfg.load_file(file.path(), error));
  auto p = params_of(cfg);
  CHECK(p.user.impressions.alpha == 0.9999999);
  CHECK(p.trending.alpha == 0.123456789);
}

TEST_CASE("a TOML file that marquee cannot read is an error naming the "
          "problem",
          "[bootstrap][config]") {
  struct file_case {
    std::string text;
    std::vector<std::string> fragments;
  };
  const file_case cases[] = {
    {"[impressions]\nbeta = 1\n",
     {"unknown configuration key 'impressions.beta'"}},
    {"[impression]\nalpha = 0.5\n",
     {"unknown configuration key 'impression.alpha'"}},
    {"prefix = \"mq\"\n", {"'prefix' must be a [section]"}},
    {"threads = 4\n[service]\nprefix = \"mq\"\n",
     {"'threads' must be a [section]"}},
    {"[impressions.sub]\nx = 1\n", {"'impressions.sub'"}},
    {"[impressions]\nwindows = [[\"1d\"]]\n", {"'impressions.windows'"}},
    {"[service]\nprefix = 1979-05-27\n", {"'service.prefix'"}},
    {"[service\nprefix = \"mq\"\n", {"cannot read config"}},
    {"[service]\nprefix = \n", {"cannot read config"}},
  };
  for (const auto& c : cases) {
    INFO("file: " << c.text);
    temp_file file{c.text};
    config cfg;
    std::string error;
    CHECK_FALSE(cfg.load_file(file.path(), error));
    INFO("error: " << error);
    for (const auto& fragment : c.fragments)
      CHECK_THAT(error, Catch::Contains(fragment));
    CHECK_THAT(error, Catch::Contains(file.path()));
  }
}

TEST_CASE("a config file that does not exist is an error naming it",
          "[bootstrap][config]") {
  config cfg;
  std::string error;
  auto path = (std::filesystem::temp_directory_path() /
               "marquee-config-test-missing.toml")
                .string();
  CHECK_FALSE(cfg.load_file(path, error));
  CHECK_THAT(error, Catch::Contains(path));
}

TEST_CASE("MARQUEE_<SECTION>_<KEY> and NATS_URL set keys from the "
          "environment",
          "[bootstrap][config]") {
  env_block env{"PATH=/usr/bin",
                "MARQUEE_IMPRESSIONS_ALPHA=0.25",
                "NATS_URL=nats://127.0.0.1:4222",
                "MARQUEE_IMPRESSIONS_RAW_RETENTION=2d",
                "MARQUEE_SERVICE_DATA_DIR=/var/lib/marquee",
                "MARQUEE_REC_DEFAULT_K=7",
                "HOME=/root",
                "NOT_AN_ASSIGNMENT"};
  config cfg;
  std::string error;
  REQUIRE(cfg.load_env(env.get(), error));
  CHECK(cfg.get("impressions.alpha") == "0.25");
  CHECK(cfg.get("nats.url") == "nats://127.0.0.1:4222");
  CHECK(cfg.get("service.data_dir") == "/var/lib/marquee");
  auto p = params_of(cfg);
  CHECK(p.user.impressions.alpha == 0.25);
  CHECK(p.user.impressions.raw_retention_ms == 2 * day);
  CHECK(p.rec.default_k == 7);
}

TEST_CASE("the environment overrides the config file", "[bootstrap][config]") {
  temp_file file{"[impressions]\nalpha = 0.25\n[nats]\nurl = \"nats://a\"\n"};
  env_block env{"MARQUEE_IMPRESSIONS_ALPHA=0.75", "NATS_URL=nats://b"};
  config cfg;
  std::string error;
  REQUIRE(cfg.load_file(file.path(), error));
  REQUIRE(cfg.load_env(env.get(), error));
  CHECK(params_of(cfg).user.impressions.alpha == 0.75);
  CHECK(cfg.get("nats.url") == "nats://b");
}

TEST_CASE("a MARQUEE_ variable naming a section but no key of it is an error "
          "naming it",
          "[bootstrap][config]") {
  for (std::string var : {"MARQUEE_IMPRESSIONS_BETA", "MARQUEE_SERVICE",
                          "MARQUEE_REC_", "MARQUEE_NATS_URLS"}) {
    INFO("variable: " << var);
    env_block env{var + "=1"};
    config cfg;
    std::string error;
    CHECK_FALSE(cfg.load_env(env.get(), error));
    CHECK_THAT(error, Catch::Contains(var));
  }
}

TEST_CASE("MARQUEE_ variables outside the configuration's sections are left "
          "alone",
          "[bootstrap][config]") {
  env_block env{"MARQUEE_BINARY=/usr/bin/marquee", "MARQUEE_FOO=1",
                "MARQUEE_=x"};
  config cfg;
  std::string error;
  CHECK(cfg.load_env(env.get(), error));
  CHECK(error.empty());
}

TEST_CASE("an empty environment changes nothing", "[bootstrap][config]") {
  config cfg;
  std::string error;
  CHECK(cfg.load_env(nullptr, error));
  env_block env{};
  CHECK(cfg.load_env(env.get(), error));
  CHECK(cfg.get("impressions.alpha") == "0.5");
}

TEST_CASE("setting an unknown key is an error naming it",
          "[bootstrap][config]") {
  config cfg;
  std::string error;
  CHECK_FALSE(cfg.set("impressions.beta", "1", error));
  CHECK_THAT(error, Catch::Contains("'impressions.beta'"));
  CHECK(cfg.set("impressions.alpha", "0.3", error));
  CHECK(cfg.get("impressions.alpha") == "0.3");
}

TEST_CASE("an invalid value gives an error naming its key",
          "[bootstrap][config]") {
  struct value_case {
    std::string key;
    std::string value;
    std::string fragment; // besides the key
  };
  const value_case cases[] = {
    {"impressions.alpha", "1.5", "between 0 and 1"},
    {"impressions.alpha", "1", "between 0 and 1"},
    {"impressions.alpha", "0", "between 0 and 1"},
    {"impressions.alpha", "-0.5", "between 0 and 1"},
    {"impressions.alpha", "half", "'half'"},
    {"impressions.alpha", "0.5x", "'0.5x'"},
    {"impressions.windows", "1d,fortnight", "'fortnight'"},
    {"impressions.windows", "", "at least one window"},
    {"impressions.windows", " , ", "at least one window"},
    {"impressions.raw_retention", "fortnight", "'fortnight'"},
    {"impressions.raw_max", "-1", "'-1'"},
    {"trending.alpha", "1.5", "between 0 and 1"},
    {"trending.windows", "1h,1w", "'1w'"},
    {"trending.capacity", "0", "'0'"},
    {"user.recent_max", "0", "'0'"},
    {"user.in_progress_max", "many", "'many'"},
    {"rec.trending_window", "30d", "'trending.windows'"},
    {"rec.trending_window", "fortnight", "'fortnight'"},
    {"rec.max_k", "0", "'0'"},
    {"rec.default_k", "201", "from 1 to 200"},
    {"rec.default_k", "0", "'0'"},
    {"rec.budget_ms", "0", "'0'"},
    {"rec.budget_ms", "100ms", "'100ms'"},
    {"rec.trending_feature_window", "30d", "'trending.windows'"},
    {"rec.trending_feature_window", "soon", "'soon'"},
    {"similarity.shrink", "-1", "a number from"},
    {"similarity.min_support", "-1", "'-1'"},
    {"rec.profile_decay", "1.5", "a number from"},
    {"similarity.neighbour_exponent", "3", "a number from"},
    {"experiments.remembered", "0", "'0'"},
  };
  for (const auto& c : cases) {
    INFO(c.key << " = '" << c.value << "'");
    config cfg;
    std::string error;
    REQUIRE(cfg.set(c.key, c.value, error));
    CHECK_FALSE(cfg.to_params(error));
    INFO("error: " << error);
    CHECK_THAT(error, Catch::Contains("'" + c.key + "'") &&
                        Catch::Contains(c.fragment));
  }
}

TEST_CASE("invalid limits give an error naming their key",
          "[bootstrap][config]") {
  const std::pair<std::string, std::string> cases[] = {
    {"limits.max_payload", "0"},
    {"limits.max_payload", "64KiB"},
    {"limits.max_future", "fortnight"},
    {"limits.max_future", "0d"},
  };
  for (const auto& [key, value] : cases) {
    INFO(key << " = '" << value << "'");
    config cfg;
    std::string error;
    REQUIRE(cfg.set(key, value, error));
    CHECK_FALSE(cfg.to_limits(error));
    CHECK_THAT(error, Catch::Contains("'" + key + "'"));
  }
  config cfg;
  std::string error;
  REQUIRE(cfg.set("limits.max_payload", "1024", error));
  REQUIRE(cfg.set("limits.max_future", "1h", error));
  auto limits = cfg.to_limits(error);
  REQUIRE(limits);
  CHECK(limits->max_payload == 1024);
  CHECK(limits->max_future_ms == hour);
}

TEST_CASE("an integer key is read within its bounds, naming the key "
          "otherwise",
          "[bootstrap][config]") {
  // service.threads is read this way by the service: 0 (one per core) to 256.
  config cfg;
  std::string error;
  CHECK(cfg.get_int("service.threads", 0, 256, error) == 0);
  REQUIRE(cfg.set("service.threads", "4", error));
  CHECK(cfg.get_int("service.threads", 0, 256, error) == 4);
  for (auto bad : {"-1", "257", "4x", "four", ""}) {
    INFO("service.threads = '" << bad << "'");
    REQUIRE(cfg.set("service.threads", bad, error));
    error.clear();
    CHECK_FALSE(cfg.get_int("service.threads", 0, 256, error));
    CHECK_THAT(error, Catch::Contains("'service.threads'") &&
                        Catch::Contains(std::string{"'"} + bad + "'") &&
                        Catch::Contains("from 0 to 256"));
  }
}

TEST_CASE("experiment variants come with their shares and their own ranking "
          "keys, from a file and from the environment",
          "[bootstrap][config][experiments]") {
  config cfg;
  std::string error;
  temp_file f{"[rec]\n"
              "diversity = 0.2\n"
              "[experiments]\n"
              "variants = [\"control:90\", \"fresh:10\", \"dark:0\"]\n"
              "salt = \"2026-12\"\n"
              "attribution = \"30m\"\n"
              "[variant.fresh]\n"
              "trending_weight = 0.6\n"
              "seeds = 5\n"};
  REQUIRE(cfg.load_file(f.path(), error));
  env_block env{"MARQUEE_VARIANT_dark_GENRE_WEIGHT=0.9"};
  REQUIRE(cfg.load_env(env.get(), error));
  auto p = params_of(cfg);
  const auto& e = p.experiments;
  REQUIRE(e.variants.size() == 3);
  CHECK(e.names() == "control, fresh, dark");
  CHECK(e.variants[0].share == 90);
  CHECK(e.variants[1].share == 10);
  CHECK(e.variants[2].share == 0);
  CHECK(e.salt == "2026-12");
  CHECK(e.attribution_ms == 30 * minute);
  // Every variant starts from [rec]; each changes only what it names.
  CHECK(e.variants[0].ranking.diversity == 0.2);
  CHECK(e.variants[0].ranking.trending_weight == p.rec.ranking.trending_weight);
  CHECK(e.variants[1].ranking.diversity == 0.2);
  CHECK(e.variants[1].ranking.trending_weight == 0.6);
  CHECK(e.variants[1].ranking.seeds == 5);
  CHECK(e.variants[2].ranking.genre_weight == 0.9);
  CHECK(e.variants[2].ranking.seeds == p.rec.ranking.seeds);
  // `config` prints the variant tables, which read back alike.
  auto text = cfg.to_toml();
  CHECK_THAT(text, Catch::Contains("[variant.fresh]\nseeds = 5\n"
                                   "trending_weight = 0.6\n"));
  temp_file again{text};
  config cfg2;
  INFO(text);
  REQUIRE(cfg2.load_file(again.path(), error));
  CHECK(params_of(cfg2).experiments.variants[2].ranking.genre_weight == 0.9);
}

TEST_CASE("the defaults have one variant, control, with the [rec] ranking",
          "[bootstrap][config][experiments]") {
  auto p = params_of(config{});
  REQUIRE(p.experiments.variants.size() == 1);
  CHECK(p.experiments.variants[0].name == "control");
  CHECK(p.experiments.variants[0].ranking.seeds == p.rec.ranking.seeds);
  CHECK(p.experiments.attribution_ms == hour);
  CHECK(p.experiments.remembered == 50);
}

TEST_CASE("a variant setting that cannot be used stops the start, naming it",
          "[bootstrap][config][experiments]") {
  struct bad {
    std::vector<std::pair<std::string, std::string>> keys;
    std::string message;
  };
  for (const auto& c : std::vector<bad>{
         {{{"experiments.variants", "control,fresh"},
           {"variant.other.seeds", "3"}},
          "'variant.other.seeds' sets variant 'other', which "
          "'experiments.variants' does not list (control,fresh)"},
         {{{"experiments.variants", "control,control"}},
          "lists 'control' twice"},
         {{{"experiments.variants", "control:x"}},
          "the share after ':' is an integer"},
         {{{"experiments.variants", "a-b"}},
          "a variant name is 1 to 32 letters and digits"},
         {{{"experiments.variants", "a:0,b:0"}}, "must not all be 0"},
         {{{"experiments.variants", ""}}, "at least one variant"},
         {{{"experiments.variants", "control,,fresh"}},
          "'experiments.variants' (control,,fresh) holds an empty item"},
         {{{"experiments.variants", "control,"}}, "holds an empty item"},
         {{{"experiments.variants", "control,fresh"},
           {"variant.fresh.seeds", "2.5"}},
          "'variant.fresh.seeds' must be an integer from 1 to 1000"},
         {{{"experiments.variants", "control,fresh"},
           {"variant.fresh.diversity", "11"}},
          "'variant.fresh.diversity' must be a number from 0 to 10"},
         {{{"experiments.attribution", "soon"}}, "'experiments.attribution'"},
       }) {
    config cfg;
    std::string error;
    for (const auto& [k, v] : c.keys)
      REQUIRE(cfg.set(k, v, error));
    INFO(c.message);
    CHECK_FALSE(cfg.to_params(error));
    CHECK_THAT(error, Catch::Contains(c.message));
  }
  // Keys a variant cannot set are refused when set.
  config cfg;
  std::string error;
  CHECK_FALSE(cfg.set("variant.fresh.window", "3", error));
  CHECK_THAT(error, Catch::Contains("a variant sets only ranking keys"));
  CHECK_FALSE(cfg.set("variant.fr-esh.seeds", "3", error));
  CHECK_THAT(error, Catch::Contains("letters and digits"));
  env_block env{"MARQUEE_VARIANT_fresh=1"};
  CHECK_FALSE(cfg.load_env(env.get(), error));
  CHECK_THAT(error, Catch::Contains("MARQUEE_VARIANT_<NAME>_<KEY>"));
}

TEST_CASE("the trending feature's window and the similarity's shrink and "
          "exponents come from the config",
          "[bootstrap][config]") {
  config cfg;
  std::string error;
  REQUIRE(cfg.set("rec.trending_feature_window", "1d", error));
  REQUIRE(cfg.set("similarity.shrink", "0.5", error));
  REQUIRE(cfg.set("similarity.min_support", "3", error));
  REQUIRE(cfg.set("rec.profile_decay", "0.8", error));
  REQUIRE(cfg.set("similarity.neighbour_exponent", "0.25", error));
  REQUIRE(cfg.set("similarity.popularity_exponent", "0.75", error));
  auto p = cfg.to_params(error);
  INFO(error);
  REQUIRE(p);
  REQUIRE(p->rec.ranking.trending_window < p->trending.windows_ms.size());
  CHECK(p->trending.windows_ms[p->rec.ranking.trending_window] == day);
  CHECK(p->similarity.shrink == 0.5);
  CHECK(p->similarity.min_support == 3);
  CHECK(p->rec.ranking.profile_decay == 0.8);
  CHECK(p->similarity.neighbour_exponent == 0.25);
  CHECK(p->similarity.popularity_exponent == 0.75);
  // Variants take the [rec] window unless they set their own ranking.
  for (const auto& v : p->experiments.variants)
    CHECK(v.ranking.trending_window == p->rec.ranking.trending_window);
}
