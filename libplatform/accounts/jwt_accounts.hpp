#pragma once
// Decentralized (operator/JWT) accounts: nats-server's `operator`, `resolver` and
// `resolver_preload` settings, account JWTs turned into the same account entries a
// configuration file gives (exports, imports, limits), and what the login check needs
// from each account JWT (signing keys, scoped templates, revocations, defaults).
// Public keys only: nothing here holds or needs a seed. No CAF, no I/O beyond reading
// the operator JWT file and the resolver directory.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/crypto/jwt.hpp"

namespace platform::accounts {

// A user_scope signing key: users it signs get the template's permissions, whatever
// their own JWT says.
struct scoped_signing_key {
  std::string key, role;
  nlohmann::json template_;  // the user claims template (pub, sub, resp, src, times, ...)
};

// What logins need from one account JWT.
struct jwt_account {
  std::string public_key, name, jwt;
  int64_t issued_at = 0, expires = 0;
  std::vector<std::string> signing_keys;             // plain signing keys
  std::map<std::string, scoped_signing_key> scoped;  // by key
  std::map<std::string, int64_t> revocations;        // user key (or "*") -> unix time
  std::optional<user_permissions> default_permissions;
  std::vector<std::string> tags;
  bool disallow_bearer = false;
  bool may_sign(const std::string& key) const;  // the account key or one of its signing keys
  // A user issued at `issued_at` is revoked by revocations[user] or revocations["*"]
  // at or after that time.
  bool revoked(const std::string& user, int64_t issued_at) const;
};

struct operator_config {
  std::vector<std::string> operator_keys;  // trusted operator identity keys
  std::vector<std::string> signing_keys;   // their signing keys
  bool strict_signing = false;             // the identity key may not sign accounts
  std::string system_account;              // from the operator JWT, unless configured
  enum class resolver_kind { memory, full, cache } resolver = resolver_kind::memory;
  std::string dir;                             // full/cache: where account JWTs are kept
  bool allow_delete = false;
  std::map<std::string, std::string> preload;  // account key -> JWT
};

// Reads `operator`/`operators`/`trusted_keys`, `resolver`, `resolver_preload` and (in
// operator mode) `system_account` from a config root. nullopt when no operator is set.
// Throws config::parse_error.
std::optional<operator_config> load_operator_config(const config::value& root);

// Checks an account JWT against the operator: signature, type, subject, issuer (the
// operator or one of its signing keys; not the identity key under strict signing),
// exp/nbf. Returns the decoded token, or nullopt with the reason in *why.
std::optional<crypto::jwt> verify_account_jwt(const operator_config& op, std::string_view token, int64_t now,
                                              std::string* why);

// User permissions as JWT claims write them: pub{allow,deny}, sub{allow,deny},
// resp{max,ttl}. nullopt when the claims set none.
std::optional<user_permissions> permissions_from_claims(const nlohmann::json& claims);

// Builds the accounts of `jwts` (account key -> JWT, each verified with
// verify_account_jwt) into `cfg`, beside its system account. Imports that cannot be
// honoured (unknown exporter, no export, a missing or bad activation token) are left
// out with a line in `warnings`; the result is validated like a configuration file
// (throws config::parse_error). Accounts whose JWT does not verify are skipped with a
// warning.
void add_jwt_accounts(auth_config& cfg, const operator_config& op, const std::map<std::string, std::string>& jwts,
                      int64_t now, std::vector<std::string>& warnings);

// The whole auth configuration of operator mode: the accounts of `jwts` plus the
// system account and $G (add_jwt_accounts), with `op` attached.
auth_config operator_auth_config(std::shared_ptr<const operator_config> op, const std::map<std::string, std::string>& jwts,
                                 int64_t now, std::vector<std::string>& warnings);

// Reads the resolver directory: every "<account key>.jwt" file.
std::map<std::string, std::string> read_jwt_dir(const std::string& dir);

}  // namespace platform::accounts
