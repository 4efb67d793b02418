#pragma once
// Who may connect, and as whom: the user table built from the configuration, and the
// decision for one CONNECT. Immutable once built; used by every I/O loop. A
// configuration reload builds a new one and swaps it in (server_core::set_auth()); a
// connection keeps the user record it logged in with.
// Plain passwords are compared here in constant time; nkey signatures are verified
// here too (Ed25519, tens of microseconds). Bcrypt hashes are slow on
// purpose, so decide() hands them back to be verified off the I/O threads.
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/account.hpp"
#include "actors/account_registry.hpp"
#include "actors/permissions.hpp"
#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/accounts/jwt_accounts.hpp"

namespace actors {

struct user_record {
  std::string name;
  std::string password;  // plain or bcrypt
  account_ptr acc;
  std::shared_ptr<const permission_set> permissions;  // null: unrestricted
  // The configuration this record was built from: a reload that changes it (password,
  // account, permissions) disconnects the user's clients, which log in again.
  std::string fingerprint;
  // Operator mode: a user JWT login. `name` is the user's public key.
  bool from_jwt = false;
  std::string jwt_name;              // the JWT's name claim
  std::string issuer;                // the key that signed the user JWT
  int64_t issued_at = 0, expires = 0;  // unix seconds; expires 0: never
  // A user JWT's subs and payload limits (-1: none). Dialtone reads a limit the JWT
  // leaves out as none; nats-server as 0 (tools always write them).
  int64_t max_subs = -1, max_payload = -1;
};

struct credentials {
  std::string user, pass, token;
  std::string nkey, sig;  // CONNECT nkey and sig (base64url signature of the nonce)
  std::string jwt;        // CONNECT jwt (operator mode)
  std::string_view remote_ip;  // for a user JWT's src CIDRs
  std::string_view nonce;  // what this connection's INFO carried
  // verify_and_map: the names the client certificate gives, in order; the first that is
  // a configured user logs in as that user, whatever else CONNECT says. Null otherwise.
  const std::vector<std::string>* certificate = nullptr;
};

class authenticator {
 public:
  authenticator() = default;
  authenticator(const platform::accounts::auth_config& cfg, const account_registry& accounts);

  bool required() const noexcept { return required_; }
  // INFO carries a nonce for clients to sign (nkey users are configured).
  bool wants_nonce() const noexcept { return !nkeys_.empty() || op_ != nullptr; }
  bool operator_mode() const noexcept { return op_ != nullptr; }
  // What INFO says: false when clients without credentials are let in as no_auth_user.
  bool advertise_auth_required() const noexcept { return required_ && no_auth_user_ == nullptr; }

  struct decision {
    enum class outcome { accept, reject, verify_bcrypt } result = outcome::reject;
    std::shared_ptr<const user_record> user;  // accept/verify: the user (null for token auth)
    account_ptr acc;                          // accept/verify: the account to bind
    std::string stored, given;          // verify_bcrypt: the hash and the client's secret
    // reject: why, for the server's log line only (the client always hears
    // 'Authorization Violation'); never holds a secret.
    std::string why;
  };
  decision decide(const credentials& c) const;
  // After a reload: may a client that logged in as `user` (null: token or no auth) in
  // `acc` stay connected under this table?
  bool still_valid(const user_record* user, const account& acc) const;

 private:
  bool required_ = false;
  std::unordered_map<std::string, std::shared_ptr<const user_record>> users_;
  std::unordered_map<std::string, std::shared_ptr<const user_record>> nkeys_;  // by public nkey
  decision decide_jwt(const credentials& c) const;
  // Operator mode: the trusted operators, and each JWT account with its runtime account.
  struct jwt_entry {
    std::shared_ptr<const platform::accounts::jwt_account> info;
    account_ptr acc;
  };
  std::shared_ptr<const platform::accounts::operator_config> op_;
  std::unordered_map<std::string, jwt_entry> jwt_accounts_;
  std::shared_ptr<const user_record> no_auth_user_;
  std::string token_;
  account_ptr global_;
};

}  // namespace actors
