#include "actors/authenticator.hpp"

#include <nlohmann/json.hpp>

#include "libplatform/crypto/encoding.hpp"
#include "libplatform/crypto/jwt.hpp"
#include "libplatform/crypto/nkeys.hpp"

#include <arpa/inet.h>
#include <ctime>

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

// A JWT's src: CIDRs (an array, or one comma-separated string) the client must come from.
bool address_in(std::string_view ip, const std::string& cidr) {
  auto slash = cidr.find('/');
  std::string net = cidr.substr(0, slash);
  int bits = slash == std::string::npos ? -1 : std::atoi(cidr.c_str() + slash + 1);
  unsigned char a[16], b[16];
  int family = net.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  std::string ips(ip);
  if (inet_pton(family, net.c_str(), b) != 1 || inet_pton(family, ips.c_str(), a) != 1) return false;
  int total = family == AF_INET ? 32 : 128;
  if (bits < 0 || bits > total) bits = total;
  for (int i = 0; i < bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((a[byte] >> bit) & 1) != ((b[byte] >> bit) & 1)) return false;
  }
  return true;
}

bool source_allowed(const nlohmann::json& src, std::string_view ip) {
  std::vector<std::string> cidrs;
  if (src.is_string()) {
    std::string s = src.get<std::string>(), part;
    for (char ch : s + ",") {
      if (ch == ',') {
        if (!part.empty()) cidrs.push_back(part);
        part.clear();
      } else if (ch != ' ') {
        part.push_back(ch);
      }
    }
  } else if (src.is_array()) {
    for (auto& e : src)
      if (e.is_string()) cidrs.push_back(e.get<std::string>());
  }
  if (cidrs.empty()) return true;
  for (auto& c : cidrs)
    if (address_in(ip, c)) return true;
  return false;
}

// A JWT's times: [{start: "HH:MM:SS", end: "HH:MM:SS"}] in the server's local time (or
// UTC with times_location "UTC"); a range may wrap past midnight.
bool time_allowed(const nlohmann::json& times, const std::string& location) {
  if (!times.is_array() || times.empty()) return true;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (location == "UTC" || location == "Etc/UTC") gmtime_r(&now, &tm);
  else localtime_r(&now, &tm);
  int cur = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
  auto secs = [](const std::string& hms) {
    int h = 0, m = 0, s = 0;
    if (std::sscanf(hms.c_str(), "%d:%d:%d", &h, &m, &s) < 2) return -1;
    return h * 3600 + m * 60 + s;
  };
  for (auto& r : times) {
    if (!r.is_object()) continue;
    int a = secs(r.value("start", "")), b = secs(r.value("end", ""));
    if (a < 0 || b < 0) continue;
    if (a <= b ? (cur >= a && cur <= b) : (cur >= a || cur <= b)) return true;
  }
  return false;
}

// Scoped signing key templates: {{name()}}, {{subject()}}, {{account-name()}},
// {{account-subject()}}, {{tag(x)}} and {{account-tag(x)}} (a tag with several values
// gives one subject per value; a missing one drops the subject).
std::vector<std::string> expand_template(const std::string& subject, const platform::crypto::jwt& user,
                                         const platform::accounts::jwt_account& acc) {
  std::vector<std::string> out{subject};
  size_t guard = 0;
  for (;;) {
    bool changed = false;
    std::vector<std::string> next;
    for (auto& s : out) {
      auto open = s.find("{{");
      auto close = open == std::string::npos ? open : s.find("}}", open);
      if (close == std::string::npos) {
        next.push_back(s);
        continue;
      }
      changed = true;
      std::string fn = s.substr(open + 2, close - open - 2);
      fn.erase(std::remove(fn.begin(), fn.end(), ' '), fn.end());
      std::vector<std::string> values;
      auto tag_values = [](const std::vector<std::string>& tags, const std::string& key) {
        std::vector<std::string> v;
        for (auto& t : tags)
          if (t.rfind(key + ":", 0) == 0) v.push_back(t.substr(key.size() + 1));
        return v;
      };
      std::vector<std::string> user_tags;
      if (auto it = user.nats().find("tags"); it != user.nats().end() && it->is_array())
        for (auto& t : *it)
          if (t.is_string()) user_tags.push_back(t.get<std::string>());
      if (fn == "name()") values = {user.name};
      else if (fn == "subject()") values = {user.subject};
      else if (fn == "account-name()") values = {acc.name};
      else if (fn == "account-subject()") values = {acc.public_key};
      else if (fn.rfind("tag(", 0) == 0 && fn.back() == ')') values = tag_values(user_tags, fn.substr(4, fn.size() - 5));
      else if (fn.rfind("account-tag(", 0) == 0 && fn.back() == ')')
        values = tag_values(acc.tags, fn.substr(12, fn.size() - 13));
      for (auto& v : values)
        if (!v.empty()) next.push_back(s.substr(0, open) + v + s.substr(close + 2));
    }
    out.swap(next);
    if (!changed || ++guard > 8) break;
  }
  return out;
}

nlohmann::json expand_permissions(const nlohmann::json& tmpl, const platform::crypto::jwt& user,
                                  const platform::accounts::jwt_account& acc) {
  nlohmann::json out = tmpl;
  for (const char* dir : {"pub", "sub"}) {
    if (!out.contains(dir) || !out[dir].is_object()) continue;
    for (const char* list : {"allow", "deny"}) {
      if (!out[dir].contains(list) || !out[dir][list].is_array()) continue;
      nlohmann::json expanded = nlohmann::json::array();
      for (auto& s : out[dir][list])
        if (s.is_string())
          for (auto& e : expand_template(s.get<std::string>(), user, acc)) expanded.push_back(e);
      out[dir][list] = expanded;
    }
  }
  return out;
}

}  // namespace

authenticator::authenticator(const platform::accounts::auth_config& cfg, const account_registry& accounts) {
  required_ = cfg.auth_required();
  token_ = cfg.token;
  global_ = accounts.global();
  op_ = cfg.op;
  for (auto& a : cfg.accounts)
    if (a.jwt)
      if (auto acc = accounts.find(a.name)) jwt_accounts_[a.name] = {a.jwt, acc};
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
      if (d.result == outcome::reject) d.why = "password or token does not match";
    }
    return d;
  };
  if (op_) return decide_jwt(c);
  if (c.certificate) {
    for (auto& name : *c.certificate) {
      auto it = users_.find(name);
      if (it == users_.end()) continue;
      d.result = outcome::accept;
      d.user = it->second;
      d.acc = it->second->acc;
      return d;
    }
    d.why = "no user matches the client certificate";
    return d;
  }
  if (!c.nkey.empty() && !nkeys_.empty()) {
    auto it = nkeys_.find(c.nkey);
    if (it == nkeys_.end() || c.nonce.empty()) return d.why = "nkey not configured", d;
    // nats-server reads the signature as base64url and falls back to standard base64.
    auto sig = platform::crypto::base64url_decode(c.sig, true);
    if (!sig || !platform::crypto::verify(c.nkey, c.nonce, *sig))
      return d.why = c.sig.empty() ? "nkey login without a signature" : "nkey signature does not verify", d;
    d.result = outcome::accept;
    d.user = it->second;
    d.acc = it->second->acc;
    return d;
  }
  if (!c.user.empty()) {
    auto it = users_.find(c.user);
    if (it == users_.end()) return d.why = "unknown user", d;
    return check(it->second->password, c.pass, it->second, it->second->acc);
  }
  if (!c.token.empty()) {
    if (token_.empty()) return d.why = "no token is configured", d;
    return check(token_, c.token, nullptr, global_);
  }
  if (no_auth_user_) {
    d.result = outcome::accept;
    d.user = no_auth_user_;
    d.acc = no_auth_user_->acc;
  }
  return d;
}

authenticator::decision authenticator::decide_jwt(const credentials& c) const {
  namespace crypto = platform::crypto;
  decision d;  // reject
  auto reject = [&](std::string why) {
    d.why = std::move(why);
    return d;
  };
  if (c.jwt.empty()) return reject("operator mode needs a user JWT");
  std::string why;
  auto u = crypto::decode_jwt(c.jwt, &why);
  if (!u) return reject("user " + why);
  if (u->type != "user" || !crypto::is_public_key(u->subject, crypto::key_type::user)) return reject("not a user JWT");
  int64_t now = crypto::unix_now();
  if (!crypto::check_times(*u, now, &why)) return reject("user " + why);
  const auto& n = u->nats();
  std::string issuer_account = n.value("issuer_account", "");
  const std::string& acc_key = issuer_account.empty() ? u->issuer : issuer_account;
  auto it = jwt_accounts_.find(acc_key);
  if (it == jwt_accounts_.end()) return reject("account " + acc_key + " is not known to the resolver");
  const auto& info = *it->second.info;
  if (info.expires > 0 && now >= info.expires) return reject("account JWT expired");
  if (!info.may_sign(u->issuer)) return reject("the user JWT's issuer is not a key of account " + acc_key);
  // issuer_account names a signing key's account
  if (!issuer_account.empty() && u->issuer == info.public_key) return reject("issuer_account set by the account key");
  bool bearer = n.value("bearer_token", false);
  if (bearer) {
    if (info.disallow_bearer) return reject("the account does not allow bearer tokens");
  } else {
    auto sig = crypto::base64url_decode(c.sig, true);
    if (c.nonce.empty() || !sig || !crypto::verify(u->subject, c.nonce, *sig))
      return reject(c.sig.empty() ? "JWT login without a signature of the nonce" : "nonce signature does not verify");
  }
  if (info.revoked(u->subject, u->issued_at)) return reject("user revoked by the account");
  auto scoped = info.scoped.find(u->issuer);
  if (scoped != info.scoped.end()) {
    // A scoped key's users take its template; a user JWT that claims permissions or
    // limits of its own is refused (as nats-server does).
    for (const char* k : {"pub", "sub", "resp", "src", "times"}) {
      auto f = n.find(k);
      if (f != n.end() && !f->is_null() && !(f->is_object() && f->empty()) && !(f->is_array() && f->empty()))
        return reject("a scoped signing key's user JWT claims permissions of its own");
    }
    for (const char* k : {"subs", "data", "payload"})
      if (auto f = n.find(k); f != n.end() && f->is_number() && f->get<int64_t>() != 0)
        return reject("a scoped signing key's user JWT claims limits of its own");
  }
  const nlohmann::json& rules = scoped != info.scoped.end() ? scoped->second.template_ : n;
  if (rules.contains("src") && !source_allowed(rules["src"], c.remote_ip)) return reject("client address not in src");
  if (rules.contains("times") && !time_allowed(rules["times"], rules.value("times_location", "")))
    return reject("outside the user's allowed times");
  if (auto t = rules.find("allowed_connection_types"); t != rules.end() && t->is_array() && !t->empty()) {
    bool standard = false;
    for (auto& e : *t)
      if (e.is_string() && e.get<std::string>() == "STANDARD") standard = true;
    if (!standard) return reject("connection type STANDARD not allowed");
  }
  auto r = std::make_shared<user_record>();
  r->name = u->subject;
  r->jwt_name = u->name;
  r->from_jwt = true;
  r->issuer = u->issuer;
  r->issued_at = u->issued_at;
  r->expires = u->expires;
  r->acc = it->second.acc;
  for (auto [key, field] : {std::pair{"subs", &user_record::max_subs}, std::pair{"payload", &user_record::max_payload}})
    if (auto f = rules.find(key); f != rules.end() && f->is_number_integer()) (*r).*field = f->get<int64_t>();
  auto perms = platform::accounts::permissions_from_claims(
      scoped != info.scoped.end() ? expand_permissions(rules, *u, info) : rules);
  if (!perms) perms = info.default_permissions;
  if (perms) r->permissions = std::make_shared<const permission_set>(*perms);
  d.result = decision::outcome::accept;
  d.acc = r->acc;
  d.user = std::move(r);
  return d;
}

bool authenticator::still_valid(const user_record* user, const account& acc) const {
  if (user && user->from_jwt) {
    // An account JWT update: the account still exists (the same one), still trusts the
    // key that signed the user, and has not revoked the user.
    auto it = jwt_accounts_.find(acc.name());
    if (it == jwt_accounts_.end() || it->second.acc.get() != &acc) return false;
    const auto& info = *it->second.info;
    if (!info.may_sign(user->issuer)) return false;
    return !info.revoked(user->name, user->issued_at);
  }
  if (!required_) return acc.id() == global_->id();
  if (!user) return !token_.empty() && acc.id() == global_->id();  // a token login
  auto& table = nkeys_.count(user->name) ? nkeys_ : users_;
  auto it = table.find(user->name);
  return it != table.end() && it->second->fingerprint == user->fingerprint && it->second->acc.get() == &acc;
}

}  // namespace actors
