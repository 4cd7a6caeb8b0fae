#pragma once

/// What every fuzz target shares: invariant checks that abort (a finding),
/// the default parameters, and interners reused across inputs.

#include "bootstrap/config.hpp"
#include "domain/ids.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace marquee::fuzz {

/// Aborts, naming the invariant, unless `ok`: libFuzzer saves the input.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

/// The configuration's defaults, after `set(key, value)` for each pair.
inline service_params
params_with(std::initializer_list<std::pair<const char*, const char*>> keys) {
  config cfg;
  std::string error;
  for (const auto& [key, value] : keys)
    check(cfg.set(key, value, error), "a configuration key");
  auto p = cfg.to_params(error);
  check(p.has_value(), "the configuration is valid");
  return *p;
}

/// Interners for one input. Building a fresh `id_tables` costs ~8 ms under
/// ASan (its chunk tables), 100 times the decoding, so they are reused and
/// replaced every 1000 inputs: no result depends on which keys the ids got,
/// and nothing fills them up.
inline id_tables& scratch_tables() {
  static std::unique_ptr<id_tables> ids;
  static unsigned uses = 0;
  if (!ids || ++uses % 1000 == 0)
    ids = std::make_unique<id_tables>();
  return *ids;
}

} // namespace marquee::fuzz
