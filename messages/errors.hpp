#pragma once

/// The project's error values between actors, converted to NATS service
/// errors at the wire (CONTRACT.md, "Errors on requests").

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace marquee {

/// Codes follow the contract's HTTP-like numbers.
enum class errc : uint16_t {
  bad_request = 400,
  not_found = 404,
  overloaded = 429,
  internal = 500,
  not_ready = 503,
};

/// The category atom of marquee errors.
constexpr caf::atom_value error_category = caf::atom("marquee");

/// CAF error codes are 8 bits: stored as code - 300 (100..203).
inline caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(static_cast<uint16_t>(code) - 300),
                    error_category, caf::make_message(std::move(message))};
}

/// A marquee error code with its sentence, from any CAF error.
struct error_info {
  errc code = errc::internal;
  std::string message;
};

error_info describe(const caf::error& err);

} // namespace marquee
