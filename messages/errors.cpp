#include "messages/errors.hpp"

#include <caf/sec.hpp>

namespace marquee {

error_info describe(const caf::error& err) {
  if (err.category() == error_category) {
    error_info info{static_cast<errc>(err.code() + 300), {}};
    if (err.context().match_elements<std::string>())
      info.message = err.context().get_as<std::string>(0);
    return info;
  }
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
    case caf::sec::request_timeout:
      return {errc::overloaded, "the request ran past its time budget"};
    case caf::sec::request_receiver_down:
      return {errc::not_ready, "the actor serving this request stopped"};
    default:
      break;
    }
  }
  return {errc::internal, "internal error: " + caf::to_string(err)};
}

} // namespace marquee
