// libFuzzer target: every request decoder of wire/request_codec.hpp.
//
// Input: one selector byte, then the request body. The selector minus '0',
// modulo 5, picks the decoder: '0' rec.user, '1' impressions,
// '2' rec.trending, '3' rec.similar, '4' the admin verbs' {"id":..}; so
// seeds stay readable. The parameters are the
// configuration's defaults with two experiment variants (control, B); the
// titles t7 and t9, the genre Comedy and the region US are known.
//
// Checked beyond "no crash, no sanitizer report": an accepted request holds
// values within the contract's ranges; a refused one says why, and its 400
// reply (body and header) is valid UTF-8 JSON and a valid header value
// whatever the body held.

#include "wire/request_codec.hpp"

#include "tests/fuzz/support.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

using namespace marquee;
using fuzz::check;

namespace {

constexpr int64_t now_ms = 1'732'240'000'123;

const service_params& params() {
  static const service_params p =
    fuzz::params_with({{"experiments.variants", "control,B"}});
  return p;
}

const id_tables& tables() {
  static id_tables* ids = [] {
    auto t = new id_tables;
    t->titles.intern("t7");
    t->titles.intern("t9");
    t->genres.intern("Comedy");
    t->regions.intern("US");
    t->users.intern("u42");
    return t;
  }();
  return *ids;
}

/// Whether `text` is one JSON document (simdjson validates UTF-8 too).
bool valid_json(const std::string& text) {
  thread_local simdjson::dom::parser parser;
  return parser.parse(text).error() == simdjson::SUCCESS;
}

template <class T>
const T* accepted(const std::variant<T, bad_request>& res) {
  if (auto bad = std::get_if<bad_request>(&res)) {
    check(!bad->message.empty(), "a 400 says why");
    check(valid_json(encode_error(400, bad->message)),
          "the 400 reply body is valid UTF-8 JSON");
    auto header = header_text(bad->message);
    check(std::none_of(header.begin(), header.end(),
                       [](unsigned char c) { return c < 0x20 || c == 0x7f; }),
          "the Nats-Service-Error header holds no control character");
    return nullptr;
  }
  return &std::get<T>(res);
}

template <class Keys>
bool sorted_unique(const Keys& keys) {
  return std::is_sorted(keys.begin(), keys.end()) &&
         std::adjacent_find(keys.begin(), keys.end()) == keys.end();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const auto& p = params();
  const auto& ids = tables();
  std::string_view body{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (static_cast<uint8_t>(data[0] - '0') % 5) {
  case 0: {
    auto res = decode_rec_request(0, "u42", body, now_ms, p, ids);
    if (auto q = accepted(res)) {
      check(q->k >= 1 && q->k <= p.rec.max_k, "rec: k in 1..max_k");
      check(q->at >= 0, "rec: at is a time");
      check(q->variant < p.experiments.variants.size(), "rec: variant");
      check(std::is_sorted(q->exclude.begin(), q->exclude.end()),
            "rec: exclude sorted");
      check(sorted_unique(q->genres), "rec: genres sorted, unique");
    }
    break;
  }
  case 1: {
    auto res = decode_impressions_request(0, body, now_ms, p, ids);
    if (auto q = accepted(res)) {
      const auto& w = q->query.windows_ms;
      check(!w.empty(), "impressions: some window");
      check(std::all_of(w.begin(), w.end(), [](int64_t ms) { return ms > 0; }),
            "impressions: windows are positive");
      check(q->window_names.size() == w.size(), "impressions: window names");
      auto names = q->window_names;
      std::sort(names.begin(), names.end());
      check(std::adjacent_find(names.begin(), names.end()) == names.end(),
            "impressions: window names unique (reply keys)");
      check(q->title_names.size() == q->query.titles.size(),
            "impressions: title names");
      check(std::all_of(q->title_names.begin(), q->title_names.end(),
                        [](const std::string& s) { return is_valid_id(s); }),
            "impressions: title ids valid");
      check(q->query.at >= 0, "impressions: at is a time");
    }
    break;
  }
  case 2: {
    auto res = decode_trending_request(body, now_ms, p, ids);
    if (auto q = accepted(res)) {
      check(q->k >= 1 && q->k <= p.rec.max_k, "trending: k in 1..max_k");
      check(q->window < p.trending.windows_ms.size(),
            "trending: a configured window");
      check(sorted_unique(q->genres), "trending: genres sorted, unique");
      check(q->at >= 0, "trending: at is a time");
    }
    break;
  }
  case 3: {
    auto res = decode_similar_request(body, p);
    if (auto k = accepted(res))
      check(*k >= 1 && *k <= p.rec.max_k, "similar: k in 1..max_k");
    break;
  }
  default: {
    auto res = decode_admin_id(body);
    if (auto id = accepted(res))
      check(is_valid_id(*id), "admin: a valid id");
    break;
  }
  }
  return 0;
}
