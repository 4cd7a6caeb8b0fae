#include "tools/replay.hpp"

#include "bootstrap/service.hpp"
#include "tools/prequential.hpp"
#include "tools/ratings.hpp"
#include "wire/nats_client.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace marquee {

namespace {

using steady = std::chrono::steady_clock;
namespace pq = prequential;

/// Ids as the contract allows them (MovieLens uses digits).
bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 64)
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '-';
  });
}

/// Dense indices of ids, in sorted order as the script numbers them.
struct id_index {
  std::vector<std::string> names;
  std::unordered_map<std::string, uint32_t> index;

  void build(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    names = std::move(ids);
    for (uint32_t i = 0; i < names.size(); ++i)
      index.emplace(names[i], i);
  }
};

std::string catalog_body(const movie* m) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  if (m != nullptr) {
    w.Key("name");
    w.String(m->name.c_str(), static_cast<rapidjson::SizeType>(m->name.size()));
    w.Key("genres");
    w.StartArray();
    for (const auto& g : m->genres)
      w.String(g.c_str(), static_cast<rapidjson::SizeType>(g.size()));
    w.EndArray();
    if (m->year > 0 && m->year <= 9999) {
      w.Key("year");
      w.Int(m->year);
    }
  }
  w.EndObject();
  return buf.GetString();
}

/// A system's line: `<name> HR@k=<x> NDCG@k=<y> ILD@k=<z>`.
std::string result_line(const std::string& name, const pq::scores& s,
                        uint32_t k) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-12s HR@%u=%.4f NDCG@%u=%.4f ILD@%u=%.4f",
                name.c_str(), k, s.hit_rate(), k, s.mean_ndcg(), k,
                s.mean_diversity());
  return buf;
}

/// Publishes in order, holding back the newest message so that a sync can
/// send it as a request: its PubAck names its stream sequence, and the
/// stream stored everything the connection published before it.
class publisher {
public:
  publisher(nats_client& client) : client_(client) {
    // nop
  }

  bool publish(std::string subject, std::string body, std::string& error) {
    if (held_ && !client_.publish(held_->first, held_->second, error))
      return false;
    if (held_)
      ++sent_;
    held_.emplace(std::move(subject), std::move(body));
    return true;
  }

  /// Sends the held message as a request; the stream sequence of the last
  /// message published, or nullopt (with `error`). Checks that the stream
  /// holds exactly what was published since the first sync.
  std::optional<uint64_t> sync(std::string& error) {
    if (!held_)
      return last_seq_;
    for (int attempt = 0;; ++attempt) {
      auto reply = client_.request(held_->first, held_->second,
                                   std::chrono::milliseconds{5000}, error);
      if (!reply) {
        if (attempt < 3)
          continue; // resending is safe only while nothing came back
        error = "no PubAck from the stream: " + error;
        return std::nullopt;
      }
      rapidjson::Document d;
      d.Parse(reply->body.c_str());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("seq") ||
          !d["seq"].IsUint64()) {
        error = "publishing to " + held_->first +
                " did not reach a stream (is ingest.mode durable?): " +
                reply->body.substr(0, 200);
        return std::nullopt;
      }
      ++sent_;
      held_.reset();
      auto seq = d["seq"].GetUint64();
      if (!base_)
        base_ = seq - sent_;
      if (seq != *base_ + sent_) {
        error = "the stream holds " + std::to_string(seq - *base_) +
                " messages since the replay began, but it published " +
                std::to_string(sent_) +
                ": another producer publishes to it, or messages were lost";
        return std::nullopt;
      }
      last_seq_ = seq;
      return seq;
    }
  }

  uint64_t sent() const { return sent_ + (held_ ? 1 : 0); }

private:
  nats_client& client_;
  std::optional<std::pair<std::string, std::string>> held_;
  uint64_t sent_ = 0;
  std::optional<uint64_t> base_;
  uint64_t last_seq_ = 0;
};

/// Microseconds at quantile `q` of `xs` (sorted in place).
int64_t quantile(std::vector<int64_t>& xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

} // namespace

bool run_replay(const replay_options& opts, std::ostream& out,
                std::ostream& log, std::string& error) {
  auto started = steady::now();
  auto ratings = load_ratings(opts.ratings, error);
  if (!ratings)
    return false;
  if (opts.limit > 0 && ratings->size() > opts.limit)
    ratings->resize(opts.limit);
  if (ratings->empty()) {
    error = opts.ratings + " holds no ratings";
    return false;
  }
  std::vector<movie> movies;
  auto movies_path =
    opts.movies.empty() ? movies_beside(opts.ratings) : opts.movies;
  if (!movies_path.empty()) {
    auto loaded = load_movies(movies_path, error);
    if (!loaded)
      return false;
    movies = std::move(*loaded);
  }

  // Dense indices, as the script's; ids must be valid subject tokens.
  id_index users;
  id_index titles;
  {
    std::vector<std::string> u;
    std::vector<std::string> t;
    for (const auto& r : *ratings) {
      u.push_back(r.user);
      t.push_back(r.title);
    }
    users.build(std::move(u));
    titles.build(std::move(t));
  }
  for (const auto* ids : {&users.names, &titles.names})
    for (const auto& id : *ids)
      if (!valid_id(id)) {
        error = "'" + id.substr(0, 80) +
                "' is not a valid marquee id (1 to 64 of [A-Za-z0-9_:-])";
        return false;
      }
  std::unordered_map<std::string, const movie*> meta;
  for (const auto& m : movies)
    meta.emplace(m.id, &m);
  pq::genre_distance distance;
  {
    std::map<std::string, uint32_t> genre_ids;
    for (uint32_t t = 0; t < titles.names.size(); ++t) {
      auto i = meta.find(titles.names[t]);
      if (i == meta.end())
        continue;
      std::vector<uint32_t> gs;
      for (const auto& g : i->second->genres)
        gs.push_back(genre_ids.emplace(g, genre_ids.size()).first->second);
      distance.set(t, std::move(gs));
    }
  }

  // The service: our own unless a NATS URL is configured.
  config cfg = opts.service;
  std::unique_ptr<service> svc;
  std::optional<std::filesystem::path> temp_data;
  std::string url = cfg.get("nats.url");
  std::string prefix = cfg.get("service.prefix");
  if (url.empty()) {
    auto data_dir = opts.data_dir;
    if (data_dir.empty()) {
      char tmpl[] = "/tmp/marquee-replay-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) {
        error = "cannot create a temporary data directory in /tmp";
        return false;
      }
      temp_data = tmpl;
      data_dir = tmpl;
    }
    if (!cfg.set("service.data_dir", data_dir, error) ||
        !cfg.set("ingest.mode", "durable", error))
      return false;
    log << "replay: starting marquee (embedded nats-server, data in "
        << data_dir << ")\n";
    svc = service::start(cfg, error);
    if (!svc) {
      if (temp_data)
        std::filesystem::remove_all(*temp_data);
      error = "cannot start marquee: " + error;
      return false;
    }
    url = svc->info().nats_url;
    prefix = svc->info().prefix;
  }
  // Whatever happens next, our own service stops and its data goes.
  struct cleanup {
    std::unique_ptr<service>& svc;
    std::optional<std::filesystem::path>& dir;
    ~cleanup() {
      if (svc)
        svc->stop();
      svc.reset();
      if (dir) {
        std::error_code ec;
        std::filesystem::remove_all(*dir, ec);
      }
    }
  } guard{svc, temp_data};

  auto client = nats_client::connect(url, error, true);
  if (!client)
    return false;
  auto base = prefix + ".v1.";
  publisher pub{*client};
  for (const auto& id : titles.names) {
    auto i = meta.find(id);
    if (!pub.publish(base + "catalog." + id,
                     catalog_body(i == meta.end() ? nullptr : i->second),
                     error))
      return false;
  }

  auto positions =
    pq::query_positions(ratings->size(), opts.warmup, opts.queries, opts.seed);
  size_t next_query = 0;
  pq::baselines models{titles.names.size()};
  std::vector<std::vector<uint32_t>> history(users.names.size());
  std::vector<std::unordered_set<uint32_t>> seen(users.names.size());
  pq::scores s_marquee;
  pq::scores s_popularity;
  pq::scores s_knn;
  size_t fallbacks = 0;
  size_t unknown_titles = 0;
  size_t retries = 0;
  std::vector<int64_t> latencies_us;
  std::vector<int64_t> serve_us;
  auto count = [&](pq::scores& s, const std::vector<uint32_t>& top,
                   uint32_t target) {
    s.add(top, target);
    if (top.size() >= 2) {
      s.diversity += distance.of_list(top);
      ++s.diverse_lists;
    }
  };
  size_t tenth = std::max<size_t>(1, ratings->size() / 10);
  for (size_t i = 0; i < ratings->size(); ++i) {
    const auto& r = (*ratings)[i];
    auto u = users.index.at(r.user);
    auto t = titles.index.at(r.title);
    bool sampled = next_query < positions.size() && positions[next_query] == i;
    if (sampled)
      ++next_query;
    if (sampled && !history[u].empty() && seen[u].count(t) == 0) {
      auto seq = pub.sync(error);
      if (!seq)
        return false;
      std::string body = "{\"k\":" + std::to_string(opts.k) +
                         ",\"at\":" + std::to_string(r.ts_s * 1000) +
                         ",\"after\":" + std::to_string(*seq);
      if (!opts.variant.empty())
        body += ",\"variant\":\"" + opts.variant + "\"";
      body += "}";
      std::optional<nats_message> reply;
      for (int attempt = 0;; ++attempt) {
        auto asked = steady::now();
        reply = client->request(base + "rec.user." + r.user, body,
                                std::chrono::milliseconds{5000}, error);
        if (!reply) {
          error = "no answer to rec.user." + r.user + ": " + error;
          return false;
        }
        auto code = reply->header("Nats-Service-Error-Code");
        if (code.empty()) {
          latencies_us.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(
              steady::now() - asked)
              .count());
          break;
        }
        // Not applied yet (a slow moment) or overloaded: ask again.
        if ((code == "503" || code == "429") && attempt < 100) {
          ++retries;
          std::this_thread::sleep_for(std::chrono::milliseconds{10});
          continue;
        }
        error = "rec.user." + r.user + " answered " + code + ": " +
                reply->header("Nats-Service-Error");
        return false;
      }
      rapidjson::Document d;
      d.Parse(reply->body.c_str());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("items") ||
          !d["items"].IsArray()) {
        error = "rec.user." + r.user +
                " answered something else than a recommendation: " +
                reply->body.substr(0, 200);
        return false;
      }
      if (d.HasMember("fallback") && d["fallback"].IsBool() &&
          d["fallback"].GetBool())
        ++fallbacks;
      {
        // The same question again, now that nothing is pending: how long
        // answering takes, without the wait for the stream.
        auto asked = steady::now();
        auto again = client->request(base + "rec.user." + r.user, body,
                                     std::chrono::milliseconds{5000}, error);
        if (again && again->header("Nats-Service-Error-Code").empty())
          serve_us.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(
              steady::now() - asked)
              .count());
      }
      std::vector<uint32_t> top;
      for (const auto& item : d["items"].GetArray()) {
        auto f = titles.index.find(item["title"].GetString());
        if (f == titles.index.end())
          ++unknown_titles;
        else
          top.push_back(f->second);
      }
      count(s_marquee, top, t);
      count(s_popularity, models.popularity(opts.k, seen[u]), t);
      count(s_knn, models.item_knn(history[u], opts.recent, opts.k, seen[u]),
            t);
    }
    if (!pub.publish(base + "events.play." + r.user,
                     "{\"title\":\"" + r.title +
                       "\",\"ts\":" + std::to_string(r.ts_s * 1000) + "}",
                     error))
      return false;
    models.apply(history[u], t);
    if (seen[u].insert(t).second)
      history[u].push_back(t);
    if ((i + 1) % tenth == 0)
      log << "replay: " << (i + 1) << " of " << ratings->size() << " events, "
          << s_marquee.queries << " queries, marquee HR@" << opts.k
          << " so far " << s_marquee.hit_rate() << "\n";
  }
  if (!pub.sync(error))
    return false;
  auto seconds = std::chrono::duration<double>(steady::now() - started).count();

  out << "file=" << opts.ratings << " events=" << ratings->size()
      << " users=" << users.names.size() << " titles=" << titles.names.size()
      << " queries=" << s_marquee.queries << " k=" << opts.k
      << " catalog=" << (movies_path.empty() ? "none" : movies_path) << "\n";
  out << result_line("popularity", s_popularity, opts.k) << "\n";
  out << result_line("item-knn", s_knn, opts.k) << " recent=" << opts.recent
      << "\n";
  auto p50 = quantile(latencies_us, 0.5);
  auto p99 = quantile(latencies_us, 0.99);
  out << result_line("marquee", s_marquee, opts.k) << " fallback=" << fallbacks
      << " fresh_p50_us=" << p50 << " fresh_p99_us=" << p99
      << " p50_us=" << quantile(serve_us, 0.5)
      << " p99_us=" << quantile(serve_us, 0.99) << " retries=" << retries;
  if (unknown_titles > 0)
    out << " unknown_titles=" << unknown_titles;
  out << " seconds=" << static_cast<int64_t>(seconds + 0.5) << "\n";
  return true;
}

} // namespace marquee
