#pragma once

/// One event of the crash test as the producer sent it: what the reference
/// model is fed once the stream acknowledged it, and how it travels
/// (subject and JSON body, CONTRACT.md "Events").

#include <cstdint>
#include <string>

namespace marquee::testing {

struct sent_event {
  enum class type { play, impression, feedback };

  type kind = type::play;
  std::string user;
  std::string title;
  /// 1, 2, 3, ... per user, in publish order; travels as `seq` (an unknown
  /// field, ignored by marquee) and inside `ts`.
  uint64_t user_seq = 0;
  /// The producer's time: a base plus `user_seq` steps, so that dumps,
  /// which show times, show which events of a user were applied.
  int64_t ts = 0;
  /// Plays: the fraction watched.
  double progress = 1.0;
  /// Plays: the region, or empty for none.
  std::string region;
  /// Impressions: the position in the row.
  int32_t position = 0;
  /// Feedback: +1 or -1.
  int value = 0;
  /// The `Nats-Msg-Id` header: unique per event, the same on every retry.
  std::string msg_id;
  /// The stream sequence of the PubAck; 0 until acknowledged.
  uint64_t stream_seq = 0;

  std::string subject(const std::string& prefix) const {
    static constexpr const char* names[] = {"play", "impression", "feedback"};
    return prefix + ".v1.events." + names[static_cast<int>(kind)] + "." + user;
  }

  std::string body() const {
    auto out = R"({"title":")" + title + R"(","ts":)" + std::to_string(ts) +
               R"(,"seq":)" + std::to_string(user_seq);
    switch (kind) {
    case type::play:
      out += R"(,"progress":)" + std::to_string(progress);
      if (!region.empty())
        out += R"(,"region":")" + region + R"(")";
      break;
    case type::impression:
      out += R"(,"row":"home","position":)" + std::to_string(position);
      break;
    case type::feedback:
      out += R"(,"value":)" + std::to_string(value);
      break;
    }
    return out + "}";
  }
};

} // namespace marquee::testing
