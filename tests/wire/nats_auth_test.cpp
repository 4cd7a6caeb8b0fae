// Credentials and TLS settings, checked before any connection, and the
// secured nats-server configuration as text. No network.

#include "bootstrap/config.hpp"
#include "bootstrap/nats_security.hpp"
#include "wire/nats_auth.hpp"

#include <catch2/catch.hpp>

#include <crypt.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace marquee;

TEST_CASE("the expected TLS name is the host of the first URL",
          "[wire][auth]") {
  struct row {
    const char* url;
    const char* host;
  };
  for (const auto& r : std::vector<row>{
         {"nats://127.0.0.1:4222", "127.0.0.1"},
         {"tls://nats.example.com:4222", "nats.example.com"},
         {"tls://user:pass@nats.example.com:4222", "nats.example.com"},
         {"nats://a.example.com:4222,nats://b.example.com:4222",
          "a.example.com"},
         {"tls://[::1]:4222", "::1"},
         {"nats.example.com", "nats.example.com"},
         {"", ""},
       }) {
    INFO(r.url);
    CHECK(url_host(r.url) == r.host);
  }
}

TEST_CASE("inconsistent credentials and unreadable files are refused with "
          "the key they concern",
          "[wire][auth]") {
  auto readable = std::filesystem::temp_directory_path() /
                  ("marquee-auth-test-" + std::to_string(::getpid()));
  std::ofstream{readable} << "x\n";
  auto file = readable.string();
  auto missing = file + ".missing";
  struct row {
    const char* what;
    nats_auth auth;
    std::string url;
    std::string error; // empty: accepted
  };
  auto with = [](auto fill) {
    nats_auth a;
    fill(a);
    return a;
  };
  const std::string nats = "nats://127.0.0.1:4222";
  std::vector<row> rows = {
    {"nothing", {}, nats, ""},
    {"user and password", with([](nats_auth& a) {
       a.user = "u";
       a.password = "p";
     }),
     nats, ""},
    {"user alone", with([](nats_auth& a) { a.user = "u"; }), nats,
     "nats.user 'u' needs nats.password"},
    {"password alone", with([](nats_auth& a) { a.password = "p"; }), nats,
     "nats.password is set but nats.user is not"},
    {"two identities", with([&](nats_auth& a) {
       a.user = "u";
       a.password = "p";
       a.creds = file;
     }),
     nats, "give one identity"},
    {"nkey without seed", with([](nats_auth& a) { a.nkey = "UABC"; }), nats,
     "nats.nkey needs nats.nkey_seed"},
    {"seed without nkey", with([&](nats_auth& a) { a.nkey_seed = file; }), nats,
     "nats.nkey_seed needs nats.nkey"},
    {"not a user nkey", with([&](nats_auth& a) {
       a.nkey = "SUABC";
       a.nkey_seed = file;
     }),
     nats, "nats.nkey must be a user public key"},
    {"certificate without key", with([&](nats_auth& a) { a.tls_cert = file; }),
     nats, "nats.tls_cert and nats.tls_key go together"},
    {"tls URL without CA", {}, "tls://127.0.0.1:4222", "needs nats.tls_ca"},
    {"hostname without TLS", with([](nats_auth& a) { a.tls_hostname = "x"; }),
     nats, "nats.tls_hostname is set but TLS is not"},
    {"missing CA", with([&](nats_auth& a) { a.tls_ca = missing; }), nats,
     "nats.tls_ca: cannot read '" + missing + "': No such file or directory"},
    {"missing creds", with([&](nats_auth& a) { a.creds = missing; }), nats,
     "nats.creds: cannot read '" + missing + "'"},
    {"missing seed", with([&](nats_auth& a) {
       a.nkey = "UABC";
       a.nkey_seed = missing;
     }),
     nats, "nats.nkey_seed: cannot read"},
    {"CA present", with([&](nats_auth& a) { a.tls_ca = file; }),
     "tls://127.0.0.1:4222", ""},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    std::string error;
    CHECK(check_auth(r.auth, r.url, error) == r.error.empty());
    INFO(error);
    CHECK(error.find(r.error) != std::string::npos);
  }
  std::filesystem::remove(readable);
}

TEST_CASE("the configuration's credentials come from nats.* keys and the "
          "environment, and the password is never printed",
          "[wire][auth][config]") {
  config cfg;
  std::string error;
  std::vector<std::string> vars = {"MARQUEE_NATS_USER=operator",
                                   "MARQUEE_NATS_PASSWORD=s3cret-Pa55",
                                   "NATS_URL=nats://127.0.0.1:4222"};
  std::vector<char*> env;
  for (auto& v : vars)
    env.push_back(v.data());
  env.push_back(nullptr);
  REQUIRE(cfg.load_env(env.data(), error));
  auto auth = cfg.to_nats_auth(error);
  REQUIRE(auth.has_value());
  CHECK(auth->user == "operator");
  CHECK(auth->password == "s3cret-Pa55");
  auto toml = cfg.to_toml();
  CHECK(toml.find("s3cret-Pa55") == std::string::npos);
  CHECK(toml.find("password = \"<redacted>\"") != std::string::npos);
  CHECK(config{}.to_toml().find("password = \"\"") != std::string::npos);
  REQUIRE(cfg.set("nats.tls_ca", "/nonexistent/ca.pem", error));
  CHECK_FALSE(cfg.to_nats_auth(error).has_value());
  CHECK(error == "nats.tls_ca: cannot read '/nonexistent/ca.pem': No such "
                 "file or directory");
}

TEST_CASE("a bcrypt hash made for the configuration verifies the password",
          "[wire][auth]") {
  std::string error;
  auto hash = bcrypt_hash("correct horse", 4, error);
  REQUIRE(hash.has_value());
  CHECK(hash->rfind("$2b$04$", 0) == 0);
  crypt_data data{};
  CHECK(std::string{crypt_rn("correct horse", hash->c_str(), &data,
                             sizeof data)} == *hash);
  crypt_data other{};
  CHECK(std::string{crypt_rn("wrong horse", hash->c_str(), &other,
                             sizeof other)} != *hash);
}

TEST_CASE("the secured configuration has one account per role, JetStream "
          "only for marquee, and no way in without credentials",
          "[wire][auth]") {
  // The configuration without its comments.
  auto code = [](const std::string& conf) {
    std::istringstream in{conf};
    std::string out;
    for (std::string line; std::getline(in, line);)
      if (line.rfind('#', 0) != 0)
        out += line + "\n";
    return out;
  };
  auto text = code(render_secure_config(template_spec()));
  // DESIGN.md's trap needs an authorization block; there is none, and no
  // user without a password.
  CHECK(text.find("authorization") == std::string::npos);
  CHECK(text.find("no_auth_user") == std::string::npos);
  CHECK(text.find("tls {") != std::string::npos);
  for (const auto& role : nats_roles()) {
    INFO(role.name);
    CHECK(text.find(std::string{"  "} + role.account + ": {") !=
          std::string::npos);
    CHECK(text.find(std::string{"user: \""} + role.name + "\"") !=
          std::string::npos);
  }
  size_t count = 0;
  for (size_t at = 0;
       (at = text.find("jetstream: enabled", at)) != std::string::npos; ++at)
    ++count;
  CHECK(count == 1);
  CHECK(text.find("allow_responses: true") ==
        text.rfind("allow_responses: true"));
  // Another prefix and stream name reach every subject.
  auto spec = template_spec();
  spec.prefix = "acme";
  spec.stream = "ACME_EVENTS";
  auto other = code(render_secure_config(spec));
  CHECK(other.find("\"marquee.v1.") == std::string::npos);
  CHECK(other.find("\"acme.v1.events.>\"") != std::string::npos);
  CHECK(other.find("$JS.ACK.ACME_EVENTS.>") != std::string::npos);
  CHECK(other.find(".MARQUEE") == std::string::npos);
}
