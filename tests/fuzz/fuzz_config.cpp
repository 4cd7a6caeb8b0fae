// libFuzzer target: the configuration (bootstrap/config.hpp): TOML text
// read over the defaults, then validated into the service's parameters
// and the event limits.
//
// Input: the TOML text. Checked beyond "no crash, no sanitizer report": a
// refusal says why; validated parameters keep the invariants the service
// relies on; and a configuration that loads prints (`marquee config`) as
// TOML that loads back to the same configuration.

#include "bootstrap/config.hpp"
#include "tests/fuzz/support.hpp"

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

using namespace marquee;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  config cfg;
  std::string error;
  if (!cfg.load_text(text, error)) {
    check(!error.empty(), "a refused configuration says why");
    return 0;
  }
  std::string params_error;
  if (auto p = cfg.to_params(params_error)) {
    check(!p->user.impressions.windows_ms.empty(), "impression windows");
    check(!p->trending.windows_ms.empty(), "trending windows");
    check(p->rec.trending_window < p->trending.windows_ms.size(),
          "rec.trending_window is a trending window");
    check(p->rec.default_k >= 1 && p->rec.default_k <= p->rec.max_k,
          "rec.default_k in 1..rec.max_k");
    check(!p->experiments.variants.empty(), "some experiment variant");
  } else {
    check(!params_error.empty(), "refused parameters say why");
  }
  std::string limits_error;
  if (!cfg.to_limits(limits_error))
    check(!limits_error.empty(), "refused limits say why");
  // What `marquee config` prints reads back as the same configuration.
  auto printed = cfg.to_toml();
  config again;
  std::string again_error;
  if (!again.load_text(printed, again_error)) {
    std::fprintf(stderr, "%s\n---\n%s\n", again_error.c_str(), printed.c_str());
    check(false, "the printed configuration loads");
  }
  check(again.to_toml() == printed, "the printed configuration round-trips");
  return 0;
}
