#include "wire/service_docs.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <ctime>

namespace marquee {

namespace {

struct endpoint_def {
  const char* name;
  const char* subject; // after "P.v1."
};

constexpr endpoint_def endpoint_defs[listed_endpoints] = {
  {"recommend", "rec.user.*"},
  {"similar", "rec.similar.*"},
  {"trending", "rec.trending"},
  {"impressions", "impressions.*"},
};

constexpr const char* service_name = "marquee";
constexpr const char* queue_group = "q";

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                  now.time_since_epoch())
                  .count() %
                1'000'000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", static_cast<long>(micros));
  return buf;
}

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void common(writer& w, const char* type, const std::string& id,
            const std::string& version) {
  w.Key("type");
  w.String(type);
  w.Key("name");
  w.String(service_name);
  w.Key("id");
  w.String(id.c_str());
  w.Key("version");
  w.String(version.c_str());
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
}

} // namespace

service_stats::service_stats(std::string id, std::string version)
  : id_(std::move(id)), version_(std::move(version)), started_(rfc3339_now()) {
  // nop
}

void service_stats::record(endpoint_id ep, int64_t ns,
                           const std::string* error) {
  auto& c = counters_[static_cast<size_t>(ep)];
  c.requests.fetch_add(1, std::memory_order_relaxed);
  c.processing_ns.fetch_add(ns, std::memory_order_relaxed);
  if (error != nullptr) {
    c.errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> guard{mu_};
    last_error_[static_cast<size_t>(ep)] = *error;
  }
}

std::string service_stats::ping_json() const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  common(w, "io.nats.micro.v1.ping_response", id_, version_);
  w.EndObject();
  return buf.GetString();
}

std::string service_stats::info_json(const std::string& prefix) const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  common(w, "io.nats.micro.v1.info_response", id_, version_);
  w.Key("description");
  w.String("marquee: real-time recommendations from live actor state");
  w.Key("endpoints");
  w.StartArray();
  for (const auto& def : endpoint_defs) {
    auto subject = prefix + ".v1." + def.subject;
    w.StartObject();
    w.Key("name");
    w.String(def.name);
    w.Key("subject");
    w.String(subject.c_str());
    w.Key("queue_group");
    w.String(queue_group);
    w.Key("metadata");
    w.StartObject();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string service_stats::endpoints_json(const std::string& prefix) const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartArray();
  std::lock_guard<std::mutex> guard{mu_};
  for (size_t i = 0; i < listed_endpoints; ++i) {
    const auto& c = counters_[i];
    auto subject = prefix + ".v1." + endpoint_defs[i].subject;
    auto requests = c.requests.load();
    auto ns = c.processing_ns.load();
    w.StartObject();
    w.Key("name");
    w.String(endpoint_defs[i].name);
    w.Key("subject");
    w.String(subject.c_str());
    w.Key("queue_group");
    w.String(queue_group);
    w.Key("num_requests");
    w.Uint64(requests);
    w.Key("num_errors");
    w.Uint64(c.errors.load());
    w.Key("last_error");
    w.String(last_error_[i].c_str());
    w.Key("processing_time");
    w.Int64(ns);
    w.Key("average_processing_time");
    w.Int64(requests > 0 ? ns / static_cast<int64_t>(requests) : 0);
    w.EndObject();
  }
  w.EndArray();
  return buf.GetString();
}

std::string service_stats::stats_json(const std::string& prefix) const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  common(w, "io.nats.micro.v1.stats_response", id_, version_);
  w.Key("started");
  w.String(started_.c_str());
  w.Key("endpoints");
  auto eps = endpoints_json(prefix);
  w.RawValue(eps.c_str(), eps.size(), rapidjson::kArrayType);
  w.EndObject();
  return buf.GetString();
}

} // namespace marquee
