#pragma once

/// The configuration of `marquee serve`: defaults, then a TOML file, then
/// the environment (`MARQUEE_<SECTION>_<KEY>`, and `NATS_URL`), then flags.
/// Every key and its default is listed in `config_keys()` and in
/// docs/operations.md.

#include "domain/params.hpp"
#include "wire/event_decoder.hpp"
#include "wire/nats_auth.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marquee {

/// One configurable key, `<section>.<key>`, with its default as text.
struct config_key {
  const char* name;
  const char* default_value;
  const char* help;
};

/// Every key marquee knows.
const std::vector<config_key>& config_keys();

/// The configuration as text values by `<section>.<key>`.
class config {
public:
  /// The defaults.
  config();

  /// Reads a TOML file over the current values. Unknown keys are errors.
  bool load_file(const std::string& path, std::string& error);

  /// Reads TOML text over the current values, as `load_file` does a file.
  bool load_text(std::string_view text, std::string& error);

  /// Reads `MARQUEE_<SECTION>_<KEY>` and `NATS_URL` from `env` (entries of
  /// the form NAME=VALUE). Unknown `MARQUEE_` names are errors.
  bool load_env(char** env, std::string& error);

  /// Sets one key; unknown keys are errors.
  bool set(const std::string& name, const std::string& value,
           std::string& error);

  const std::string& get(const std::string& name) const;

  /// The configuration as a TOML document, each key with its help line.
  std::string to_toml() const;

  /// The domain tunables, validated.
  std::optional<service_params> to_params(std::string& error) const;

  /// The event-decoding limits, validated.
  std::optional<decode_limits> to_limits(std::string& error) const;

  /// The caps on distinct ids (`limits.max_users`, `max_titles`,
  /// `max_regions`, `max_genres`), or nullopt and `error`.
  std::optional<id_limits> to_id_limits(std::string& error) const;

  /// The NATS credentials and TLS settings (`nats.user` ... `nats.tls_*`),
  /// checked: one identity, complete pairs, readable files.
  std::optional<nats_auth> to_nats_auth(std::string& error) const;

  /// An integer key, validated against [lo, hi].
  std::optional<int64_t> get_int(const std::string& name, int64_t lo,
                                 int64_t hi, std::string& error) const;

private:
  std::map<std::string, std::string> values_;
};

} // namespace marquee
