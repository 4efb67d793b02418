#pragma once
// Who may connect, and as whom: the user table built from the configuration, and the
// decision for one CONNECT. Immutable after start-up; used by every I/O loop.
// Plain passwords are compared here in constant time. Bcrypt hashes are slow on
// purpose, so decide() hands them back to be verified off the I/O threads.
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "actors/account.hpp"
#include "actors/imports.hpp"
#include "actors/permissions.hpp"
#include "libplatform/accounts/auth_config.hpp"

namespace actors {

struct user_record {
  std::string name;
  std::string password;  // plain or bcrypt
  account* acc = nullptr;
  std::shared_ptr<const permission_set> permissions;  // null: unrestricted
};

struct credentials {
  std::string user, pass, token;
};

class authenticator {
 public:
  authenticator() = default;
  authenticator(const platform::accounts::auth_config& cfg, const account_map& accounts);

  bool required() const noexcept { return required_; }
  // What INFO says: false when clients without credentials are let in as no_auth_user.
  bool advertise_auth_required() const noexcept { return required_ && no_auth_user_ == nullptr; }

  struct decision {
    enum class outcome { accept, reject, verify_bcrypt } result = outcome::reject;
    const user_record* user = nullptr;  // accept/verify: the user (null for token auth)
    account* acc = nullptr;             // accept/verify: the account to bind
    std::string stored, given;          // verify_bcrypt: the hash and the client's secret
  };
  decision decide(const credentials& c) const;

 private:
  bool required_ = false;
  std::unordered_map<std::string, user_record> users_;
  const user_record* no_auth_user_ = nullptr;
  std::string token_;
  account* global_ = nullptr;
};

}  // namespace actors
