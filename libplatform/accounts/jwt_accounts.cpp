#include "libplatform/accounts/jwt_accounts.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "libplatform/accounts/load_util.hpp"
#include "libplatform/accounts/subject_relations.hpp"
#include "libplatform/crypto/nkeys.hpp"
#include "libplatform/subject.hpp"

namespace platform::accounts {

namespace fs = std::filesystem;
using crypto::key_type;
using detail::fail;
using detail::lower;
using detail::must_be;
using detail::quoted;
using detail::text;

bool jwt_account::may_sign(const std::string& key) const {
  return key == public_key || std::find(signing_keys.begin(), signing_keys.end(), key) != signing_keys.end() ||
         scoped.count(key) != 0;
}

bool jwt_account::revoked(const std::string& user, int64_t issued_at) const {
  for (const std::string& k : {user, std::string("*")}) {
    auto r = revocations.find(k);
    if (r != revocations.end() && r->second >= issued_at) return true;
  }
  return false;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JWT given inline, or a file holding one (bare or between -----BEGIN/END lines).
std::string jwt_text(const config::value& v, const std::string& what) {
  std::string s = text(v, what);
  if (s.rfind("eyJ", 0) == 0) return s;
  std::string content = read_file(s);
  if (content.empty()) fail(v.pos, what + ": cannot read " + detail::quoted(s));
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("eyJ", 0) == 0) return line;
  }
  fail(v.pos, what + ": no JWT in " + detail::quoted(s));
}

std::vector<std::string> string_list(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

int64_t number(const nlohmann::json& j, const char* k, int64_t def) {
  auto it = j.find(k);
  if (it == j.end() || !it->is_number()) return def;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

std::string str(const nlohmann::json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<subject_permission> subject_permission_from(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  subject_permission p;
  auto allow = j.find("allow");
  if (allow != j.end() && allow->is_array() && !allow->empty()) {
    p.allow = string_list(*allow);
    p.has_allow = true;
  }
  p.deny = string_list(j.value("deny", nlohmann::json::array()));
  if (!p.has_allow && p.deny.empty()) return std::nullopt;
  return p;
}

}  // namespace

std::optional<user_permissions> permissions_from_claims(const nlohmann::json& c) {
  user_permissions p;
  bool any = false;
  if (auto it = c.find("pub"); it != c.end())
    if ((p.publish = subject_permission_from(*it))) any = true;
  if (auto it = c.find("sub"); it != c.end())
    if ((p.subscribe = subject_permission_from(*it))) any = true;
  if (auto it = c.find("resp"); it != c.end() && it->is_object()) {
    p.responses_max = static_cast<int>(number(*it, "max", 1));
    int64_t ttl_ns = number(*it, "ttl", 0);
    if (ttl_ns > 0) p.responses_expires = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(ttl_ns));
    // As in configuration files: response permissions switch off the blanket publish allow.
    if (!p.publish) p.publish = subject_permission{};
    p.publish->has_allow = true;
    any = true;
  }
  if (!any) return std::nullopt;
  return p;
}

std::optional<operator_config> load_operator_config(const config::value& root) {
  const config::value* ops = root.find("operator");
  if (!ops) ops = root.find("operators");
  const config::value* trusted = root.find("trusted_keys");
  if (!trusted) trusted = root.find("trusted");
  if (!ops && !trusted) return std::nullopt;
  operator_config op;
  auto add_operator = [&](const config::value& v) {
    std::string token = jwt_text(v, "operator");
    std::string why;
    auto t = crypto::decode_jwt(token, &why);
    if (!t) fail(v.pos, "operator: " + why);
    if (t->type != "operator") fail(v.pos, "operator: the JWT is a " + detail::quoted(t->type) + " JWT, not an operator JWT");
    if (!crypto::is_public_key(t->subject, key_type::operator_)) fail(v.pos, "operator: the subject is not an operator key");
    if (!crypto::check_times(*t, crypto::unix_now(), &why)) fail(v.pos, "operator: " + why);
    op.operator_keys.push_back(t->subject);
    auto& n = t->nats();
    if (auto it = n.find("signing_keys"); it != n.end() && it->is_array())
      for (auto& k : *it) {
        std::string key = k.is_string() ? k.get<std::string>() : k.is_object() ? str(k, "key") : std::string();
        if (crypto::is_public_key(key, key_type::operator_)) op.signing_keys.push_back(key);
      }
    if (n.value("strict_signing_key_usage", false)) op.strict_signing = true;
    if (op.system_account.empty()) op.system_account = str(n, "system_account");
  };
  if (ops) {
    if (ops->is_array())
      for (auto& v : ops->arr) add_operator(v);
    else
      add_operator(*ops);
  }
  if (trusted) {
    std::vector<std::string> keys = trusted->is_array() ? detail::strings(*trusted, "trusted_keys")
                                                        : std::vector<std::string>{text(*trusted, "trusted_keys")};
    for (auto& k : keys) {
      if (!crypto::is_public_key(k, key_type::operator_)) fail(trusted->pos, "trusted_keys: " + detail::quoted(k) + " is not an operator key");
      op.operator_keys.push_back(k);
    }
  }
  if (const config::value* sys = root.find("system_account")) {
    op.system_account = text(*sys, "system_account");
    if (!crypto::is_public_key(op.system_account, key_type::account))
      fail(sys->pos, "system_account must be an account public key in operator mode");
  }
  if (const config::value* r = root.find("resolver")) {
    if (r->is_string()) {
      std::string kind = lower(r->s);
      if (kind == "mem" || kind == "memory") op.resolver = operator_config::resolver_kind::memory;
      else if (kind.rfind("url(", 0) == 0) fail(r->pos, "resolver: URL resolvers are not supported; use MEMORY or {type: full, dir: ...}");
      else fail(r->pos, "resolver must be MEMORY or a map such as {type: full, dir: \"./jwt\"}");
    } else if (r->is_map()) {
      op.resolver = operator_config::resolver_kind::full;
      for (const auto& [key, item] : r->map) {
        std::string k = lower(key);
        if (k == "type") {
          std::string t = lower(text(item, "resolver type"));
          if (t == "full") op.resolver = operator_config::resolver_kind::full;
          else if (t == "cache") op.resolver = operator_config::resolver_kind::cache;
          else fail(item.pos, "resolver type must be full or cache");
        } else if (k == "dir") {
          op.dir = text(item, "resolver dir");
        } else if (k == "allow_delete") {
          op.allow_delete = detail::boolean(item, "resolver allow_delete");
        } else if (k == "interval" || k == "limit" || k == "timeout" || k == "ttl" || k == "hard_delete") {
          // Cluster synchronisation and cache sizing: nothing to do on one server.
        } else {
          detail::unknown_field(item, key, "resolver");
        }
      }
      if (op.dir.empty()) fail(r->pos, "resolver needs a dir to keep account JWTs in");
    } else {
      must_be(*r, "resolver", "MEMORY or a map such as {type: full, dir: \"./jwt\"}");
    }
  }
  if (const config::value* p = root.find("resolver_preload")) {
    if (!p->is_map()) must_be(*p, "resolver_preload", "a map of account public keys to account JWTs");
    for (const auto& [key, item] : p->map) op.preload[key] = text(item, "resolver_preload " + key);
  }
  return op;
}

std::optional<crypto::jwt> verify_account_jwt(const operator_config& op, std::string_view token, int64_t now,
                                              std::string* why) {
  auto t = crypto::decode_jwt(token, why);
  if (!t) return std::nullopt;
  auto bad = [&](std::string text) -> std::optional<crypto::jwt> {
    if (why) *why = std::move(text);
    return std::nullopt;
  };
  if (t->type != "account") return bad("not an account JWT");
  if (!crypto::is_public_key(t->subject, key_type::account)) return bad("the subject is not an account key");
  bool identity = std::find(op.operator_keys.begin(), op.operator_keys.end(), t->issuer) != op.operator_keys.end();
  bool signing = std::find(op.signing_keys.begin(), op.signing_keys.end(), t->issuer) != op.signing_keys.end();
  if (!signing && !(identity && !op.strict_signing))
    return bad(identity ? "the operator requires a signing key (strict signing key usage)"
                        : "the issuer is not a trusted operator or operator signing key");
  if (!crypto::check_times(*t, now, why)) return std::nullopt;
  return t;
}

namespace {

jwt_account account_info(const crypto::jwt& t, std::string_view token) {
  jwt_account a;
  a.public_key = t.subject;
  a.name = t.name.empty() ? t.subject : t.name;
  a.jwt = std::string(token);
  a.issued_at = t.issued_at;
  a.expires = t.expires;
  auto& n = t.nats();
  if (auto it = n.find("signing_keys"); it != n.end() && it->is_array()) {
    for (auto& k : *it) {
      if (k.is_string()) {
        if (crypto::is_public_key(k.get<std::string>(), key_type::account)) a.signing_keys.push_back(k.get<std::string>());
      } else if (k.is_object() && str(k, "kind") == "user_scope") {
        scoped_signing_key s{str(k, "key"), str(k, "role"), k.value("template", nlohmann::json::object())};
        if (crypto::is_public_key(s.key, key_type::account)) a.scoped[s.key] = std::move(s);
      }
    }
  }
  if (auto it = n.find("revocations"); it != n.end() && it->is_object())
    for (auto& [k, v] : it->items())
      if (v.is_number()) a.revocations[k] = v.get<int64_t>();
  if (auto it = n.find("default_permissions"); it != n.end() && it->is_object())
    a.default_permissions = permissions_from_claims(*it);
  if (auto it = n.find("limits"); it != n.end() && it->is_object()) a.disallow_bearer = it->value("disallow_bearer", false);
  a.tags = string_list(n.value("tags", nlohmann::json::array()));
  return a;
}

bool export_requires_token(const nlohmann::json& e) { return e.value("token_req", false); }

// An activation token for `importer` to import `subject` (of `kind`) from `exporter`.
bool activation_valid(const std::string& token, const jwt_account& exporter, const std::string& importer,
                      const std::string& subject, const std::string& kind, int64_t now, std::string& why) {
  if (token.empty()) return (why = "the export requires an activation token", false);
  auto t = crypto::decode_jwt(token, &why);
  if (!t) return false;
  if (t->type != "activation") return (why = "the token is not an activation JWT", false);
  if (t->subject != importer && t->subject != "public")
    return (why = "the activation token was issued to another account", false);
  std::string issuer_account = str(t->nats(), "issuer_account");
  if (t->issuer != exporter.public_key && !(exporter.may_sign(t->issuer) && (issuer_account.empty() || issuer_account == exporter.public_key)))
    return (why = "the activation token is not signed by the exporting account", false);
  if (!crypto::check_times(*t, now, &why)) return false;
  std::string covered = str(t->nats(), "subject");
  if (covered.empty() || !detail::is_subset(subject, covered))
    return (why = "the activation token does not cover " + detail::quoted(subject), false);
  std::string k = lower(str(t->nats(), "kind"));
  if (!k.empty() && k != kind) return (why = "the activation token is for a " + k + ", not a " + kind, false);
  return true;
}

}  // namespace

void add_jwt_accounts(auth_config& cfg, const operator_config& op, const std::map<std::string, std::string>& jwts,
                      int64_t now, std::vector<std::string>& warnings) {
  struct loaded {
    crypto::jwt token;
    std::shared_ptr<jwt_account> info;
  };
  std::map<std::string, loaded> accounts;
  for (auto& [key, token] : jwts) {
    std::string why;
    auto t = verify_account_jwt(op, token, now, &why);
    if (!t) {
      warnings.push_back("account " + key + ": " + why + "; the account is not loaded");
      continue;
    }
    if (t->subject != key) {
      warnings.push_back("account " + key + ": the JWT is for account " + t->subject + "; not loaded");
      continue;
    }
    accounts[key] = {*t, std::make_shared<jwt_account>(account_info(*t, token))};
  }
  // Exports first: imports are checked against them. An export's revocations (importer
  // account, or "*", -> unix time) cancel activation tokens issued up to that time.
  std::map<std::pair<std::string, size_t>, nlohmann::json> export_revocations;
  for (auto& [key, l] : accounts) {
    account_entry acc;
    acc.name = key;
    auto& n = l.token.nats();
    if (auto it = n.find("exports"); it != n.end() && it->is_array()) {
      for (auto& e : *it) {
        export_entry x;
        x.type = str(e, "type") == "service" ? export_entry::kind::service : export_entry::kind::stream;
        x.subject = str(e, "subject");
        if (!subject::valid_subscription(x.subject)) {
          warnings.push_back("account " + key + ": export " + detail::quoted(x.subject) + " is not a valid subject; left out");
          continue;
        }
        std::string rt = lower(str(e, "response_type"));
        x.response = rt == "stream" ? response_type::stream : rt == "chunked" ? response_type::chunked : response_type::singleton;
        if (int64_t th = number(e, "response_threshold", 0); th > 0) x.response_threshold = std::chrono::nanoseconds(th);
        x.account_token_position = static_cast<int>(number(e, "account_token_position", 0));
        if (auto lat = e.find("service_latency"); lat != e.end() && lat->is_object() && !str(*lat, "results").empty()) {
          latency_config lc;
          lc.subject = str(*lat, "results");
          auto s = lat->find("sampling");
          if (s != lat->end() && s->is_number()) lc.sampling = s->get<int>();
          else if (s != lat->end() && s->is_string() && lower(s->get<std::string>()) == "headers") lc.sampling = 0;
          x.latency = lc;
        }
        x.token_required = export_requires_token(e);
        if (auto rv = e.find("revocations"); rv != e.end() && rv->is_object())
          export_revocations[{key, acc.exports.size()}] = *rv;
        acc.exports.push_back(std::move(x));
      }
    }
    auto lim = n.value("limits", nlohmann::json::object());
    acc.max_connections = number(lim, "conn", -1);
    acc.max_subscriptions = number(lim, "subs", -1);
    acc.max_payload = number(lim, "payload", -1);
    acc.max_leafnodes = number(lim, "leaf", -1);
    int64_t mem = number(lim, "mem_storage", 0), disk = number(lim, "disk_storage", 0);
    acc.jetstream = mem != 0 || disk != 0;
    acc.js_max_memory = mem;
    acc.js_max_store = disk;
    acc.js_max_streams = number(lim, "streams", -1);
    acc.js_max_consumers = number(lim, "consumer", -1);
    acc.jwt = l.info;
    cfg.accounts.push_back(std::move(acc));
  }
  // Imports, each checked against its exporter; activation tokens approve importers.
  for (auto& [key, l] : accounts) {
    auto& n = l.token.nats();
    auto it = n.find("imports");
    if (it == n.end() || !it->is_array()) continue;
    account_entry* importer = nullptr;
    for (auto& a : cfg.accounts)
      if (a.name == key) importer = &a;
    for (auto& i : *it) {
      import_entry im;
      std::string kind = str(i, "type") == "service" ? "service" : "stream";
      im.type = kind == "service" ? import_entry::kind::service : import_entry::kind::stream;
      im.account = str(i, "account");
      im.subject = str(i, "subject");
      std::string local = str(i, "local_subject"), to = str(i, "to");
      if (im.type == import_entry::kind::service) {
        im.to = !local.empty() ? local : to;
        im.share = i.value("share", false);
      } else if (!local.empty()) {
        im.to = local;
      } else if (!to.empty()) {
        im.prefix = to;  // the deprecated `to` of a stream import is a prefix
      }
      auto warn = [&](const std::string& why) {
        warnings.push_back("account " + key + ": import of " + kind + " " + detail::quoted(im.subject) + " from " + im.account +
                           ": " + why + "; left out");
      };
      auto ex = accounts.find(im.account);
      if (ex == accounts.end()) {
        warn("the exporting account is not known");
        continue;
      }
      account_entry* exporter = nullptr;
      for (auto& a : cfg.accounts)
        if (a.name == im.account) exporter = &a;
      auto want = im.type == import_entry::kind::service ? export_entry::kind::service : export_entry::kind::stream;
      export_entry* match = nullptr;
      for (auto& e : exporter->exports)
        if (e.type == want && detail::is_subset(im.subject, e.subject)) {
          match = &e;
          break;
        }
      if (!match) {
        warn("no " + kind + " export covers it");
        continue;
      }
      if (match->token_required) {
        std::string why;
        std::string token = str(i, "token");
        if (!activation_valid(token, *ex->second.info, key, im.subject, kind, now, why)) {
          warn(why.empty() ? "the export requires an activation token" : why);
          continue;
        }
        auto rv = export_revocations.find({im.account, static_cast<size_t>(match - exporter->exports.data())});
        if (rv != export_revocations.end()) {
          int64_t issued = crypto::decode_jwt(token)->issued_at;
          bool revoked = false;
          for (const std::string& who : {key, std::string("*")})
            if (auto t = rv->second.find(who); t != rv->second.end() && t->is_number() && t->get<int64_t>() >= issued)
              revoked = true;
          if (revoked) {
            warn("the exporter revoked this account's activation token");
            continue;
          }
        }
        if (std::find(match->approved.begin(), match->approved.end(), key) == match->approved.end())
          match->approved.push_back(key);
      }
      if (!find_export(*exporter, want, key, im.subject)) {
        warn("the export does not allow this account to import it");
        continue;
      }
      importer->imports.push_back(std::move(im));
    }
  }
  // The system account exists even without a JWT (nats-server creates it).
  cfg.system_account = op.system_account.empty() ? "$SYS" : op.system_account;
  if (!cfg.find_account(cfg.system_account)) {
    account_entry sys;
    sys.name = cfg.system_account;
    cfg.accounts.push_back(std::move(sys));
  }
  if (!cfg.find_account("$G")) {
    account_entry g;
    g.name = "$G";
    cfg.accounts.push_back(std::move(g));
  }
  validate(cfg);
}

auth_config operator_auth_config(std::shared_ptr<const operator_config> op, const std::map<std::string, std::string>& jwts,
                                 int64_t now, std::vector<std::string>& warnings) {
  auth_config cfg;
  cfg.op = op;
  add_jwt_accounts(cfg, *op, jwts, now, warnings);
  return cfg;
}

std::optional<auth_config> load_operator_auth_config(const config::value& root) {
  auto op = load_operator_config(root);
  if (!op) return std::nullopt;
  // Operator mode: accounts and users come from JWTs, never from the file.
  for (const char* k : {"authorization", "accounts", "no_auth_user"})
    if (const config::value* v = root.find(k))
      fail(v->pos, std::string(k) + " cannot be combined with operator mode (accounts and users come from JWTs)");
  auto jwts = op->preload;
  if (!op->dir.empty())
    for (auto& [k, t] : read_jwt_dir(op->dir)) jwts.emplace(k, t);  // the preload wins
  std::vector<std::string> warnings;
  auto cfg = operator_auth_config(std::make_shared<const operator_config>(std::move(*op)), jwts, crypto::unix_now(),
                                  warnings);
  for (auto& w : warnings) cfg.warnings.push_back(root.pos.file + ": " + w);
  return cfg;
}

std::map<std::string, std::string> read_jwt_dir(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    auto p = entry.path();
    if (p.extension() != ".jwt") continue;
    std::string key = p.stem().string();
    if (!crypto::is_public_key(key, key_type::account)) continue;
    std::string token = read_file(p.string());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (!token.empty()) out[key] = token;
  }
  return out;
}

}  // namespace platform::accounts
