// Reads `authorization {}`, `no_auth_user` and `system_account`, and ties the whole auth
// config together; accounts{} is read by load_accounts.cpp and checked by validate.cpp.
// Key meanings follow nats-server's server/opts.go (parseAuthorization, parseUsers,
// parseUserPermissions, parseAllowResponses, checkPermSubjectArray); keys are
// case-insensitive there and here.
#include "libplatform/accounts/auth_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "libplatform/accounts/load_util.hpp"
#include "libplatform/crypto/nkeys.hpp"
#include "libplatform/subject.hpp"

namespace platform::accounts {

using namespace detail;
using namespace std::chrono;

namespace detail {

std::string permission_subject_error(std::string_view s, bool allow_queue) {
  if (subject::valid_subscription(s)) return {};
  if (allow_queue) {
    // "subject queue": exactly two fields separated by white space.
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      size_t start = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i > start) fields.push_back(s.substr(start, i - start));
    }
    if (fields.size() == 2) {
      if (!subject::valid_subscription(fields[0])) return quoted(fields[0]) + " is not a valid subject";
      if (!subject::valid_subscription(fields[1])) return quoted(fields[1]) + " is not a valid queue group";
      return {};
    }
  }
  return quoted(s) + " is not a valid subject";
}

bool known_connection_type(std::string_view name) {
  static constexpr std::string_view known[] = {"STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS",
                                               "MQTT",     "MQTT_WS",   "IN_PROCESS"};
  return std::find(std::begin(known), std::end(known), name) != std::end(known);
}

}  // namespace detail

namespace {

// ---- permissions { publish, subscribe, allow_responses } ----

// A subject, a list of subjects, or {allow: ..., deny: ...}. nats-server treats an empty
// map, like an absent key, as "no restriction".
std::optional<subject_permission> parse_subject_permission(const value& v, bool allow_queue, const std::string& what) {
  auto subjects = [&](const value& list, const std::string& name) {
    if (!list.is_string() && !list.is_array()) must_be(list, name, "a subject or a list of subjects");
    std::vector<std::string> out = strings(list, name);
    for (size_t i = 0; i < out.size(); ++i) {
      std::string why = permission_subject_error(out[i], allow_queue);
      if (!why.empty()) fail(list.is_array() ? list.arr[i].pos : list.pos, name + ": " + why);
    }
    return out;
  };
  subject_permission p;
  if (v.is_map()) {
    if (v.map.empty()) return std::nullopt;
    for (const auto& [key, item] : v.map) {
      std::string k = lower(key);
      if (k == "allow") p.allow = subjects(item, what + " allow");
      else if (k == "deny") p.deny = subjects(item, what + " deny");
      else unknown_field(item, key, what + " (only allow and deny are permitted)");
    }
  } else {
    p.allow = subjects(v, what);
  }
  // As in nats-server, an empty allow list restricts nothing.
  p.has_allow = !p.allow.empty();
  return p;
}

milliseconds duration_ms(const value& v, const std::string& what) {
  try {
    return duration_cast<milliseconds>(config::parse_duration(text(v, what)));
  } catch (const std::invalid_argument& e) {
    fail(v.pos, what + " is not a valid duration: " + e.what());
  }
}

// allow_responses: true | {max: N, expires: "1m"}. 0 keeps the default; negative values
// mean "no limit", as in nats-server.
void parse_allow_responses(const value& v, user_permissions& p, const std::string& what) {
  if (v.is_bool()) {
    if (v.b) p.responses_max = 1;
    return;
  }
  if (!v.is_map()) must_be(v, what, "true, false or a map such as {max: 1, expires: \"2m\"}");
  p.responses_max = 1;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
      int64_t n = integer(item, what + " " + key);
      if (n > INT32_MAX || n < INT32_MIN) fail(item.pos, what + " " + key + " is too large");
      if (n != 0) p.responses_max = static_cast<int>(n);
    } else if (k == "expires" || k == "expiration" || k == "ttl") {
      milliseconds d = duration_ms(item, what + " " + key);
      if (d.count() != 0) p.responses_expires = d;
    } else {
      unknown_field(item, key, what);
    }
  }
}

}  // namespace

namespace detail {

user_permissions parse_permissions(const value& v, const std::string& what) {
  if (!v.is_map()) must_be(v, what, "a map such as {publish: [...], subscribe: [...]}");
  user_permissions p;
  const value* responses = nullptr;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    // "import"/"export" are the route spellings of publish/subscribe.
    if (k == "pub" || k == "publish" || k == "import") p.publish = parse_subject_permission(item, false, what + " " + key);
    else if (k == "sub" || k == "subscribe" || k == "export") p.subscribe = parse_subject_permission(item, true, what + " " + key);
    else if (k == "allow_responses" || k == "publish_allow_responses") responses = &item;
    else unknown_field(item, key, what);
  }
  if (responses != nullptr) {
    parse_allow_responses(*responses, p, what + " allow_responses");
    // Response permissions switch off the blanket publish allow: without an allow list
    // the user may publish replies only.
    if (p.responses_max) {
      if (!p.publish) p.publish = subject_permission{};
      p.publish->has_allow = true;
    }
  }
  return p;
}

void parse_users(const value& v, std::string_view account, const std::string& where, std::vector<user_entry>& out) {
  if (!v.is_array()) must_be(v, "users in " + where, "a list of maps such as {user: alice, password: secret}");
  for (const value& u : v.arr) {
    if (!u.is_map()) must_be(u, "a user in " + where, "a map such as {user: alice, password: secret}");
    user_entry e;
    e.account = std::string(account);
    e.pos = u.pos;
    for (const auto& [key, item] : u.map) {
      std::string k = lower(key);
      if (k == "user" || k == "username") e.name = text(item, "a user name in " + where);
    }
    std::string who = e.name.empty() ? "a user in " + where : "user " + quoted(e.name);
    for (const auto& [key, item] : u.map) {
      std::string k = lower(key);
      if (k == "user" || k == "username") continue;
      if (k == "pass" || k == "password") e.password = text(item, who + " password");
      else if (k == "permission" || k == "permissions" || k == "authorization")
        e.permissions = parse_permissions(item, who + " permissions");
      else if (k == "nkey") {
        e.nkey = text(item, who + " nkey");
        if (!crypto::is_public_key(e.nkey, crypto::key_type::user))
          fail(item.pos, "not a valid public nkey for a user: " + quoted(e.nkey));
      }
      else if (k == "allowed_connection_types" || k == "connection_types" || k == "clients") {
        const std::string name = who + " " + key;
        std::vector<std::string> types = strings(item, name);
        for (std::string& t : types) {
          for (char& c : t) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
          if (!known_connection_type(t)) fail(item.pos, name + ": unknown connection type " + quoted(t));
          if (std::find(e.allowed_connection_types.begin(), e.allowed_connection_types.end(), t) ==
              e.allowed_connection_types.end())
            e.allowed_connection_types.push_back(t);
        }
      } else if (k == "proxy_required") {
        if (boolean(item, who + " " + key)) not_supported(item, "proxy_required is");
      } else {
        unknown_field(item, key, who);
      }
    }
    if (!e.nkey.empty()) {
      // nats-server: an nkey user has neither a user name nor a password.
      if (!e.name.empty() || !e.password.empty())
        fail(u.pos, "nkey user " + quoted(e.nkey) + " cannot also have a user name or password");
      e.name = e.nkey;
    }
    if (e.name.empty()) fail(u.pos, "a user in " + where + " needs a user name or an nkey");
    out.push_back(std::move(e));
  }
}

}  // namespace detail

namespace {

// ---- authorization { ... } ----

struct authorization_block {
  user_entry single;  // user/password, when set
  const value* user_at = nullptr;
  const value* password_at = nullptr;
  std::vector<user_entry> users;
  const value* users_at = nullptr;  // set even for `users: []`, as nats-server checks
  const value* token_at = nullptr;
  std::optional<user_permissions> defaults;
};

authorization_block parse_authorization(const value& v, auth_config& cfg) {
  const std::string where = "authorization";
  if (!v.is_map()) must_be(v, where, "a map");
  authorization_block a;
  for (const auto& [key, item] : v.map) {
    std::string k = lower(key);
    if (k == "user" || k == "username") {
      a.single.name = text(item, where + " " + key);
      a.user_at = &item;
    } else if (k == "pass" || k == "password") {
      a.single.password = text(item, where + " " + key);
      a.password_at = &item;
    } else if (k == "token") {
      cfg.token = text(item, where + " " + key);
      cfg.token_pos = item.pos;
      a.token_at = &item;
    } else if (k == "timeout") {
      // Seconds, or a duration string (nats-server accepts both).
      double secs = 0;
      if (item.is_integer()) secs = static_cast<double>(item.i);
      else if (item.is_float()) secs = item.d;
      else if (item.is_string()) secs = duration_cast<duration<double>>(duration_ms(item, where + " timeout")).count();
      else must_be(item, where + " timeout", "a number of seconds or a duration such as \"2s\"");
      if (!(secs >= 0) || secs > 1e9) fail(item.pos, where + " timeout must be between 0 and 1e9 seconds");
      if (secs > 0) cfg.auth_timeout = milliseconds(std::llround(secs * 1000));
    } else if (k == "users") {
      a.users_at = &item;
      parse_users(item, "$G", where, a.users);
    } else if (k == "permissions" || k == "default_permissions" || k == "default_permission") {
      a.defaults = parse_permissions(item, where + " " + key);
    } else if (k == "auth_callout" || k == "auth_hook") {
      not_supported(item, "auth_callout is");
    } else if (k == "proxy_required") {
      if (boolean(item, where + " " + key)) not_supported(item, "proxy_required is");
    } else {
      unknown_field(item, key, where);
    }
  }
  if (a.user_at != nullptr) {
    a.single.account = "$G";
    a.single.pos = a.user_at->pos;
    // nats-server leaves the single user unrestricted even when default permissions
    // are written next to it; we apply them, as the writer evidently meant.
    a.single.permissions = a.defaults;
  }
  for (user_entry& u : a.users)
    if (!u.permissions) u.permissions = a.defaults;
  return a;
}

// nats-server's rules (processConfigFileLine "authorization", parseAccounts): a single
// user/password, a token and a list of users exclude one another.
void check_authorization_conflicts(const authorization_block& a, const value* account_users_at) {
  if (a.password_at != nullptr && a.user_at == nullptr)
    fail(a.password_at->pos, "authorization has a password but no user");
  if (a.token_at != nullptr && a.user_at != nullptr)
    fail(a.token_at->pos, "authorization cannot have both a user/password and a token");
  if (a.users_at != nullptr) {
    if (a.user_at != nullptr)
      fail(a.users_at->pos, "authorization cannot have both a single user/password and a users list");
    if (a.token_at != nullptr) fail(a.users_at->pos, "authorization cannot have both a token and a users list");
  }
  if (account_users_at != nullptr) {
    if (a.user_at != nullptr)
      fail(account_users_at->pos,
           "accounts cannot have users when authorization has a single user/password (at " +
               a.user_at->pos.file + ":" + std::to_string(a.user_at->pos.line) + ")");
    if (a.token_at != nullptr)
      fail(account_users_at->pos, "accounts cannot have users when authorization has a token (at " +
                                      a.token_at->pos.file + ":" + std::to_string(a.token_at->pos.line) + ")");
  }
}

void add_account_if_missing(auth_config& cfg, const std::string& name, const position& pos) {
  if (cfg.find_account(name) != nullptr) return;
  account_entry acc;
  acc.name = name;
  acc.pos = pos;
  cfg.accounts.push_back(std::move(acc));
}

}  // namespace

const account_entry* auth_config::find_account(std::string_view name) const {
  for (const account_entry& a : accounts)
    if (a.name == name) return &a;
  return nullptr;
}

bool auth_config::has_nkey_users() const {
  return std::any_of(users.begin(), users.end(), [](const user_entry& u) { return !u.nkey.empty(); });
}

const user_entry* auth_config::find_user(std::string_view name) const {
  for (const user_entry& u : users)
    if (u.name == name) return &u;
  return nullptr;
}

auth_config load_auth_config(const value& root) {
  if (!root.is_map()) must_be(root, "the configuration", "a map of keys and values");
  if (auto op_cfg = load_operator_auth_config(root)) return std::move(*op_cfg);
  auth_config cfg;
  authorization_block auth;
  if (const value* a = root.find("authorization")) auth = parse_authorization(*a, cfg);

  std::vector<user_entry> account_users;
  const value* account_users_at = nullptr;
  if (const value* a = root.find("accounts")) parse_accounts(*a, cfg, account_users, account_users_at);
  check_authorization_conflicts(auth, account_users_at);

  if (auth.user_at != nullptr) cfg.users.push_back(std::move(auth.single));
  for (user_entry& u : auth.users) cfg.users.push_back(std::move(u));
  for (user_entry& u : account_users) cfg.users.push_back(std::move(u));

  if (const value* v = root.find("no_auth_user")) {
    cfg.no_auth_user = text(*v, "no_auth_user");
    cfg.no_auth_user_pos = v->pos;
    // nats-server looks for it in users lists only (validateNoAuthUser).
    if (auth.user_at != nullptr && auth.user_at->s == cfg.no_auth_user)
      fail(v->pos, "no_auth_user " + quoted(cfg.no_auth_user) +
                       " is the single authorization user; it must name a user from a users list");
  }
  // nats-server reads system_account first and falls back to its alias.
  const value* sys = root.find("system_account");
  if (sys == nullptr) sys = root.find("system");
  bool system_named = false;
  if (sys != nullptr) {
    cfg.system_account = text(*sys, "system_account");
    cfg.system_account_pos = sys->pos;
    if (cfg.system_account.empty()) fail(sys->pos, "system_account must not be empty");
    system_named = cfg.system_account != "$SYS";
  }

  // Users outside accounts{} live in $G; nats-server creates $SYS when nothing else is
  // named. A named system account must be configured (nats-server fails to resolve it).
  add_account_if_missing(cfg, "$G", root.pos);
  if (!system_named) add_account_if_missing(cfg, cfg.system_account, root.pos);
  validate(cfg);
  return cfg;
}

}  // namespace platform::accounts
