// Property: over random catalogs, profiles and histories, no recommendation
// ever shows a title the contract forbids: watched, thumbed down, too old
// for the user, unavailable, out of the user's region, without a catalog
// entry, excluded by the request, or outside the requested genres. Checked
// against the generated data itself, through a real service, on every row
// and on the similarity path.

#include "harness.hpp"

#include <map>
#include <optional>
#include <random>
#include <set>

using namespace marquee;
using namespace marquee::testing;

namespace {

struct title_spec {
  bool in_catalog = true;
  int min_age = 0;
  std::vector<std::string> regions; // empty: everywhere
  bool available = true;
  std::vector<std::string> genres;
};

struct user_spec {
  std::optional<int> max_age;
  std::optional<std::string> region;
  std::set<std::string> watched;
  std::set<std::string> thumbed_down;
};

const std::vector<std::string> genre_names = {"Drama", "Comedy", "Horror",
                                              "Kids"};
const std::vector<std::string> region_ids = {"US", "GB", "DE"};

std::string json_list(const std::vector<std::string>& xs) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i)
    out += (i ? ",\"" : "\"") + xs[i] + "\"";
  return out + "]";
}

/// Why `title` must not be shown to `user` for a request with `exclude`
/// and `genres`, or "" if it may.
std::string forbidden(const std::string& title, const title_spec& t,
                      const user_spec& u, const std::set<std::string>& exclude,
                      const std::vector<std::string>& genres) {
  if (!t.in_catalog)
    return "no catalog entry";
  if (!t.available)
    return "unavailable";
  if (u.watched.count(title))
    return "watched";
  if (u.thumbed_down.count(title))
    return "thumbed down";
  if (u.max_age && t.min_age > *u.max_age)
    return "too old for the user";
  if (!t.regions.empty() &&
      (!u.region || std::find(t.regions.begin(), t.regions.end(), *u.region) ==
                      t.regions.end()))
    return "out of region";
  if (exclude.count(title))
    return "excluded";
  if (!genres.empty()) {
    bool any = false;
    for (const auto& g : t.genres)
      any = any || std::find(genres.begin(), genres.end(), g) != genres.end();
    if (!any)
      return "outside the genres asked for";
  }
  return "";
}

} // namespace

TEST_CASE("no recommendation ever breaks a filter, over random catalogs, "
          "profiles and histories",
          "[integration][rec][property]") {
  // 'after' waits for the stream at most the time budget: a long one, so
  // that a loaded machine's slow apply is waited for, not refused (503).
  // A request returns as soon as its sequence is applied.
  harness h{{{"ingest.mode", "durable"}, {"rec.budget_ms", "4000"}}};
  std::mt19937 rng{GENERATE(1u, 2u, 3u)};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto chance = [&](int percent) {
    return static_cast<int>(rng() % 100) < percent;
  };
  const int64_t ts0 = now_ms() - 3'600'000;
  std::map<std::string, title_spec> titles;
  for (int i = 0; i < 40; ++i) {
    title_spec t;
    t.in_catalog = !chance(10);
    t.min_age = chance(25) ? (chance(50) ? 16 : 18) : 0;
    if (chance(30))
      t.regions = {region_ids[pick(3)]};
    t.available = !chance(10);
    t.genres = {genre_names[pick(4)]};
    if (chance(40))
      t.genres.push_back(genre_names[pick(4)]);
    std::sort(t.genres.begin(), t.genres.end());
    t.genres.erase(std::unique(t.genres.begin(), t.genres.end()),
                   t.genres.end());
    auto id = "t" + std::to_string(i);
    if (t.in_catalog) {
      std::string body = "{\"genres\":" + json_list(t.genres) +
                         ",\"min_age\":" + std::to_string(t.min_age) +
                         ",\"available\":" + (t.available ? "true" : "false");
      if (!t.regions.empty())
        body += ",\"regions\":" + json_list(t.regions);
      h.publish("catalog." + id, body + "}");
    }
    titles.emplace(id, t);
  }
  std::vector<std::string> title_ids;
  for (const auto& [id, t] : titles)
    title_ids.push_back(id);
  std::map<std::string, user_spec> users;
  int64_t ts = ts0;
  for (int i = 0; i < 25; ++i) {
    user_spec u;
    auto id = "u" + std::to_string(i);
    if (chance(60)) {
      if (chance(50))
        u.max_age = chance(50) ? 12 : 16;
      if (chance(70))
        u.region = region_ids[pick(3)];
      std::string body = "{";
      if (u.max_age)
        body += "\"max_age\":" + std::to_string(*u.max_age);
      if (u.region)
        body += std::string{u.max_age ? "," : ""} + "\"region\":\"" +
                *u.region + "\"";
      h.publish("profile." + id, body + "}");
    }
    // Plays (some partial), then thumbs, in time order.
    for (int p = 0, n = 3 + static_cast<int>(pick(10)); p < n; ++p) {
      const auto& t = title_ids[pick(title_ids.size())];
      double progress = chance(75) ? 1.0 : 0.5;
      if (progress >= 0.9)
        u.watched.insert(t);
      h.publish("events.play." + id, "{\"title\":\"" + t + "\",\"progress\":" +
                                       (progress >= 0.9 ? "1.0" : "0.5") +
                                       ",\"ts\":" + std::to_string(++ts) + "}");
    }
    if (chance(50)) {
      const auto& t = title_ids[pick(title_ids.size())];
      u.thumbed_down.insert(t);
      h.publish("events.feedback." + id,
                "{\"title\":\"" + t +
                  "\",\"value\":-1,\"ts\":" + std::to_string(++ts) + "}");
    }
    users.emplace(id, u);
  }
  // The last event through the stream's PubAck: every answer below is
  // given from state that applied all of the above.
  auto ack = h.ask_v1("events.play.u0", "{\"title\":\"" + title_ids[0] +
                                          "\",\"progress\":0.1,\"ts\":" +
                                          std::to_string(++ts) + "}");
  REQUIRE(ack.json.HasMember("seq"));
  auto after = std::to_string(ack.json["seq"].GetUint64());
  size_t items = 0;
  size_t similar_items = 0;
  for (const auto& [uid, u] : users) {
    for (const char* row :
         {"home", "because_you_watched", "trending", "continue_watching"}) {
      std::set<std::string> exclude;
      if (chance(30))
        exclude.insert(title_ids[pick(title_ids.size())]);
      std::vector<std::string> genres;
      if (chance(30))
        genres.push_back(genre_names[pick(4)]);
      std::string body =
        std::string{"{\"k\":50,\"row\":\""} + row + "\",\"after\":" + after +
        ",\"exclude\":" + json_list({exclude.begin(), exclude.end()});
      if (!genres.empty())
        body += ",\"genres\":" + json_list(genres);
      auto r = h.ask_v1("rec.user." + uid, body + "}");
      INFO(uid << " " << body << " -> " << r.msg.body);
      REQUIRE(r.error_code() == 0);
      for (const auto& item : r.json["items"].GetArray()) {
        std::string title = item["title"].GetString();
        REQUIRE(titles.count(title) == 1);
        INFO("title " << title);
        CHECK(forbidden(title, titles.at(title), u, exclude, genres) == "");
        ++items;
        if (std::string{item["reason"].GetString()} == "because_you_watched")
          ++similar_items;
      }
    }
  }
  // The property was exercised, on the similarity path too.
  CHECK(items > 100);
  CHECK(similar_items > 20);
}

TEST_CASE("a title shown often and never played sinks in the home row; "
          "explain names the fatigue",
          "[integration][rec]") {
  // 'after' waits for the stream at most the time budget: a long one, so
  // that a loaded machine's slow apply is waited for, not refused (503).
  // A request returns as soon as its sequence is applied.
  harness h{{{"ingest.mode", "durable"}, {"rec.budget_ms", "4000"}}};
  const int64_t ts = now_ms() - 3'600'000;
  for (int t = 0; t < 4; ++t)
    h.publish("catalog.t" + std::to_string(t), R"({"genres":["Drama"]})");
  // Everyone plays t0 then t1, t2, t3: all three are equally similar to t0.
  int64_t at = ts;
  for (int u = 0; u < 5; ++u)
    for (int t = 0; t < 4; ++t)
      h.publish("events.play.c" + std::to_string(u),
                R"({"title":"t)" + std::to_string(t) + R"(","ts":)" +
                  std::to_string(++at) + "}");
  h.publish("events.play.viewer",
            R"({"title":"t0","ts":)" + std::to_string(++at) + "}");
  auto ask_home = [&](const std::string& last_event_tail,
                      const std::string& last_event_body) {
    auto ack = h.ask_v1(last_event_tail, last_event_body);
    REQUIRE(ack.json.HasMember("seq"));
    return h.ask_v1("rec.user.viewer",
                    R"({"k":3,"explain":true,"after":)" +
                      std::to_string(ack.json["seq"].GetUint64()) + "}");
  };
  auto before = ask_home("events.impression.viewer",
                         R"({"title":"t0","ts":)" + std::to_string(++at) + "}");
  INFO(before.msg.body);
  REQUIRE(before.json["items"].Size() == 3);
  // t2 is shown five times and never played.
  for (int i = 0; i < 4; ++i)
    h.publish("events.impression.viewer",
              R"({"title":"t2","ts":)" + std::to_string(++at) + "}");
  auto after = ask_home("events.impression.viewer",
                        R"({"title":"t2","ts":)" + std::to_string(++at) + "}");
  INFO(after.msg.body);
  const auto& items = after.json["items"];
  REQUIRE(items.Size() == 3);
  CHECK(std::string{items[2]["title"].GetString()} == "t2");
  CHECK(items[2]["features"]["impression_fatigue"].GetDouble() > 4.0);
  CHECK(items[0]["features"]["impression_fatigue"].GetDouble() == 0.0);
  CHECK(items[2]["score"].GetDouble() < items[1]["score"].GetDouble() / 2);
}
