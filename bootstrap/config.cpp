#include "bootstrap/config.hpp"

#include "domain/window.hpp"

#include <cmath>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace marquee {

const std::vector<config_key>& config_keys() {
  static const std::vector<config_key> keys = {
    {"service.prefix", "marquee", "subject prefix P"},
    {"service.data_dir", "marquee-data", "data directory"},
    {"service.instance_id", "", "instance id (default: random)"},
    {"service.threads", "0", "scheduler threads (0: one per core)"},
    {"service.log_level", "info", "trace, debug, info, warn, error"},
    {"nats.url", "", "NATS server URL (empty: embedded nats-server)"},
    {"nats.server", "nats-server", "nats-server executable (embedded)"},
    {"nats.port", "0", "embedded server port (0: a free port)"},
    {"nats.pending_msgs", "1000000", "pending messages per subscription"},
    {"nats.max_batch", "512", "events grouped per actor before sending"},
    {"nats.user", "", "user name, with nats.password"},
    {"nats.password", "",
     "password (better: MARQUEE_NATS_PASSWORD); printed redacted"},
    {"nats.creds", "", ".creds file: a user JWT and its nkey seed"},
    {"nats.nkey", "", "nkey public key (U...), with nats.nkey_seed"},
    {"nats.nkey_seed", "", "file holding that nkey's seed (SU...)"},
    {"nats.tls_ca", "",
     "CA of the server's certificate, PEM: TLS on, server verified"},
    {"nats.tls_cert", "", "client certificate chain, PEM (mutual TLS)"},
    {"nats.tls_key", "", "private key of nats.tls_cert, PEM"},
    {"nats.tls_hostname", "", "server name to verify (empty: the URL's host)"},
    {"nats.secure", "false",
     "embedded server: TLS and one account per role (docs/security.md)"},
    {"ingest.mode", "durable",
     "core (at most once) or durable (read the JetStream stream)"},
    {"stream.name", "MARQUEE", "JetStream stream of the events (durable)"},
    {"stream.max_age", "30d", "events older than this leave the stream"},
    {"stream.max_bytes", "-1",
     "the oldest events leave beyond this size (-1: no limit)"},
    {"stream.duplicate_window", "2m",
     "a repeated Nats-Msg-Id within this is stored once"},
    {"stream.dlq", "true",
     "durable: dead letters kept in stream <name>_DLQ, each once"},
    {"stream.dlq_max_age", "7d", "dead letters older than this leave it"},
    {"checkpoint.events", "50000",
     "durable: checkpoint after this many events"},
    {"checkpoint.interval_ms", "30000",
     "durable: or this long after the last one"},
    {"passivation.idle_ms", "600000",
     "durable: users and titles idle this long leave memory (0: never)"},
    {"passivation.max_users", "500000",
     "durable: live users beyond this leave memory (0: no limit)"},
    {"passivation.max_titles", "100000",
     "durable: live titles beyond this leave memory (0: no limit)"},
    {"limits.max_payload", "65536", "largest event payload in bytes"},
    {"limits.max_future", "1d", "how far ahead of the clock ts may be"},
    {"limits.max_users", "20000000",
     "distinct user ids; a new one past it is a dead letter (id)"},
    {"limits.max_titles", "1000000",
     "distinct title ids; a new one past it is a dead letter (id)"},
    {"limits.max_regions", "10000",
     "distinct regions; a new one past it is a dead letter (schema)"},
    {"limits.max_genres", "65536",
     "distinct genres; a new one past it is a dead letter (schema)"},
    {"impressions.alpha", "0.5", "EMA decay base (0.5: window = half-life)"},
    {"impressions.windows", "1d,7d,30d,180d,365d", "precomputed windows"},
    {"impressions.raw_retention", "1d", "raw impressions kept per user"},
    {"impressions.raw_max", "128", "at most this many raw impressions"},
    {"trending.alpha", "0.5", "decay base of trending scores"},
    {"trending.windows", "1h,1d,7d", "trending windows"},
    {"trending.capacity", "1000", "titles kept per window and region"},
    {"user.recent_max", "50", "recent plays kept per user"},
    {"user.in_progress_max", "50", "titles in progress kept per user"},
    {"similarity.window", "64",
     "earlier plays a new play pairs with (at most 64)"},
    {"similarity.position_decay", "0.95",
     "co-play weight factor per position further back"},
    {"similarity.neighbours", "200", "neighbours served per title"},
    {"similarity.kept", "400", "co-play partners kept per title"},
    {"similarity.popularity_exponent", "0.5",
     "e in co(a,b) / (plays(a)^e plays(b)^f), the seed's side"},
    {"similarity.neighbour_exponent", "0.5",
     "f in co(a,b) / (plays(a)^e plays(b)^f), the neighbour's side"},
    {"similarity.shrink", "0",
     "c in the confidence factor co / (co + c) of a similarity (0: off)"},
    {"similarity.min_support", "2",
     "co-plays a pair needs to be a neighbour (0 or 1: any)"},
    {"rec.seeds", "20", "recent plays whose neighbours are candidates"},
    {"rec.seed_decay", "0.8", "seed weight factor per play further back"},
    {"rec.genre_weight", "0.3",
     "g in similarity * (1 + g * genre affinity) (0: off)"},
    {"rec.profile_decay", "1",
     "genre profile weight factor per play further back (1: alike)"},
    {"rec.fatigue_weight", "0.5",
     "f in score / (1 + f * impression EMA), titles shown, never played"},
    {"rec.fatigue_window", "",
     "impression window of the fatigue (empty: the one nearest 7d)"},
    {"rec.trending_weight", "0.3",
     "t in score * (1 + t * trending / best trending) (0: off)"},
    {"rec.trending_feature_window", "",
     "trending window of that feature (empty: the longest one)"},
    {"rec.diversity", "0.1",
     "d of the genre diversity re-ranking of a row (0: off)"},
    {"rec.thumbs_up_weight", "0.5",
     "a thumbs up adds this to its title's seed weight (0: off)"},
    {"rec.thumbs_down_weight", "0.5",
     "titles similar to a thumbed-down one sink by this much (0: off)"},
    {"rec.default_k", "20", "items when a request gives no k"},
    {"rec.max_k", "200", "largest k accepted"},
    {"rec.trending_window", "1d", "trending window of rows and fallbacks"},
    {"rec.budget_ms", "100", "time budget of one request"},
    {"experiments.variants", "control",
     "variants as name:share (share of users; name alone: 1)"},
    {"experiments.salt", "marquee",
     "mixed into the user hash (a new salt reshuffles users)"},
    {"experiments.attribution", "1h",
     "a play counts for a recommendation this long after it"},
    {"experiments.remembered", "50",
     "recommended titles remembered per user for that count"},
  };
  return keys;
}

namespace {

bool known(const std::string& name) {
  const auto& keys = config_keys();
  return std::any_of(keys.begin(), keys.end(),
                     [&](const config_key& k) { return name == k.name; });
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss{text};
  std::string item;
  while (std::getline(ss, item, ','))
    if (auto b = item.find_first_not_of(" \t"); b != std::string::npos)
      out.push_back(item.substr(b, item.find_last_not_of(" \t") - b + 1));
  return out;
}

/// Whether `text` holds a blank item between, before or after its commas
/// (which `split_list` drops); blank text holds none.
bool has_empty_item(const std::string& text) {
  if (split_list(text).empty())
    return false;
  std::stringstream ss{text + ","};
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.find_first_not_of(" \t") == std::string::npos)
      return true;
  return false;
}

/// A ranking parameter a variant may set (`variant.<name>.<key>`), read
/// from `rec.<key>` for every variant that does not.
struct ranking_key {
  const char* key;
  double lo;
  double hi;
  double ranking_params::*number;
  uint32_t ranking_params::*count;
};

const std::vector<ranking_key>& ranking_keys() {
  static const std::vector<ranking_key> keys = {
    {"seeds", 1, 1000, nullptr, &ranking_params::seeds},
    {"seed_decay", 0, 1, &ranking_params::seed_decay, nullptr},
    {"genre_weight", 0, 10, &ranking_params::genre_weight, nullptr},
    {"profile_decay", 0, 1, &ranking_params::profile_decay, nullptr},
    {"fatigue_weight", 0, 100, &ranking_params::fatigue_weight, nullptr},
    {"trending_weight", 0, 100, &ranking_params::trending_weight, nullptr},
    {"diversity", 0, 10, &ranking_params::diversity, nullptr},
    {"thumbs_up_weight", 0, 10, &ranking_params::thumbs_up_weight, nullptr},
    {"thumbs_down_weight", 0, 10, &ranking_params::thumbs_down_weight, nullptr},
  };
  return keys;
}

bool is_ranking_key(std::string_view key) {
  const auto& keys = ranking_keys();
  return std::any_of(keys.begin(), keys.end(),
                     [&](const ranking_key& k) { return key == k.key; });
}

std::string ranking_key_names() {
  std::string out;
  for (const auto& k : ranking_keys())
    out += (out.empty() ? "" : ", ") + std::string{k.key};
  return out;
}

bool valid_variant_name(std::string_view name) {
  return !name.empty() && name.size() <= 32 &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; });
}

/// Splits `variant.<name>.<key>`; false if `name` is not of that form.
bool split_variant_key(const std::string& name, std::string& variant,
                       std::string& key) {
  static const std::string prefix = "variant.";
  if (name.rfind(prefix, 0) != 0)
    return false;
  auto dot = name.find('.', prefix.size());
  if (dot == std::string::npos)
    return false;
  variant = name.substr(prefix.size(), dot - prefix.size());
  key = name.substr(dot + 1);
  return true;
}

/// Renders a TOML value as config text; arrays become comma lists.
std::optional<std::string> as_text(const toml::node& node) {
  if (auto s = node.as_string())
    return s->get();
  if (auto i = node.as_integer())
    return std::to_string(i->get());
  if (auto f = node.as_floating_point()) {
    // The shortest text that reads back as the same number: a stream's six
    // digits would turn 0.9999999 into 1.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), f->get());
    return std::string{buf, res.ptr};
  }
  if (auto b = node.as_boolean())
    return b->get() ? "true" : "false";
  if (auto a = node.as_array()) {
    // Blank items stay (["", "x"] is ",x"), for validation to refuse.
    std::string out;
    for (size_t i = 0; i < a->size(); ++i) {
      const auto& item = *a->get(i);
      auto text = as_text(item);
      if (!text || item.is_array())
        return std::nullopt;
      out += (i == 0 ? "" : ",") + *text;
    }
    return out;
  }
  return std::nullopt;
}

/// Keys whose values `to_toml` never prints.
bool is_secret(const std::string& name) {
  return name == "nats.password";
}

const std::string redacted = "<redacted>";

bool known_section(const std::string& section) {
  const auto& keys = config_keys();
  return std::any_of(keys.begin(), keys.end(), [&](const config_key& k) {
    std::string_view name{k.name};
    return name.substr(0, name.find('.')) == section;
  });
}

} // namespace

config::config() {
  for (const auto& k : config_keys())
    values_[k.name] = k.default_value;
}

bool config::set(const std::string& name, const std::string& value,
                 std::string& error) {
  std::string variant;
  std::string key;
  if (split_variant_key(name, variant, key)) {
    if (!valid_variant_name(variant)) {
      error = "'" + name + "': a variant name is 1 to 32 letters and digits";
      return false;
    }
    if (!is_ranking_key(key)) {
      error = "'" + name + "': a variant sets only ranking keys (" +
              ranking_key_names() + ")";
      return false;
    }
    values_[name] = value;
    return true;
  }
  if (!known(name)) {
    error = "unknown configuration key '" + name + "'";
    return false;
  }
  values_[name] = value;
  return true;
}

const std::string& config::get(const std::string& name) const {
  return values_.at(name);
}

namespace {

/// `s` as a TOML basic string: quoted, `"`, `\\` and control characters
/// escaped.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof(code), "\\u%04x", c);
      out += code;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

/// A configuration text as TOML that reads back as the same text: a number
/// only where TOML reads it as that number ("2026-12", "1." and "007" are
/// strings), a list where it holds commas, else a string.
std::string toml_value(const std::string& text) {
  try {
    auto doc = toml::parse("v = " + text);
    auto v = doc["v"];
    if ((v.is_integer() || v.is_floating_point()) && as_text(*v.node()) == text)
      return text;
  } catch (const toml::parse_error&) {
    // Not a TOML value on its own: a string or a list below.
  }
  if (text.find(',') == std::string::npos)
    return toml_string(text);
  // Every item, blank ones too (`split_list` drops them): the list must
  // read back as the same text, which may be refused for holding one.
  std::string out = "[";
  size_t begin = 0;
  for (;;) {
    auto end = std::min(text.find(',', begin), text.size());
    auto item = text.substr(begin, end - begin);
    auto first = item.find_first_not_of(" \t");
    item = first == std::string::npos
             ? std::string{}
             : item.substr(first, item.find_last_not_of(" \t") - first + 1);
    out += (begin == 0 ? "" : ", ") + toml_string(item);
    if (end == text.size())
      break;
    begin = end + 1;
  }
  return out + "]";
}

} // namespace

std::string config::to_toml() const {
  std::string out;
  std::string section;
  for (const auto& k : config_keys()) {
    std::string name{k.name};
    auto dot = name.find('.');
    auto sec = name.substr(0, dot);
    if (sec != section) {
      out += (section.empty() ? "[" : "\n[") + sec + "]\n";
      section = sec;
    }
    // Secrets are never printed, not even to the terminal of whoever set
    // them: `marquee config` output ends up in tickets and logs.
    const auto& value =
      is_secret(name) && !get(name).empty() ? redacted : get(name);
    out +=
      name.substr(dot + 1) + " = " + toml_value(value) + "  # " + k.help + "\n";
  }
  std::string current;
  for (const auto& [name, value] : values_) {
    std::string variant;
    std::string key;
    if (!split_variant_key(name, variant, key))
      continue;
    if (variant != current)
      out += "\n[variant." + variant + "]\n";
    current = variant;
    out += key + " = " + toml_value(value) + "\n";
  }
  return out;
}

namespace {

/// Reads the `[variant.<name>]` tables of a TOML file into `cfg`.
bool load_variants(config& cfg, const std::string& path, const toml::node& node,
                   std::string& error) {
  auto variants = node.as_table();
  if (variants == nullptr) {
    error = "config " + path + ": 'variant' must hold [variant.<name>] tables";
    return false;
  }
  for (const auto& [name, sub] : *variants) {
    auto keys = sub.as_table();
    if (keys == nullptr) {
      error = "config " + path + ": 'variant." + std::string{name.str()} +
              "' must be a [variant." + std::string{name.str()} + "] table";
      return false;
    }
    for (const auto& [key, value] : *keys) {
      auto full =
        "variant." + std::string{name.str()} + "." + std::string{key.str()};
      auto text = as_text(value);
      if (!text) {
        error = "config " + path + ": '" + full + "' must be a number";
        return false;
      }
      if (!cfg.set(full, *text, error)) {
        error = "config " + path + ": " + error;
        return false;
      }
    }
  }
  return true;
}

/// Reads a parsed TOML document over `cfg`; `path` names it in errors.
bool load_table(config& cfg, const std::string& path, const toml::table& tbl,
                std::string& error) {
  for (const auto& [section, node] : tbl) {
    if (section.str() == "variant") {
      if (!load_variants(cfg, path, node, error))
        return false;
      continue;
    }
    auto sub = node.as_table();
    if (sub == nullptr) {
      error = "config " + path + ": '" + std::string{section.str()} +
              "' must be a [section]";
      return false;
    }
    for (const auto& [key, value] : *sub) {
      auto name = std::string{section.str()} + "." + std::string{key.str()};
      auto text = as_text(value);
      if (!text) {
        error = "config " + path + ": '" + name +
                "' must be a string, number, boolean or flat array";
        return false;
      }
      if (!cfg.set(name, *text, error)) {
        error = "config " + path + ": " + error;
        return false;
      }
    }
  }
  return true;
}

/// Reads the document `parse()` returns, named `path` in errors.
template <class Parse>
bool load_toml(config& cfg, const std::string& path, Parse parse,
               std::string& error) {
  toml::table tbl;
  try {
    tbl = parse();
  } catch (const toml::parse_error& err) {
    std::ostringstream os;
    os << "cannot read config " << path << ": " << err.description() << " ("
       << err.source().begin << ")";
    error = os.str();
    return false;
  }
  return load_table(cfg, path, tbl, error);
}

} // namespace

bool config::load_file(const std::string& path, std::string& error) {
  return load_toml(
    *this, path, [&] { return toml::parse_file(path); }, error);
}

bool config::load_text(std::string_view text, std::string& error) {
  return load_toml(
    *this, "text", [&] { return toml::parse(text, std::string_view{"text"}); },
    error);
}

bool config::load_env(char** env, std::string& error) {
  static const std::string prefix = "MARQUEE_";
  for (auto e = env; e != nullptr && *e != nullptr; ++e) {
    std::string entry{*e};
    auto eq = entry.find('=');
    if (eq == std::string::npos)
      continue;
    auto var = entry.substr(0, eq);
    auto value = entry.substr(eq + 1);
    if (var == "NATS_URL") {
      values_["nats.url"] = value;
      continue;
    }
    if (var.rfind(prefix, 0) != 0)
      continue;
    // MARQUEE_<SECTION>_<KEY>: the section is the first word. Variables
    // whose first word is no section (MARQUEE_BINARY, say) are not ours; a
    // section with an unknown key is a typo and an error.
    auto rest = var.substr(prefix.size());
    static const std::string variant = "VARIANT_";
    if (rest.rfind(variant, 0) == 0) {
      // MARQUEE_VARIANT_<NAME>_<KEY>: the name keeps its case.
      auto name_end = rest.find('_', variant.size());
      if (name_end == std::string::npos) {
        error = "configuration variable " + var +
                " must be MARQUEE_VARIANT_<NAME>_<KEY>";
        return false;
      }
      auto key = rest.substr(name_end + 1);
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      auto name = "variant." +
                  rest.substr(variant.size(), name_end - variant.size()) + "." +
                  key;
      if (!set(name, value, error)) {
        error = var + ": " + error;
        return false;
      }
      continue;
    }
    std::transform(rest.begin(), rest.end(), rest.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    auto us = rest.find('_');
    auto section = rest.substr(0, us);
    if (!known_section(section))
      continue;
    auto name = us == std::string::npos ? section + "."
                                        : section + "." + rest.substr(us + 1);
    if (!known(name)) {
      error = "unknown configuration variable " + var;
      return false;
    }
    values_[name] = value;
  }
  return true;
}

std::optional<int64_t> config::get_int(const std::string& name, int64_t lo,
                                       int64_t hi, std::string& error) const {
  const auto& text = get(name);
  try {
    size_t used = 0;
    auto v = std::stoll(text, &used);
    if (used == text.size() && v >= lo && v <= hi)
      return v;
  } catch (const std::exception&) {
    // Falls through to the error below.
  }
  error = "'" + name + "' must be an integer from " + std::to_string(lo) +
          " to " + std::to_string(hi) + ", not '" + text + "'";
  return std::nullopt;
}

namespace {

std::optional<double> get_alpha(const config& cfg, const std::string& name,
                                std::string& error) {
  const auto& text = cfg.get(name);
  try {
    size_t used = 0;
    auto v = std::stod(text, &used);
    if (used == text.size() && v > 0.0 && v < 1.0)
      return v;
  } catch (const std::exception&) {
    // Falls through to the error below.
  }
  error = "'" + name + "' must be a number between 0 and 1, not '" + text + "'";
  return std::nullopt;
}

std::optional<double> get_number(const config& cfg, const std::string& name,
                                 double lo, double hi, std::string& error) {
  const auto& text = cfg.get(name);
  try {
    size_t used = 0;
    auto v = std::stod(text, &used);
    if (used == text.size() && v >= lo && v <= hi)
      return v;
  } catch (const std::exception&) {
    // Falls through to the error below.
  }
  error = "'" + name + "' must be a number from " + std::to_string(lo) +
          " to " + std::to_string(hi) + ", not '" + text + "'";
  return std::nullopt;
}

std::optional<int64_t> get_window(const config& cfg, const std::string& name,
                                  std::string& error) {
  auto w = parse_window(cfg.get(name));
  if (!w)
    error = "'" + name + "' must be a window such as 30m, 1h or 7d, not '" +
            cfg.get(name) + "'";
  return w;
}

std::optional<std::vector<int64_t>>
get_windows(const config& cfg, const std::string& name, std::string& error) {
  std::vector<int64_t> out;
  for (const auto& item : split_list(cfg.get(name))) {
    auto w = parse_window(item);
    if (!w) {
      error = "'" + name + "' holds '" + item +
              "', which is not a window such as 30m, 1h or 7d";
      return std::nullopt;
    }
    out.push_back(*w);
  }
  if (out.empty()) {
    error = "'" + name + "' must list at least one window";
    return std::nullopt;
  }
  return out;
}

/// Sets the ranking parameter `k` from `text`, the value of `name`.
bool set_ranking(const ranking_key& k, const std::string& name,
                 const std::string& text, ranking_params& out,
                 std::string& error) {
  try {
    size_t used = 0;
    auto v = std::stod(text, &used);
    bool whole = k.count == nullptr || v == std::floor(v);
    if (used == text.size() && v >= k.lo && v <= k.hi && whole) {
      if (k.count != nullptr)
        out.*k.count = static_cast<uint32_t>(v);
      else
        out.*k.number = v;
      return true;
    }
  } catch (const std::exception&) {
    // Falls through to the error below.
  }
  std::ostringstream os;
  os << "'" << name << "' must be " << (k.count ? "an integer" : "a number")
     << " from " << k.lo << " to " << k.hi << ", not '" << text << "'";
  error = os.str();
  return false;
}

/// Reads the ranking parameters `<prefix><key>` over `out`.
bool read_ranking(const config& cfg, const std::string& prefix,
                  ranking_params& out, std::string& error) {
  for (const auto& k : ranking_keys())
    if (!set_ranking(k, prefix + k.key, cfg.get(prefix + k.key), out, error))
      return false;
  return true;
}

/// The experiment variants: `experiments.variants` with each variant's
/// ranking, `base` changed by its `variant.<name>.<key>` values.
bool read_experiments(const config& cfg,
                      const std::map<std::string, std::string>& values,
                      const ranking_params& base, experiment_params& out,
                      std::string& error) {
  out.variants.clear();
  auto listed = cfg.get("experiments.variants");
  if (has_empty_item(listed)) {
    error = "'experiments.variants' (" + listed + ") holds an empty item";
    return false;
  }
  for (const auto& item : split_list(listed)) {
    auto colon = item.find(':');
    variant_params v{item.substr(0, colon), 1, base};
    if (!valid_variant_name(v.name)) {
      error = "'experiments.variants' holds '" + item +
              "': a variant name is 1 to 32 letters and digits";
      return false;
    }
    if (colon != std::string::npos) {
      auto share = item.substr(colon + 1);
      if (share.empty() || share.size() > 6 ||
          share.find_first_not_of("0123456789") != std::string::npos) {
        error = "'experiments.variants' holds '" + item +
                "': the share after ':' is an integer from 0 to 999999";
        return false;
      }
      v.share = static_cast<uint32_t>(std::stoul(share));
    }
    if (out.find(v.name) != experiment_params::npos) {
      error = "'experiments.variants' lists '" + v.name + "' twice";
      return false;
    }
    out.variants.push_back(std::move(v));
  }
  if (out.variants.empty()) {
    error = "'experiments.variants' must list at least one variant";
    return false;
  }
  uint64_t total = 0;
  for (const auto& v : out.variants)
    total += v.share;
  if (total == 0) {
    error = "'experiments.variants': the shares must not all be 0";
    return false;
  }
  for (const auto& [name, text] : values) {
    std::string variant;
    std::string key;
    if (!split_variant_key(name, variant, key))
      continue;
    auto i = out.find(variant);
    if (i == experiment_params::npos) {
      error = "'" + name + "' sets variant '" + variant +
              "', which 'experiments.variants' does not list (" +
              cfg.get("experiments.variants") + ")";
      return false;
    }
    for (const auto& k : ranking_keys())
      if (key == k.key &&
          !set_ranking(k, name, text, out.variants[i].ranking, error))
        return false;
  }
  out.salt = cfg.get("experiments.salt");
  auto attribution = get_window(cfg, "experiments.attribution", error);
  auto remembered = cfg.get_int("experiments.remembered", 1, 10'000, error);
  if (!attribution || !remembered)
    return false;
  out.attribution_ms = *attribution;
  out.remembered = static_cast<uint32_t>(*remembered);
  return true;
}

} // namespace

std::optional<service_params> config::to_params(std::string& error) const {
  service_params p;
  auto alpha = get_alpha(*this, "impressions.alpha", error);
  auto windows = get_windows(*this, "impressions.windows", error);
  auto retention = get_window(*this, "impressions.raw_retention", error);
  auto raw_max = get_int("impressions.raw_max", 0, 100'000, error);
  auto t_alpha = get_alpha(*this, "trending.alpha", error);
  auto t_windows = get_windows(*this, "trending.windows", error);
  auto capacity = get_int("trending.capacity", 1, 1'000'000, error);
  auto recent = get_int("user.recent_max", 1, 10'000, error);
  auto in_prog = get_int("user.in_progress_max", 1, 10'000, error);
  auto max_k = get_int("rec.max_k", 1, 10'000, error);
  auto def_k = get_int("rec.default_k", 1, max_k.value_or(10'000), error);
  auto rec_window = get_window(*this, "rec.trending_window", error);
  auto budget = get_int("rec.budget_ms", 1, 60'000, error);
  ranking_params ranking;
  auto ranking_ok = read_ranking(*this, "rec.", ranking, error);
  std::optional<int64_t> trend_window = int64_t{0};
  if (!get("rec.trending_feature_window").empty())
    trend_window = get_window(*this, "rec.trending_feature_window", error);
  std::optional<int64_t> fatigue_window = int64_t{0};
  if (!get("rec.fatigue_window").empty())
    fatigue_window = get_window(*this, "rec.fatigue_window", error);
  auto s_window = get_int("similarity.window", 0, 64, error);
  auto s_decay =
    get_number(*this, "similarity.position_decay", 0.0, 1.0, error);
  auto s_neighbours = get_int("similarity.neighbours", 1, 10'000, error);
  auto s_kept = get_int("similarity.kept", 1, 100'000, error);
  auto s_exponent =
    get_number(*this, "similarity.popularity_exponent", 0.0, 2.0, error);
  auto s_shrink = get_number(*this, "similarity.shrink", 0.0, 1000.0, error);
  auto s_min_support = get_int("similarity.min_support", 0, 1'000'000, error);
  auto s_neighbour_exponent =
    get_number(*this, "similarity.neighbour_exponent", 0.0, 2.0, error);
  if (!alpha || !windows || !retention || !raw_max || !t_alpha || !t_windows ||
      !capacity || !recent || !in_prog || !max_k || !def_k || !rec_window ||
      !budget || !s_window || !s_decay || !s_neighbours || !s_kept ||
      !s_exponent || !s_shrink || !s_min_support || !s_neighbour_exponent ||
      !ranking_ok || !fatigue_window || !trend_window)
    return std::nullopt;
  p.rec.ranking = ranking;
  if (*s_kept < *s_neighbours) {
    error = "'similarity.kept' (" + get("similarity.kept") +
            ") must be at least 'similarity.neighbours' (" +
            get("similarity.neighbours") + ")";
    return std::nullopt;
  }
  p.similarity.window = static_cast<uint32_t>(*s_window);
  p.similarity.position_decay = *s_decay;
  p.similarity.neighbours = static_cast<uint32_t>(*s_neighbours);
  p.similarity.kept = static_cast<uint32_t>(*s_kept);
  p.similarity.popularity_exponent = *s_exponent;
  p.similarity.shrink = *s_shrink;
  p.similarity.min_support = static_cast<uint32_t>(*s_min_support);
  p.similarity.neighbour_exponent = *s_neighbour_exponent;
  p.user.impressions = impression_params::make(*alpha, *windows, *retention,
                                               static_cast<uint32_t>(*raw_max));
  {
    const auto& ws = p.user.impressions.windows_ms;
    auto w = std::find(ws.begin(), ws.end(), *fatigue_window);
    if (*fatigue_window == 0) // unset: the window nearest a week
      w = std::min_element(ws.begin(), ws.end(), [](int64_t a, int64_t b) {
        auto week = 7.0 * 86'400'000;
        return std::abs(std::log(a / week)) < std::abs(std::log(b / week));
      });
    if (w == ws.end()) {
      error = "'rec.fatigue_window' (" + get("rec.fatigue_window") +
              ") must be one of 'impressions.windows' (" +
              get("impressions.windows") + ")";
      return std::nullopt;
    }
    p.rec.ranking.fatigue_window = static_cast<uint32_t>(w - ws.begin());
  }
  p.user.recent_max = static_cast<uint32_t>(*recent);
  p.user.in_progress_max = static_cast<uint32_t>(*in_prog);
  p.trending = trending_params::make(*t_alpha, *t_windows,
                                     static_cast<uint32_t>(*capacity));
  auto index = p.trending.window_index(*rec_window);
  if (index < 0) {
    error = "'rec.trending_window' (" + get("rec.trending_window") +
            ") must be one of 'trending.windows' (" + get("trending.windows") +
            ")";
    return std::nullopt;
  }
  p.rec.trending_window = static_cast<uint32_t>(index);
  auto feature_index = *trend_window == 0 // unset: the longest window
                         ? static_cast<int>(p.trending.windows_ms.size()) - 1
                         : p.trending.window_index(*trend_window);
  if (feature_index < 0) {
    error =
      "'rec.trending_feature_window' (" + get("rec.trending_feature_window") +
      ") must be one of 'trending.windows' (" + get("trending.windows") + ")";
    return std::nullopt;
  }
  p.rec.ranking.trending_window = static_cast<uint32_t>(feature_index);
  p.rec.default_k = static_cast<uint32_t>(*def_k);
  p.rec.max_k = static_cast<uint32_t>(*max_k);
  p.rec.budget_ms = *budget;
  if (!read_experiments(*this, values_, p.rec.ranking, p.experiments, error))
    return std::nullopt;
  return p;
}

std::optional<nats_auth> config::to_nats_auth(std::string& error) const {
  nats_auth auth;
  auth.user = get("nats.user");
  auth.password = get("nats.password");
  auth.creds = get("nats.creds");
  auth.nkey = get("nats.nkey");
  auth.nkey_seed = get("nats.nkey_seed");
  auth.tls_ca = get("nats.tls_ca");
  auth.tls_cert = get("nats.tls_cert");
  auth.tls_key = get("nats.tls_key");
  auth.tls_hostname = get("nats.tls_hostname");
  if (!check_auth(auth, get("nats.url"), error))
    return std::nullopt;
  return auth;
}

std::optional<decode_limits> config::to_limits(std::string& error) const {
  auto payload = get_int("limits.max_payload", 1, 64 * 1024 * 1024, error);
  auto future = get_window(*this, "limits.max_future", error);
  if (!payload || !future)
    return std::nullopt;
  decode_limits l;
  l.max_payload = static_cast<size_t>(*payload);
  l.max_future_ms = *future;
  return l;
}

std::optional<id_limits> config::to_id_limits(std::string& error) const {
  auto users = get_int("limits.max_users", 1, max_id_limits.users, error);
  auto titles = get_int("limits.max_titles", 1, max_id_limits.titles, error);
  auto regions = get_int("limits.max_regions", 1, max_id_limits.regions, error);
  auto genres = get_int("limits.max_genres", 1, max_id_limits.genres, error);
  if (!users || !titles || !regions || !genres)
    return std::nullopt;
  id_limits l;
  l.users = static_cast<uint32_t>(*users);
  l.titles = static_cast<uint32_t>(*titles);
  l.regions = static_cast<uint32_t>(*regions);
  l.genres = static_cast<uint32_t>(*genres);
  return l;
}

} // namespace marquee
