#pragma once
// The server actor: the root of the running server. It owns the server core (listener
// and I/O loops), the account actors and the control plane. Messages:
//   (start_atom)  -> std::string: empty on success, else why the server cannot start
//   (stats_atom)  -> std::string: server-wide counters as JSON (varz-like)
//   (account_atom, std::string name) -> caf::actor for that account
//   (stop_atom)   -> bool, once every connection is closed and the loops have stopped
#include <caf/fwd.hpp>

#include "libplatform/config/server_options.hpp"

namespace actors {

caf::actor spawn_server_actor(caf::actor_system& sys, platform::config::server_options opts);

}  // namespace actors
