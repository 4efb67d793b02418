#include "actors/server_actor.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "actors/account_actor.hpp"
#include "actors/atoms.hpp"
#include "actors/control_plane_actors.hpp"
#include "actors/internal_client.hpp"
#include "actors/server_core.hpp"
#include "libplatform/accounts/jwt_accounts.hpp"
#include "libplatform/config/load_options.hpp"
#include "libplatform/crypto/jwt.hpp"
#include "libplatform/memory.hpp"
#include "libplatform/time_format.hpp"

namespace actors {

namespace {

struct server_state {
  platform::config::server_options opts;
  platform::accounts::auth_config auth;
  std::unique_ptr<server_core> core;
  std::unique_ptr<control_plane> control;
  // The server's own client in the system account: answers $SYS.REQ.SERVER.PING and
  // publishes $SYS events. Its inbox is drained by this actor (drain_atom).
  internal_client_ptr sys_client;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  uint64_t sweeps = 0;
  platform::memory::scavenger scavenger;
  std::shared_ptr<service_host> services;
  std::string statsz_json;  // the last $SYS.REQ.SERVER.PING answer, and when it was built
  std::chrono::steady_clock::time_point statsz_at;
  // Operator mode: every account JWT the resolver holds (account key -> JWT).
  std::map<std::string, std::string> jwts;
  static inline const char* name = "server";
};

// At most this many system requests wait in the server's inbox; the rest are dropped
// (the requester times out), so a flood of pings cannot grow memory.
constexpr inbox_limits system_inbox{1024, 4u << 20};

nlohmann::json statsz(server_state& st) {
  auto& core = *st.core;
  auto& c = core.counters();
  auto accounts = core.accounts().all();
  size_t subs = 0;
  for (auto& acc : accounts) subs += acc->subjects().count();
  nlohmann::json j;
  j["server"] = {{"name", core.server_name()},
                 {"host", core.opts().host},
                 {"id", core.server_id()},
                 {"ver", DIALTONE_VERSION},
                 {"time", platform::rfc3339(std::chrono::system_clock::now())}};
  j["statsz"] = {{"start", platform::rfc3339(st.started)},
                 {"cores", std::thread::hardware_concurrency()},
                 {"connections", c.current_connections.load()},
                 {"total_connections", c.total_connections.load()},
                 {"active_accounts", accounts.size()},
                 {"subscriptions", subs},
                 {"slow_consumers", c.slow_consumers.load()}};
  return j;
}

// Builds or moves the accounts to `auth`; new accounts get their actor before clients
// can reach them, removed ones lose theirs.
account_registry::changes configure(caf::stateful_actor<server_state>* self, const platform::accounts::auth_config& auth) {
  auto changes = self->state.core->configure(auth, [self](const account_ptr& acc) {
    acc->actor = std::make_shared<account_actor_ref>(account_actor_ref{spawn_account_actor(self->system(), acc)});
  });
  for (auto& acc : changes.removed)
    if (acc->actor) self->send_exit(acc->actor->self, caf::exit_reason::user_shutdown);
  return changes;
}

// Re-reads the configuration file and applies its accounts and users (the other
// options need a restart). Returns an error text, or empty.
std::string reload(caf::stateful_actor<server_state>* self) {
  auto& st = self->state;
  if (st.opts.config_file.empty()) return "no configuration file to reload";
  platform::accounts::auth_config next;
  platform::config::server_options opts;
  try {
    auto root = platform::config::parse_file(st.opts.config_file);
    platform::config::load_options(root, opts);  // refuses a file the server would not start with
    next = platform::accounts::load_auth_config(root);
  } catch (const std::exception& e) {
    return std::string("configuration error: ") + e.what();
  }
  if (next.system_account != st.auth.system_account)
    return "system_account cannot change on reload (restart the server)";
  if (bool(next.op) != bool(st.auth.op)) return "operator mode cannot be turned on or off by a reload (restart the server)";
  // TLS: new certificates and settings apply to new connections; turning TLS on or off
  // needs a restart (clients would see INFO change under them). Flags win over the file.
  std::shared_ptr<const io::tls_context> tls;
  if (!st.opts.tls.from_flags) {
    if (opts.tls.enabled != st.opts.tls.enabled) return "tls cannot be turned on or off by a reload (restart the server)";
    if (opts.tls.enabled) {
      try {
        tls = std::make_shared<const io::tls_context>(opts.tls);
      } catch (const std::exception& e) {
        return std::string("tls: ") + e.what();
      }
    }
  }
  auto changes = configure(self, next);
  if (next.op) {
    st.jwts = next.op->preload;
    if (!next.op->dir.empty())
      for (auto& [k, t] : platform::accounts::read_jwt_dir(next.op->dir)) st.jwts.emplace(k, t);
  }
  if (tls) {
    st.core->set_tls(std::move(tls));
    st.opts.tls = opts.tls;
  }
  st.auth = std::move(next);
  if (st.services) {
    st.services->accounts_changed(changes, st.auth);
    st.services->options_changed(opts);
  }
  spdlog::info("Reloaded {}: {} account(s) added, {} removed, {} rewired; {} user(s)", st.opts.config_file,
               changes.added.size(), changes.removed.size(), changes.rewired.size(), st.auth.users.size());
  return {};
}

// ---- operator mode: the account resolver --------------------------------------------

namespace accts = platform::accounts;

nlohmann::json server_json(server_state& st) {
  return {{"name", st.core->server_name()}, {"id", st.core->server_id()}};
}

// The answer nats-server gives to a claims update, lookup or delete.
std::string resolver_reply(server_state& st, const std::string& account, int code, const std::string& text) {
  nlohmann::json j = {{"server", server_json(st)}};
  if (code == 200) j["data"] = {{"account", account}, {"code", code}, {"message", text}};
  else j["error"] = {{"account", account}, {"code", code}, {"description", text}};
  return j.dump();
}

// Rebuilds the accounts from `jwts` and applies them (clients of removed accounts and
// revoked users are disconnected by configure()). Returns an error, or empty.
std::string apply_jwts(caf::stateful_actor<server_state>* self, const std::map<std::string, std::string>& jwts) {
  auto& st = self->state;
  std::vector<std::string> warnings;
  accts::auth_config next;
  try {
    next = accts::operator_auth_config(st.auth.op, jwts, platform::crypto::unix_now(), warnings);
  } catch (const std::exception& e) {
    return e.what();
  }
  for (auto& w : warnings) spdlog::warn("{}", w);
  auto changes = configure(self, next);
  st.auth = std::move(next);
  st.jwts = jwts;
  if (st.services) st.services->accounts_changed(changes, st.auth);
  return {};
}

// Writes an account JWT into the resolver directory (a full or cache resolver), via a
// temporary file and a rename so a crash never leaves half a JWT.
std::string store_jwt(const accts::operator_config& op, const std::string& key, const std::string* token) {
  if (op.dir.empty()) return {};
  namespace fs = std::filesystem;
  fs::path path = fs::path(op.dir) / (key + ".jwt");
  std::error_code ec;
  if (!token) {
    fs::remove(path, ec);
    return ec ? "cannot delete " + path.string() + ": " + ec.message() : std::string();
  }
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << *token;
    out.flush();
    if (!out) return "cannot write " + tmp.string();
  }
  fs::rename(tmp, path, ec);
  return ec ? "cannot write " + path.string() + ": " + ec.message() : std::string();
}

// $SYS.REQ.CLAIMS.UPDATE, $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE (and the older
// $SYS.ACCOUNT.<acc>.CLAIMS.UPDATE): the payload is an account JWT signed by a trusted
// operator. `subject_account` is the account named in the subject, if any.
std::string claims_update(caf::stateful_actor<server_state>* self, const std::string& subject_account,
                          std::string_view payload) {
  auto& st = self->state;
  std::string token(payload);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  std::string why;
  auto t = accts::verify_account_jwt(*st.auth.op, token, platform::crypto::unix_now(), &why);
  std::string key = t ? t->subject : subject_account;
  if (!t) {
    spdlog::warn("Account JWT update refused: {}", why);
    return resolver_reply(st, key, 400, "jwt update resulted in error: " + why);
  }
  if (!subject_account.empty() && subject_account != t->subject)
    return resolver_reply(st, key, 400, "subject does not match the JWT's account");
  if (auto it = st.jwts.find(key); it != st.jwts.end()) {
    if (it->second == token) return resolver_reply(st, key, 200, "jwt already present");
    if (auto old = platform::crypto::decode_jwt(it->second); old && old->issued_at > t->issued_at)
      return resolver_reply(st, key, 400, "jwt update resulted in error: an account JWT issued later is in place");
  }
  auto next = st.jwts;
  next[key] = token;
  if (auto e = apply_jwts(self, next); !e.empty()) {
    spdlog::warn("Account JWT update for {} refused: {}", key, e);
    return resolver_reply(st, key, 400, "jwt update resulted in error: " + e);
  }
  if (auto e = store_jwt(*st.auth.op, key, &token); !e.empty()) spdlog::error("Account resolver: {}", e);
  spdlog::info("Account JWT updated: {} ({})", key, t->name.empty() ? key : t->name);
  return resolver_reply(st, key, 200, "jwt updated");
}

// $SYS.REQ.CLAIMS.DELETE with allow_delete: a generic JWT signed by the operator whose
// data.accounts lists the accounts to remove.
std::string claims_delete(caf::stateful_actor<server_state>* self, std::string_view payload) {
  auto& st = self->state;
  auto& op = *st.auth.op;
  if (!op.allow_delete) return resolver_reply(st, "", 400, "delete not allowed by the resolver");
  std::string why;
  auto t = platform::crypto::decode_jwt(payload, &why);
  if (!t) return resolver_reply(st, "", 400, "delete refused: " + why);
  bool trusted = std::find(op.operator_keys.begin(), op.operator_keys.end(), t->issuer) != op.operator_keys.end() ||
                 std::find(op.signing_keys.begin(), op.signing_keys.end(), t->issuer) != op.signing_keys.end();
  if (!trusted) return resolver_reply(st, "", 400, "delete refused: not signed by a trusted operator");
  auto data = t->claims.value("data", nlohmann::json::object());
  auto list = data.value("accounts", nlohmann::json::array());
  auto next = st.jwts;
  std::vector<std::string> gone;
  for (auto& a : list)
    if (a.is_string() && next.erase(a.get<std::string>())) gone.push_back(a.get<std::string>());
  if (auto e = apply_jwts(self, next); !e.empty()) return resolver_reply(st, "", 400, "delete refused: " + e);
  for (auto& k : gone) {
    store_jwt(op, k, nullptr);
    spdlog::info("Account JWT deleted: {}", k);
  }
  return resolver_reply(st, "", 200, "deleted " + std::to_string(gone.size()) + " accounts");
}

void start_resolver(caf::stateful_actor<server_state>* self) {
  auto& st = self->state;
  auto& op = *st.auth.op;
  st.jwts = op.preload;
  if (!op.dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(op.dir, ec);
    for (auto& [k, t] : accts::read_jwt_dir(op.dir)) st.jwts.emplace(k, t);
  }
  // The account key is the fourth token of $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE and the
  // third of $SYS.ACCOUNT.<acc>.CLAIMS.UPDATE.
  auto token_at = [](const std::string& subject, int n) {
    size_t start = 0;
    for (int i = 0; i < n; ++i) start = subject.find('.', start) + 1;
    return subject.substr(start, subject.find('.', start) - start);
  };
  auto& c = *st.sys_client;
  c.subscribe("$SYS.REQ.CLAIMS.UPDATE", [self](internal_client& c, const inbound_msg& m) {
    auto r = claims_update(self, "", m.payload());
    if (!m.reply.empty()) c.publish(m.reply, {}, {}, r);
  });
  c.subscribe("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", [self, token_at](internal_client& c, const inbound_msg& m) {
    auto r = claims_update(self, token_at(m.subject, 3), m.payload());
    if (!m.reply.empty()) c.publish(m.reply, {}, {}, r);
  });
  c.subscribe("$SYS.ACCOUNT.*.CLAIMS.UPDATE", [self, token_at](internal_client& c, const inbound_msg& m) {
    auto r = claims_update(self, token_at(m.subject, 2), m.payload());
    if (!m.reply.empty()) c.publish(m.reply, {}, {}, r);
  });
  c.subscribe("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", [self, token_at](internal_client& c, const inbound_msg& m) {
    if (m.reply.empty()) return;
    auto it = self->state.jwts.find(token_at(m.subject, 3));
    c.publish(m.reply, {}, {}, it == self->state.jwts.end() ? std::string() : it->second);
  });
  c.subscribe("$SYS.REQ.CLAIMS.DELETE", [self](internal_client& c, const inbound_msg& m) {
    auto r = claims_delete(self, m.payload());
    if (!m.reply.empty()) c.publish(m.reply, {}, {}, r);
  });
}

// Stops the core (closing every connection) and the accounts' actors. An account and
// its actor refer to each other until then.
void shut_down(caf::stateful_actor<server_state>* self) {
  auto& st = self->state;
  if (st.services) st.services->stop();
  if (st.sys_client) st.sys_client->close();
  st.sys_client.reset();
  std::vector<account_ptr> accounts;
  if (st.core) {
    accounts = st.core->accounts().all();
    st.core->stop();
  }
  st.core.reset();
  st.control.reset();
  for (auto& acc : accounts) {
    if (acc->actor) self->send_exit(acc->actor->self, caf::exit_reason::user_shutdown);
    acc->actor.reset();
  }
}

caf::behavior server_actor(caf::stateful_actor<server_state>* self, platform::config::server_options opts,
                           platform::accounts::auth_config auth, std::shared_ptr<service_host> services) {
  self->state.services = std::move(services);
  self->state.opts = std::move(opts);
  self->state.auth = std::move(auth);
  return {
      [=](start_atom) -> std::string {
        auto& st = self->state;
        if (st.core) return "already started";
        st.core = std::make_unique<server_core>(st.opts);
        st.control = make_actor_control_plane(self->system(), caf::actor_cast<caf::actor>(self),
                                              st.core->server_name(), st.core->server_id(),
                                              [core = st.core.get()] { return core->system_account(); });
        st.core->set_control(st.control.get());
        configure(self, st.auth);
        st.sys_client = std::make_shared<internal_client>(receiver::kind::system, st.core->system_account(),
                                                          "$SYS server", system_inbox);
        st.sys_client->set_waker([addr = caf::actor_cast<caf::actor_addr>(self)] {
          if (auto me = caf::actor_cast<caf::actor>(addr)) caf::anon_send(me, drain_atom::value);
        });
        for (auto subject : {"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"}) {
          st.sys_client->subscribe(subject, [self](internal_client& c, const inbound_msg& m) {
            auto& st = self->state;
            if (m.reply.empty() || !st.core) return;
            // A burst of pings drained together shares one answer (built at most once a
            // millisecond): a flood costs one statsz, not one per request.
            auto now = std::chrono::steady_clock::now();
            if (st.statsz_json.empty() || now - st.statsz_at > std::chrono::milliseconds(1)) {
              st.statsz_json = statsz(st).dump();
              st.statsz_at = now;
            }
            c.publish(m.reply, {}, {}, st.statsz_json);
          });
        }
        if (st.auth.op) start_resolver(self);
        if (st.services) {
          if (auto e = st.services->start(*st.core, *st.control, st.auth); !e.empty()) {
            shut_down(self);
            return e;
          }
        }
        auto err = st.core->start();
        if (!err.empty()) {
          shut_down(self);
          return err;
        }
        if (st.auth.op)
          spdlog::info("Operator mode: {} trusted operator key(s), {} account JWT(s), system account {}",
                       st.auth.op->operator_keys.size(), st.jwts.size(), st.auth.system_account);
        else if (st.auth.auth_required())
          spdlog::info("Authentication required: {} user(s), {} account(s)", st.auth.users.size(),
                       st.core->accounts().size());
        if (auto tls = st.core->tls())
          spdlog::info("TLS required for client connections (certificate {}{})", tls->options().cert_file,
                       tls->options().verify ? ", client certificates verified" : "");
        spdlog::info("Listening for client connections on {}:{}", st.opts.host, st.core->port());
        spdlog::info("Server is ready");
        self->delayed_send(self, std::chrono::seconds(1), sweep_atom::value);
        return {};
      },
      [=](drain_atom) {
        if (auto& c = self->state.sys_client) c->drain();
      },
      [=](event_atom, const std::string& subject, const std::string& json) {
        if (auto& c = self->state.sys_client) c->publish(subject, {}, {}, json);
      },
      [=](reload_atom) -> std::string {
        if (!self->state.core) return "not running";
        auto err = reload(self);
        if (!err.empty()) spdlog::error("Reload failed, the running configuration is unchanged: {}", err);
        return err;
      },
      [=](sweep_atom) {
        auto& core = self->state.core;
        if (!core) return;
        auto now = std::chrono::steady_clock::now();
        for (auto& acc : core->accounts().all()) acc->responses().expire(now);
        // Every 5 s: memory freed by a burst and unused since goes back to the kernel.
        if (++self->state.sweeps % 5 == 0 && self->state.scavenger.check())
          spdlog::debug("Returned free memory to the system");
        self->delayed_send(self, std::chrono::seconds(1), sweep_atom::value);
      },
      [=](stop_atom) -> bool {
        shut_down(self);
        self->quit();
        return true;
      },
  };
}

}  // namespace

caf::actor spawn_server_actor(caf::actor_system& sys, platform::config::server_options opts,
                              platform::accounts::auth_config auth, std::shared_ptr<service_host> services) {
  return sys.spawn(server_actor, std::move(opts), std::move(auth), std::move(services));
}

}  // namespace actors
