#pragma once
// The server actor: the root of the running server. It owns the server core (account
// registry, listener and I/O loops), one actor per account, and the control plane, and
// it is the system account's voice through its internal client: it answers
// $SYS.REQ.SERVER.PING, publishes $SYS connect/disconnect events, and once a second
// expires stale service response routes. Messages:
//   (start_atom)  -> std::string: empty on success, else why the server cannot start
//   (reload_atom) -> std::string: re-reads the configuration file and applies its
//                    accounts and users; empty on success, else why nothing changed
//   (stop_atom)   -> bool, once every connection is closed and the loops have stopped
//   (drain_atom)  -> from its internal client's waker: drain the inbox
//   (event_atom, subject, json) -> publish a $SYS event
#include <caf/fwd.hpp>
#include <memory>

#include "actors/service_host.hpp"

#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/config/server_options.hpp"

namespace actors {

// `services` (may be null) start after the accounts and stop before the connections.
caf::actor spawn_server_actor(caf::actor_system& sys, platform::config::server_options opts,
                              platform::accounts::auth_config auth, std::shared_ptr<service_host> services = {});

}  // namespace actors
