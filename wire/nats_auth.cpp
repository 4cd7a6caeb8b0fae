#include "wire/nats_auth.hpp"

#include <nats/nats.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace marquee {

namespace {

/// Whether `path` can be opened for reading; else why not, naming `key`.
bool readable(const char* key, const std::string& path, std::string& error) {
  std::ifstream in{path};
  if (in.good())
    return true;
  error = std::string{key} + ": cannot read '" + path +
          "': " + std::strerror(errno != 0 ? errno : ENOENT);
  return false;
}

/// How long a connection with a password may take to be accepted.
constexpr int64_t handshake_timeout_ms = 10'000;

bool starts_with(const std::string& text, const char* head) {
  return text.rfind(head, 0) == 0;
}

} // namespace

std::string url_host(const std::string& url) {
  auto first = url.substr(0, url.find(','));
  auto scheme = first.find("://");
  auto rest = scheme == std::string::npos ? first : first.substr(scheme + 3);
  if (auto at = rest.rfind('@'); at != std::string::npos)
    rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    return close == std::string::npos ? std::string{}
                                      : rest.substr(1, close - 1);
  }
  return rest.substr(0, rest.find_first_of(":/"));
}

bool check_auth(const nats_auth& auth, const std::string& url,
                std::string& error) {
  int identities = (!auth.user.empty() || !auth.password.empty()) +
                   !auth.creds.empty() +
                   (!auth.nkey.empty() || !auth.nkey_seed.empty());
  if (identities > 1) {
    error = "give one identity: nats.user and nats.password, nats.creds, or "
            "nats.nkey and nats.nkey_seed";
    return false;
  }
  if (auth.user.empty() != auth.password.empty()) {
    error = auth.user.empty() ? "nats.password is set but nats.user is not"
                              : "nats.user '" + auth.user +
                                  "' needs nats.password (or "
                                  "MARQUEE_NATS_PASSWORD)";
    return false;
  }
  if (auth.nkey.empty() != auth.nkey_seed.empty()) {
    error = auth.nkey.empty()
              ? "nats.nkey_seed needs nats.nkey, the user's public key (U...)"
              : "nats.nkey needs nats.nkey_seed, the file of its seed";
    return false;
  }
  if (!auth.nkey.empty() && !starts_with(auth.nkey, "U")) {
    error =
      "nats.nkey must be a user public key (U...), not '" + auth.nkey + "'";
    return false;
  }
  if (auth.tls_cert.empty() != auth.tls_key.empty()) {
    error = "nats.tls_cert and nats.tls_key go together (a client certificate "
            "and its key)";
    return false;
  }
  auto scheme_tls = starts_with(url, "tls://");
  if (scheme_tls && auth.tls_ca.empty()) {
    error = "a tls:// URL needs nats.tls_ca, the CA that signed the server's "
            "certificate";
    return false;
  }
  if (!auth.tls_hostname.empty() && !auth.tls() && !scheme_tls) {
    error = "nats.tls_hostname is set but TLS is not (set nats.tls_ca)";
    return false;
  }
  return (auth.creds.empty() || readable("nats.creds", auth.creds, error)) &&
         (auth.nkey_seed.empty() ||
          readable("nats.nkey_seed", auth.nkey_seed, error)) &&
         (auth.tls_ca.empty() || readable("nats.tls_ca", auth.tls_ca, error)) &&
         (auth.tls_cert.empty() ||
          readable("nats.tls_cert", auth.tls_cert, error)) &&
         (auth.tls_key.empty() ||
          readable("nats.tls_key", auth.tls_key, error));
}

std::string nats_failure(int status) {
  auto st = static_cast<natsStatus>(status);
  std::string text = natsStatus_GetText(st);
  natsStatus last_status = NATS_OK;
  const char* last = nats_GetLastError(&last_status);
  std::string detail = last != nullptr ? last : "";
  // The library puts where it failed first: "(conn.c:733): SSL ...".
  if (!detail.empty() && detail[0] == '(')
    if (auto end = detail.find("): "); end != std::string::npos)
      detail = detail.substr(end + 3);
  if (!detail.empty() && detail != text)
    text += ": " + detail;
  return text;
}

bool apply_auth(natsOptions* opts, const std::string& url,
                const nats_auth& auth, std::string& error) {
  if (!check_auth(auth, url, error))
    return false;
  auto failed = [&error](const char* key, natsStatus st) {
    error = std::string{key} + ": " + nats_failure(st);
    return false;
  };
  natsStatus st = NATS_OK;
  // The server checks a bcrypt'd password at every connection: about a
  // second at cost 11 on a busy two-core machine, half nats.c's default
  // handshake timeout (docs/security.md, "Known limits").
  if (!auth.user.empty() &&
      (st = natsOptions_SetTimeout(opts, handshake_timeout_ms)) != NATS_OK)
    return failed("nats.user", st);
  if (!auth.user.empty() &&
      (st = natsOptions_SetUserInfo(opts, auth.user.c_str(),
                                    auth.password.c_str())) != NATS_OK)
    return failed("nats.user", st);
  if (!auth.creds.empty() && (st = natsOptions_SetUserCredentialsFromFiles(
                                opts, auth.creds.c_str(), nullptr)) != NATS_OK)
    return failed("nats.creds", st);
  if (!auth.nkey.empty() &&
      (st = natsOptions_SetNKeyFromSeed(opts, auth.nkey.c_str(),
                                        auth.nkey_seed.c_str())) != NATS_OK)
    return failed("nats.nkey_seed", st);
  if (!auth.tls() && !starts_with(url, "tls://"))
    return true;
  // The CA and the client certificate are read now, so a bad file is
  // reported here and not at the first connection.
  if ((st = natsOptions_SetSecure(opts, true)) != NATS_OK)
    return failed("nats.tls_ca", st);
  if (!auth.tls_ca.empty() && (st = natsOptions_LoadCATrustedCertificates(
                                 opts, auth.tls_ca.c_str())) != NATS_OK)
    return failed("nats.tls_ca", st);
  if (!auth.tls_cert.empty() &&
      (st = natsOptions_LoadCertificatesChain(opts, auth.tls_cert.c_str(),
                                              auth.tls_key.c_str())) != NATS_OK)
    return failed("nats.tls_cert", st);
  // nats.c checks the server's name only when told which name to expect.
  auto host = auth.tls_hostname.empty() ? url_host(url) : auth.tls_hostname;
  if (host.empty()) {
    error = "nats.tls_hostname: no server name to verify in '" + url +
            "'; set nats.tls_hostname";
    return false;
  }
  if ((st = natsOptions_SetExpectedHostname(opts, host.c_str())) != NATS_OK)
    return failed("nats.tls_hostname", st);
  return true;
}

} // namespace marquee
