#include "actors/server_actor.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/account_actor.hpp"
#include "actors/atoms.hpp"
#include "actors/connection_actor.hpp"
#include "actors/server_core.hpp"

namespace actors {

namespace {

struct server_state {
  platform::config::server_options opts;
  std::unique_ptr<control_plane> control;
  std::unique_ptr<server_core> core;
  caf::actor global_account;
  static inline const char* name = "server";
};

caf::behavior server_actor(caf::stateful_actor<server_state>* self, platform::config::server_options opts) {
  self->state.opts = std::move(opts);
  return {
      [=](start_atom) -> std::string {
        auto& st = self->state;
        if (st.core) return "already started";
        // Accounts first: their actors are what the control plane registers connections with.
        auto global = std::make_shared<account>(global_account_name);
        st.global_account = spawn_account_actor(self->system(), global);
        st.control = make_actor_control_plane(self->system(), st.global_account);
        auto core = std::make_unique<server_core>(st.opts, st.control.get(), global);
        auto err = core->start();
        if (!err.empty()) return err;
        spdlog::info("Listening for client connections on {}:{}", st.opts.host, core->port());
        spdlog::info("Server is ready");
        st.core = std::move(core);
        return {};
      },
      [=](stats_atom) -> std::string {
        auto& st = self->state;
        nlohmann::json j;
        if (st.core) {
          auto& c = st.core->counters();
          j["server_id"] = st.core->server_id();
          j["connections"] = c.current_connections.load();
          j["total_connections"] = c.total_connections.load();
          j["slow_consumers"] = c.slow_consumers.load();
          j["subscriptions"] = st.core->global_account()->subjects().count();
        }
        return j.dump();
      },
      [=](account_atom, const std::string& name) -> caf::actor {
        return name == global_account_name ? self->state.global_account : caf::actor{};
      },
      [=](stop_atom) -> bool {
        auto& st = self->state;
        if (st.core) st.core->stop();
        if (st.global_account) self->send_exit(st.global_account, caf::exit_reason::user_shutdown);
        self->quit();
        return true;
      },
  };
}

}  // namespace

caf::actor spawn_server_actor(caf::actor_system& sys, platform::config::server_options opts) {
  return sys.spawn(server_actor, std::move(opts));
}

}  // namespace actors
