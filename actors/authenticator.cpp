#include "actors/authenticator.hpp"

#include <nlohmann/json.hpp>

#include "libplatform/crypto/encoding.hpp"
#include "libplatform/crypto/nkeys.hpp"

namespace actors {

using platform::accounts::is_bcrypt;
using platform::accounts::password_matches;

namespace {

nlohmann::json subject_permission_json(const std::optional<platform::accounts::subject_permission>& p) {
  if (!p) return nullptr;
  return {p->allow, p->deny, p->has_allow};
}

// Everything a user's record is built from, as one string.
std::string user_fingerprint(const platform::accounts::user_entry& u, const account& acc) {
  nlohmann::json j = {u.password, acc.id()};
  if (u.permissions) {
    auto& p = *u.permissions;
    j.push_back({subject_permission_json(p.publish), subject_permission_json(p.subscribe),
                 p.responses_max ? *p.responses_max : -1, p.responses_expires.count()});
  }
  return j.dump();
}

}  // namespace

authenticator::authenticator(const platform::accounts::auth_config& cfg, const account_registry& accounts) {
  required_ = cfg.auth_required();
  token_ = cfg.token;
  global_ = accounts.global();
  for (auto& u : cfg.users) {
    auto r = std::make_shared<user_record>();
    r->name = u.name;
    r->password = u.password;
    r->acc = accounts.find(u.account);
    if (!r->acc) r->acc = global_;
    if (u.permissions) r->permissions = std::make_shared<const permission_set>(*u.permissions);
    r->fingerprint = user_fingerprint(u, *r->acc);
    if (!u.nkey.empty()) nkeys_.emplace(u.nkey, r);
    else users_.emplace(u.name, std::move(r));
  }
  if (!cfg.no_auth_user.empty()) {
    auto it = users_.find(cfg.no_auth_user);
    if (it != users_.end()) no_auth_user_ = it->second;
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
  auto check = [&](const std::string& stored, const std::string& given, std::shared_ptr<const user_record> user,
                   account_ptr acc) {
    d.user = std::move(user);
    d.acc = std::move(acc);
    if (is_bcrypt(stored)) {
      d.result = outcome::verify_bcrypt;
      d.stored = stored;
      d.given = given;
    } else {
      d.result = password_matches(stored, given) ? outcome::accept : outcome::reject;
    }
    return d;
  };
  if (c.certificate) {
    for (auto& name : *c.certificate) {
      auto it = users_.find(name);
      if (it == users_.end()) continue;
      d.result = outcome::accept;
      d.user = it->second;
      d.acc = it->second->acc;
      return d;
    }
    return d;
  }
  if (!c.nkey.empty() && !nkeys_.empty()) {
    auto it = nkeys_.find(c.nkey);
    if (it == nkeys_.end() || c.nonce.empty()) return d;
    // nats-server reads the signature as base64url and falls back to standard base64.
    auto sig = platform::crypto::base64url_decode(c.sig, true);
    if (!sig || !platform::crypto::verify(c.nkey, c.nonce, *sig)) return d;
    d.result = outcome::accept;
    d.user = it->second;
    d.acc = it->second->acc;
    return d;
  }
  if (!c.user.empty()) {
    auto it = users_.find(c.user);
    if (it == users_.end()) return d;
    return check(it->second->password, c.pass, it->second, it->second->acc);
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

bool authenticator::still_valid(const user_record* user, const account& acc) const {
  if (!required_) return acc.id() == global_->id();
  if (!user) return !token_.empty() && acc.id() == global_->id();  // a token login
  auto& table = nkeys_.count(user->name) ? nkeys_ : users_;
  auto it = table.find(user->name);
  return it != table.end() && it->second->fingerprint == user->fingerprint && it->second->acc.get() == &acc;
}

}  // namespace actors
