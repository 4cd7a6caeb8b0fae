#include "wire/js_ack.hpp"

#include <array>
#include <charconv>

namespace marquee {

namespace {

template <class T>
bool number(std::string_view token, T& out) {
  if (token.empty())
    return false;
  auto end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

} // namespace

std::optional<js_ack_meta> parse_js_ack(std::string_view reply) {
  constexpr std::string_view head = "$JS.ACK.";
  if (reply.substr(0, head.size()) != head)
    return std::nullopt;
  // The tokens after the head, up to 10 of them (the second form's first
  // ten); a count of 7 is the first form, 10 or more the second.
  std::array<std::string_view, 10> tokens;
  size_t count = 0;
  size_t start = head.size();
  while (start <= reply.size()) {
    auto dot = reply.find('.', start);
    auto end = dot == std::string_view::npos ? reply.size() : dot;
    if (count < tokens.size())
      tokens[count] = reply.substr(start, end - start);
    ++count;
    if (dot == std::string_view::npos)
      break;
    start = dot + 1;
  }
  size_t base = 0; // index of <stream>
  if (count == 7)
    base = 0;
  else if (count >= 10)
    base = 2;
  else
    return std::nullopt;
  if (tokens[base].empty() || tokens[base + 1].empty())
    return std::nullopt;
  js_ack_meta m;
  if (!number(tokens[base + 2], m.delivered) ||
      !number(tokens[base + 3], m.stream_sequence) ||
      !number(tokens[base + 4], m.consumer_sequence) ||
      !number(tokens[base + 5], m.timestamp_ns) ||
      !number(tokens[base + 6], m.pending))
    return std::nullopt;
  return m;
}

} // namespace marquee
