#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "bootstrap/service.hpp"

int main(int argc, char** argv) {
  // As in `marquee serve`: no thread takes SIGTERM or SIGINT by surprise.
  marquee::block_stop_signals();
  return Catch::Session().run(argc, argv);
}
