#pragma once

/// How marquee and its tools prove to NATS who they are, and check whom they
/// talk to: a user and password, a `.creds` file (user JWT and nkey seed) or
/// an nkey, and TLS with the CA that signed the server's certificate (the
/// server's name is verified) plus an optional client certificate. The
/// access-control model they plug into is in docs/security.md.
///
/// Plain data and free functions; no state, safe from any thread (each
/// `natsOptions` belongs to one thread while it is being filled). Never
/// throws; errors are one-line strings naming the configuration key
/// (`nats.tls_ca`, ...) at fault.

#include <string>

// nats.h's options handle, named here so that this header stays free of the
// C API (the same declaration as nats.h's).
typedef struct __natsOptions natsOptions;

namespace marquee {

/// Credentials and TLS settings of one NATS connection. Every field is
/// optional; empty means unset. At most one identity: user and password,
/// `creds`, or `nkey` with `nkey_seed`.
struct nats_auth {
  std::string user;      // nats.user, with password
  std::string password;  // nats.password; never logged or printed
  std::string creds;     // nats.creds: a .creds file (user JWT + nkey seed)
  std::string nkey;      // nats.nkey: an nkey public key (U...), with the seed
  std::string nkey_seed; // nats.nkey_seed: a file holding its seed (SU...)
  std::string tls_ca;    // nats.tls_ca: PEM CA bundle; TLS on, server verified
  std::string tls_cert;  // nats.tls_cert: PEM client certificate chain
  std::string tls_key;   // nats.tls_key: its private key
  std::string tls_hostname; // nats.tls_hostname; empty: the URL's host

  /// Whether the connection uses TLS (a CA or a client certificate given).
  bool tls() const { return !tls_ca.empty() || !tls_cert.empty(); }
};

/// Checks that `auth` is consistent (one identity, pairs complete, a
/// `tls://` URL with a CA) and that every file it names can be read.
bool check_auth(const nats_auth& auth, const std::string& url,
                std::string& error);

/// Checks `auth` (as `check_auth`) and applies it to `opts` for connections
/// to `url`. With TLS, the server's certificate must chain to `tls_ca` and
/// name `tls_hostname` (default: the host of the first URL). False and a
/// one-line reason on any failure; `opts` is then partly filled.
bool apply_auth(natsOptions* opts, const std::string& url,
                const nats_auth& auth, std::string& error);

/// The host of the first server in `url` (`nats://u:p@host:4222,...` gives
/// `host`; `[::1]` gives `::1`); empty if there is none.
std::string url_host(const std::string& url);

/// Why the last NATS call of this thread failed, in one line: the status
/// and, when the library says more (a TLS handshake error, a permissions
/// violation), that too.
std::string nats_failure(int status);

} // namespace marquee
