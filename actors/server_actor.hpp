#pragma once
// The server actor: the root of the running server. It owns the server core (listener
// and I/O loops), one actor per account, and the control plane, and it is the system
// account's voice: it publishes $SYS connect/disconnect events, answers
// $SYS.REQ.SERVER.PING, and once a second expires stale service response routes.
// Messages:
//   (start_atom)  -> std::string: empty on success, else why the server cannot start
//   (stats_atom)  -> std::string: server-wide counters as JSON (statsz-like)
//   (account_atom, std::string name) -> caf::actor for that account
//   (stop_atom)   -> bool, once every connection is closed and the loops have stopped
#include <caf/fwd.hpp>

#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/config/server_options.hpp"

namespace actors {

caf::actor spawn_server_actor(caf::actor_system& sys, platform::config::server_options opts,
                              platform::accounts::auth_config auth);

}  // namespace actors
