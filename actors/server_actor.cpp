#include "actors/server_actor.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/account_actor.hpp"
#include "actors/atoms.hpp"
#include "actors/connection_actor.hpp"
#include "actors/internal_subscriber.hpp"
#include "actors/server_core.hpp"
#include "libplatform/memory.hpp"
#include "libplatform/time_format.hpp"

namespace actors {

namespace {

// $SYS.REQ.SERVER.PING and friends: handed to the server actor, answered from there.
// Bounded: at most max_in_flight requests wait in the actor's mailbox; the rest are
// dropped (the requester times out), so a flood of pings cannot grow memory.
class system_request final : public internal_subscriber {
 public:
  static constexpr int max_in_flight = 1024;
  system_request(caf::actor server, std::shared_ptr<std::atomic<int>> in_flight)
      : server_(std::move(server)), in_flight_(std::move(in_flight)) {}
  size_t deliver(router::context&, const platform::protocol::message_args& m) override {
    if (m.reply.empty()) return 0;
    if (in_flight_->fetch_add(1, std::memory_order_relaxed) >= max_in_flight) {
      in_flight_->fetch_sub(1, std::memory_order_relaxed);
      return 1;  // taken, but shed
    }
    caf::anon_send(server_, sysreq_atom::value, std::string(m.subject), std::string(m.reply));
    return 1;
  }

 private:
  caf::actor server_;
  std::shared_ptr<std::atomic<int>> in_flight_;
};

struct server_state {
  platform::config::server_options opts;
  platform::accounts::auth_config auth;
  std::unique_ptr<server_core> core;
  std::unique_ptr<control_plane> control;
  std::map<std::string, caf::actor> accounts;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  uint64_t sweeps = 0;
  platform::memory::scavenger scavenger;
  // System requests sent to this actor and not answered yet (system_request).
  std::shared_ptr<std::atomic<int>> sysreq_in_flight = std::make_shared<std::atomic<int>>(0);
  static inline const char* name = "server";
};

nlohmann::json statsz(server_state& st) {
  auto& core = *st.core;
  auto& c = core.counters();
  size_t subs = 0;
  for (auto& [name, acc] : core.accounts()) subs += acc->subjects().count();
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
                 {"active_accounts", core.accounts().size()},
                 {"subscriptions", subs},
                 {"slow_consumers", c.slow_consumers.load()}};
  return j;
}

caf::behavior server_actor(caf::stateful_actor<server_state>* self, platform::config::server_options opts,
                           platform::accounts::auth_config auth) {
  self->state.opts = std::move(opts);
  self->state.auth = std::move(auth);
  return {
      [=](start_atom) -> std::string {
        auto& st = self->state;
        if (st.core) return "already started";
        st.core = std::make_unique<server_core>(st.opts, st.auth);
        for (auto& [name, acc] : st.core->accounts()) st.accounts[name] = spawn_account_actor(self->system(), acc);
        st.control = make_actor_control_plane(self->system(), st.accounts, caf::actor_cast<caf::actor>(self),
                                              st.core->server_name(), st.core->server_id());
        st.core->set_control(st.control.get());
        auto sys_acc = st.core->system_account();
        auto handler = std::make_shared<system_request>(caf::actor_cast<caf::actor>(self), st.sysreq_in_flight);
        for (auto subject : {"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"})
          sys_acc->keep(add_internal_subscription(*sys_acc, subject, handler));
        auto err = st.core->start();
        if (!err.empty()) {
          st.core.reset();
          return err;
        }
        if (st.auth.auth_required())
          spdlog::info("Authentication required: {} user(s), {} account(s)", st.auth.users.size(),
                       st.core->accounts().size());
        spdlog::info("Listening for client connections on {}:{}", st.opts.host, st.core->port());
        spdlog::info("Server is ready");
        self->delayed_send(self, std::chrono::seconds(1), sweep_atom::value);
        return {};
      },
      [=](event_atom, const std::string& subject, const std::string& json) {
        if (auto& core = self->state.core) router::publish_internal(*core->system_account(), subject, json);
      },
      [=](sysreq_atom, const std::string&, const std::string& reply) {
        self->state.sysreq_in_flight->fetch_sub(1, std::memory_order_relaxed);
        if (auto& core = self->state.core)
          router::publish_internal(*core->system_account(), reply, statsz(self->state).dump());
      },
      [=](sweep_atom) {
        auto& core = self->state.core;
        if (!core) return;
        auto now = std::chrono::steady_clock::now();
        for (auto& [name, acc] : core->accounts()) acc->responses().expire(now);
        // Every 5 s: memory freed by a burst and unused since goes back to the kernel.
        if (++self->state.sweeps % 5 == 0 && self->state.scavenger.check())
          spdlog::debug("Returned free memory to the system");
        self->delayed_send(self, std::chrono::seconds(1), sweep_atom::value);
      },
      [=](stats_atom) -> std::string {
        if (!self->state.core) return "{}";
        return statsz(self->state).dump();
      },
      [=](account_atom, const std::string& name) -> caf::actor {
        auto it = self->state.accounts.find(name);
        return it == self->state.accounts.end() ? caf::actor{} : it->second;
      },
      [=](stop_atom) -> bool {
        auto& st = self->state;
        if (st.core) st.core->stop();
        st.core.reset();
        st.control.reset();
        for (auto& [name, a] : st.accounts) self->send_exit(a, caf::exit_reason::user_shutdown);
        st.accounts.clear();
        self->quit();
        return true;
      },
  };
}

}  // namespace

caf::actor spawn_server_actor(caf::actor_system& sys, platform::config::server_options opts,
                              platform::accounts::auth_config auth) {
  return sys.spawn(server_actor, std::move(opts), std::move(auth));
}

}  // namespace actors
