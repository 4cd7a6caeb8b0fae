// libFuzzer target: the event decoder (wire/event_decoder.hpp) on every
// subject kind.
//
// Input: one selector byte, then the payload. The selector minus '0',
// modulo 6, picks the subject: '0' play, '1' impression, '2' feedback (of
// user u42), '3' catalog (of title t7), '4' profile (of user u42); '5'
// reads the subject tail itself from the input, up to the first newline,
// and the payload after it. So seeds stay readable.
//
// Checked beyond "no crash, no sanitizer report": a rejection names one of
// the contract's reasons and says why; an accepted event holds ids valid per
// the contract, values within the contract's ranges, and a time no further
// ahead than the limit.

#include "wire/event_decoder.hpp"

#include "domain/ids.hpp"
#include "tests/fuzz/support.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>

using namespace marquee;
using fuzz::check;

namespace {

constexpr int64_t now_ms = 1'732'240'000'123;

bool valid_key(const interner& table, uint32_t key) {
  return key < table.size() && is_valid_id(table.name(key));
}

bool valid_tokens(const interner& table, const std::vector<uint32_t>& keys) {
  if (!std::is_sorted(keys.begin(), keys.end()) ||
      std::adjacent_find(keys.begin(), keys.end()) != keys.end())
    return false;
  return std::all_of(keys.begin(), keys.end(), [&](uint32_t k) {
    return k < table.size() && !table.name(k).empty() &&
           table.name(k).size() <= max_id_length;
  });
}

bool valid_region(const interner& table, region_key r) {
  return r == all_regions || (r < table.size() && !table.name(r).empty() &&
                              table.name(r).size() <= max_id_length);
}

bool valid_ts(int64_t ts, const decode_limits& limits) {
  return ts >= 0 && ts <= now_ms + limits.max_future_ms;
}

void check_event(const decoded_event& ev, std::string_view key_token,
                 const decode_limits& limits, const id_tables& ids) {
  if (auto r = std::get_if<rejection>(&ev)) {
    check(static_cast<size_t>(r->reason) < dlq_reason_count,
          "rejection reason is one of json, schema, id, size, time");
    auto name = std::string_view{to_string(r->reason)};
    check(name == "json" || name == "schema" || name == "id" ||
            name == "size" || name == "time",
          "rejection reason names a dead-letter subject");
    check(!r->message.empty(), "a rejection says why");
    return;
  }
  if (auto e = std::get_if<play_event>(&ev)) {
    check(valid_key(ids.users, e->user), "play: valid user id");
    check(ids.users.name(e->user) == key_token, "play: user of the subject");
    check(valid_key(ids.titles, e->title), "play: valid title id");
    check(valid_ts(e->ts, limits), "play: ts in range");
    check(e->progress >= 0.0 && e->progress <= 1.0, "play: progress 0..1");
    check(valid_region(ids.regions, e->region), "play: region");
  } else if (auto e = std::get_if<impression_event>(&ev)) {
    check(valid_key(ids.users, e->user), "impression: valid user id");
    check(ids.users.name(e->user) == key_token,
          "impression: user of the subject");
    check(valid_key(ids.titles, e->title), "impression: valid title id");
    check(valid_ts(e->ts, limits), "impression: ts in range");
    check(e->position >= -1 && e->position <= 1'000'000,
          "impression: position");
  } else if (auto e = std::get_if<feedback_event>(&ev)) {
    check(valid_key(ids.users, e->user), "feedback: valid user id");
    check(ids.users.name(e->user) == key_token,
          "feedback: user of the subject");
    check(valid_key(ids.titles, e->title), "feedback: valid title id");
    check(valid_ts(e->ts, limits), "feedback: ts in range");
    check(e->value == 1 || e->value == -1, "feedback: value +1 or -1");
  } else if (auto e = std::get_if<catalog_event>(&ev)) {
    check(valid_key(ids.titles, e->title), "catalog: valid title id");
    check(ids.titles.name(e->title) == key_token,
          "catalog: title of the subject");
    check(e->meta.name.size() <= 1024, "catalog: name length");
    check(e->meta.min_age >= 0 && e->meta.min_age <= 150, "catalog: min_age");
    check(e->meta.year >= 0 && e->meta.year <= 9999, "catalog: year");
    check(valid_tokens(ids.genres, e->meta.genres), "catalog: genres");
    check(valid_tokens(ids.regions, e->meta.regions), "catalog: regions");
  } else if (auto e = std::get_if<profile_event>(&ev)) {
    check(valid_key(ids.users, e->user), "profile: valid user id");
    check(ids.users.name(e->user) == key_token, "profile: user of the subject");
    if (e->profile.max_age)
      check(*e->profile.max_age >= 0 && *e->profile.max_age <= 150,
            "profile: max_age");
    if (e->profile.region)
      check(valid_region(ids.regions, *e->profile.region), "profile: region");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  static const char* const subjects[] = {
    "events.play.u42", "events.impression.u42", "events.feedback.u42",
    "catalog.t7",      "profile.u42",
  };
  std::string_view input{reinterpret_cast<const char*>(data) + 1, size - 1};
  std::string_view tail;
  std::string_view payload;
  auto mode = static_cast<uint8_t>(data[0] - '0') % 6;
  if (mode < 5) {
    tail = subjects[mode];
    payload = input;
  } else {
    auto nl = input.find('\n');
    tail = input.substr(0, nl);
    payload =
      nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  }
  auto& ids = fuzz::scratch_tables();
  decode_limits limits;
  auto ev = decode_event(tail, payload, now_ms, limits, ids);
  auto last_dot = tail.rfind('.');
  auto key_token = last_dot == std::string_view::npos
                     ? std::string_view{}
                     : tail.substr(last_dot + 1);
  check_event(ev, key_token, limits, ids);
  return 0;
}
