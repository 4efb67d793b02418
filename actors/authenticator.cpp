#include "actors/authenticator.hpp"

namespace actors {

using platform::accounts::is_bcrypt;
using platform::accounts::password_matches;

authenticator::authenticator(const platform::accounts::auth_config& cfg, const account_map& accounts) {
  required_ = cfg.auth_required();
  token_ = cfg.token;
  global_ = accounts.find(global_account_name)->second.get();
  for (auto& u : cfg.users) {
    user_record r;
    r.name = u.name;
    r.password = u.password;
    auto it = accounts.find(u.account);
    r.acc = it == accounts.end() ? global_ : it->second.get();
    if (u.permissions) r.permissions = std::make_shared<const permission_set>(*u.permissions);
    users_.emplace(u.name, std::move(r));
  }
  if (!cfg.no_auth_user.empty()) {
    auto it = users_.find(cfg.no_auth_user);
    if (it != users_.end()) no_auth_user_ = &it->second;
  }
}

authenticator::decision authenticator::decide(const credentials& c) const {
  using outcome = decision::outcome;
  decision d;
  if (!required_) {
    d.result = outcome::accept;
    d.acc = global_;
    return d;
  }
  auto check = [&](const std::string& stored, const std::string& given, const user_record* user, account* acc) {
    d.user = user;
    d.acc = acc;
    if (is_bcrypt(stored)) {
      d.result = outcome::verify_bcrypt;
      d.stored = stored;
      d.given = given;
    } else {
      d.result = password_matches(stored, given) ? outcome::accept : outcome::reject;
    }
    return d;
  };
  if (!c.user.empty()) {
    auto it = users_.find(c.user);
    if (it == users_.end()) return d;
    return check(it->second.password, c.pass, &it->second, it->second.acc);
  }
  if (!c.token.empty()) {
    if (token_.empty()) return d;
    return check(token_, c.token, nullptr, global_);
  }
  if (no_auth_user_) {
    d.result = outcome::accept;
    d.user = no_auth_user_;
    d.acc = no_auth_user_->acc;
  }
  return d;
}

}  // namespace actors
