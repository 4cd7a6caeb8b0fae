#pragma once

/// marquee's access-control model as a nats-server 2.9 configuration, and
/// the files that secure a server with it: a CA, a server certificate, one
/// generated password per role, the configuration itself, and one env file
/// per role for the tools. See docs/security.md for the model and why it
/// has four accounts.
///
/// The roles: `producer` (account PRODUCERS) publishes events, catalog and
/// profiles; `client` (CLIENTS) asks for recommendations, impressions and
/// `$SRV` discovery; `operator` (OPERATORS) also calls the admin verbs and
/// reads the dead letters; `marquee` (MARQUEE) is the service, the only
/// account with JetStream. Each account's users see only what it imports.
///
/// Certificates come from the `openssl` command (Debian package openssl),
/// passwords from getrandom(2), bcrypt hashes from libcrypt. No state;
/// functions may run on any thread but two must not prepare the same
/// directory at once. Never throws: errors are one-line strings.

#include "wire/nats_auth.hpp"

#include <optional>
#include <string>
#include <vector>

namespace marquee {

/// A role of the model: its user name and its account.
struct nats_role {
  const char* name;    // the user name: producer, client, operator, marquee
  const char* account; // PRODUCERS, CLIENTS, OPERATORS, MARQUEE
};

/// The four roles, in the order of the configuration.
const std::vector<nats_role>& nats_roles();

/// One user of a configuration.
struct nats_user {
  std::string account; // one of the roles' accounts
  std::string name;
  std::string password_hash; // bcrypt ($2b$...), or a placeholder
  /// Test observers only: no permissions, so everything within the account.
  bool unrestricted = false;
};

/// What a configuration says besides the model itself.
struct secure_server_spec {
  std::string prefix = "marquee";          // subject prefix P
  std::string stream = "MARQUEE";          // marquee's JetStream stream
  std::string listen = "0.0.0.0:4222";     // empty: none (flags)
  std::string store_dir = "/var/lib/nats"; // empty: none (flags)
  std::string cert_file = "/etc/nats/server.pem";
  std::string key_file = "/etc/nats/server-key.pem";
  std::vector<nats_user> users; // at least one per role
};

/// The nats-server configuration of the model: TLS required, the four
/// accounts with their exports and imports, each user's permissions.
std::string render_secure_config(const secure_server_spec& spec);

/// `spec`'s users with placeholder hashes: the committed example,
/// deploy/nats-server-secure.conf (`marquee secure-setup --template`).
secure_server_spec template_spec();

/// A bcrypt hash of `password` at `cost` (4 to 31), as nats-server checks
/// it; nullopt and `error` if libcrypt cannot make one.
std::optional<std::string> bcrypt_hash(const std::string& password, int cost,
                                       std::string& error);

/// How to prepare a directory of secure-server files.
struct secure_setup_options {
  std::string dir; // created 0700 if missing; refused if others can read it
  std::string prefix = "marquee";
  std::string stream = "MARQUEE";
  std::string listen = "127.0.0.1:4222"; // empty: given as flags
  std::string store_dir; // JetStream store; empty: given as flags (-sd)
  std::vector<std::string> hosts = { // names in the server's certificate
    "127.0.0.1", "localhost"};
  int bcrypt_cost = 11;
  /// Tests only: unrestricted users (name, account, password) added.
  std::vector<std::pair<nats_user, std::string>> observers;
  std::string openssl = "openssl"; // the command, looked up in PATH
};

/// The files of a prepared directory.
struct secure_files {
  std::string dir;
  std::string ca;     // ca.pem: give it to every client as nats.tls_ca
  std::string config; // nats-server.conf
};

/// Prepares `opts.dir`: creates the CA and the server certificate when
/// missing (or expiring within 30 days), a password per role when missing,
/// and writes the server configuration with their bcrypt hashes. Existing
/// passwords and certificates are kept, so clients' settings stay valid
/// across restarts. Private keys and passwords are written 0600.
std::optional<secure_files> prepare_secure_dir(const secure_setup_options& opts,
                                               std::string& error);

/// The credentials of `role` in a prepared directory: its user, its
/// password, the directory's CA. The URL's host is the expected name.
std::optional<nats_auth> role_auth(const std::string& dir,
                                   const std::string& role, std::string& error);

/// Writes `<dir>/<role>.env` for each role: `NATS_URL` and the
/// `MARQUEE_NATS_*` variables of that role, for `. <dir>/<role>.env` before
/// `marquee request` or `marquee publish`.
bool write_role_env_files(const std::string& dir, const std::string& url,
                          std::string& error);

} // namespace marquee
