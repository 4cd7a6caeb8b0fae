#include "tools/demo_data.hpp"

#include <random>

namespace marquee {

namespace {

constexpr const char* adjectives[] = {
  "Silent",  "Crimson",  "Last",   "Hidden",   "Golden", "Broken",  "Wild",
  "Distant", "Electric", "Frozen", "Midnight", "Lucky",  "Burning", "Paper"};
constexpr const char* nouns[] = {
  "River",    "Kingdom", "Signal", "Garden", "Harbor", "Machine", "Orchard",
  "Frontier", "Lantern", "Empire", "Circus", "Voyage", "Archive", "Comet"};
constexpr const char* genres[] = {
  "Action",  "Animation", "Comedy",  "Crime",  "Documentary", "Drama",
  "Fantasy", "Horror",    "Romance", "Sci-Fi", "Thriller",    "Children"};
constexpr const char* regions[] = {"US", "GB", "DE", "FR", "BR"};
constexpr int64_t day_ms = 24 * 3600 * 1000;

template <class T, size_t N>
const T& pick(const T (&xs)[N], std::mt19937& rng) {
  return xs[std::uniform_int_distribution<size_t>{0, N - 1}(rng)];
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

} // namespace

std::vector<demo_message> make_demo_data(int64_t now_ms, uint32_t titles,
                                         uint32_t users, uint32_t events) {
  std::mt19937 rng{42};
  std::vector<demo_message> out;
  for (uint32_t t = 0; t < titles; ++t) {
    std::string name =
      std::string{"The "} + pick(adjectives, rng) + " " + pick(nouns, rng);
    std::string g1 = pick(genres, rng);
    std::string g2 = pick(genres, rng);
    bool kids = g1 == "Children" || g1 == "Animation";
    int min_age = kids ? 0 : std::uniform_int_distribution<int>{0, 3}(rng)*6;
    std::string body =
      "{\"name\":" + quoted(name) + ",\"genres\":[" + quoted(g1) +
      (g2 != g1 ? "," + quoted(g2) : "") +
      "],\"min_age\":" + std::to_string(min_age) +
      ",\"year\":" + std::to_string(1970 + static_cast<int>(t % 55));
    // One title in ten is offered in two regions only; one in fifty is
    // withdrawn.
    if (t % 10 == 3)
      body += ",\"regions\":[\"US\",\"GB\"]";
    if (t % 50 == 7)
      body += ",\"available\":false";
    body += "}";
    out.push_back({"catalog.t" + std::to_string(t), body});
  }
  for (uint32_t u = 0; u < users; ++u) {
    std::string body = std::string{"{\"region\":"} + quoted(pick(regions, rng));
    if (u % 10 == 0)
      body += ",\"max_age\":12";
    out.push_back({"profile.u" + std::to_string(u), body + "}"});
  }
  // Popularity follows a Zipf-like law: low title numbers are played more.
  std::vector<double> weights;
  for (uint32_t t = 0; t < titles; ++t)
    weights.push_back(1.0 / (1.0 + t));
  std::discrete_distribution<uint32_t> title_dist{weights.begin(),
                                                  weights.end()};
  std::uniform_int_distribution<uint32_t> user_dist{0, users - 1};
  std::uniform_real_distribution<double> unit{0.0, 1.0};
  for (uint32_t i = 0; i < events; ++i) {
    auto user = "u" + std::to_string(user_dist(rng));
    auto title = "t" + std::to_string(title_dist(rng));
    // Oldest first: the events of a week, in time order.
    auto ts =
      now_ms - 7 * day_ms +
      static_cast<int64_t>(i) * 7 * day_ms / static_cast<int64_t>(events);
    auto dice = unit(rng);
    std::string head =
      "{\"title\":" + quoted(title) + ",\"ts\":" + std::to_string(ts);
    if (dice < 0.55) {
      out.push_back(
        {"events.impression." + user, head + ",\"row\":\"home\",\"position\":" +
                                        std::to_string(i % 20) + "}"});
    } else if (dice < 0.92) {
      auto progress = unit(rng) < 0.7 ? 1.0 : unit(rng) * 0.8;
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.2f", progress);
      out.push_back({"events.play." + user,
                     head + ",\"progress\":" + buf + ",\"device\":\"tv\"}"});
    } else {
      out.push_back(
        {"events.feedback." + user,
         head + ",\"value\":" + (unit(rng) < 0.7 ? "1" : "-1") + "}"});
    }
  }
  return out;
}

} // namespace marquee
