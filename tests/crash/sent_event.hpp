#pragma once

/// One event of the crash test as the producer sent it: what the reference
/// model is fed once the stream acknowledged it, and how it travels
/// (subject and JSON body, CONTRACT.md "Events").

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace marquee::testing {

struct sent_event {
  /// play, impression and feedback are a user's actions on a title;
  /// profile replaces a user's profile, catalog a title's metadata.
  enum class type { play, impression, feedback, profile, catalog };

  type kind = type::play;
  /// Empty for catalog events.
  std::string user;
  /// Empty for profile events.
  std::string title;
  /// 1, 2, 3, ... per user, in publish order, for every event that names a
  /// user (catalog events: 0); travels as `seq` (an unknown field, ignored
  /// by marquee) and inside `ts`.
  uint64_t user_seq = 0;
  /// The producer's time: a base plus `user_seq` steps, so that dumps,
  /// which show times, show which events of a user were applied. Not sent
  /// with profile and catalog events (they have no `ts`).
  int64_t ts = 0;
  /// Plays: the fraction watched.
  double progress = 1.0;
  /// Plays and profiles: the region, or empty for none (field left out).
  std::string region;
  /// Impressions: the position in the row.
  int32_t position = 0;
  /// Feedback: +1 or -1.
  int value = 0;
  /// Profiles: `max_age`, or nullopt for the field left out.
  std::optional<int> max_age;
  /// Catalog entries: each field, or nullopt for the field left out.
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> genres;
  std::optional<int> min_age;
  std::optional<int> year;
  std::optional<std::vector<std::string>> regions;
  std::optional<bool> available;
  /// The `Nats-Msg-Id` header: unique per event, the same on every retry.
  std::string msg_id;
  /// The stream sequence of the PubAck; 0 until acknowledged.
  uint64_t stream_seq = 0;

  /// Whether the event names a user (all but catalog events).
  bool has_user() const { return kind != type::catalog; }

  /// Whether the event names a title (all but profile events).
  bool has_title() const { return kind != type::profile; }

  std::string subject(const std::string& prefix) const {
    switch (kind) {
    case type::profile:
      return prefix + ".v1.profile." + user;
    case type::catalog:
      return prefix + ".v1.catalog." + title;
    default:
      break;
    }
    static constexpr const char* names[] = {"play", "impression", "feedback"};
    return prefix + ".v1.events." + names[static_cast<int>(kind)] + "." + user;
  }

  /// The JSON body. Names, genres and regions are plain text: nothing in
  /// them needs escaping.
  std::string body() const {
    if (kind == type::profile) {
      auto out = R"({"seq":)" + std::to_string(user_seq);
      if (max_age)
        out += R"(,"max_age":)" + std::to_string(*max_age);
      if (!region.empty())
        out += R"(,"region":")" + region + R"(")";
      return out + "}";
    }
    if (kind == type::catalog) {
      std::string out;
      auto field = [&out](const char* key, const std::string& json) {
        out += (out.empty() ? "{\"" : ",\"") + std::string{key} + "\":" + json;
      };
      auto list = [](const std::vector<std::string>& xs) {
        std::string json = "[";
        for (const auto& x : xs)
          json += (json.size() > 1 ? ",\"" : "\"") + x + "\"";
        return json + "]";
      };
      if (name)
        field("name", "\"" + *name + "\"");
      if (genres)
        field("genres", list(*genres));
      if (min_age)
        field("min_age", std::to_string(*min_age));
      if (year)
        field("year", std::to_string(*year));
      if (regions)
        field("regions", list(*regions));
      if (available)
        field("available", *available ? "true" : "false");
      return out.empty() ? "{}" : out + "}";
    }
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
    default:
      break;
    }
    return out + "}";
  }
};

} // namespace marquee::testing
