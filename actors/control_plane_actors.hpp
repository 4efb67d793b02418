#pragma once
// The control plane (control_plane.hpp) with CAF: what the I/O layer asks of the actor
// world. It reports connect/disconnect events to the server actor (which publishes
// them through its system client), verifies bcrypt passwords on dedicated (detached)
// verifier actors so the I/O threads never hash, hands a closed client's huge
// subscription sets to the account's actor, and gives internal clients an actor that
// drains their inboxes.
#include <caf/fwd.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "actors/account.hpp"
#include "actors/control_plane.hpp"

namespace actors {

class client_connection;

// `server` receives (event_atom, subject, json) for $SYS events; `system_account` gives
// the account they are published in (null: none), so an event nobody subscribes to is
// not built at all. Account actors are reached through account::actor.
std::unique_ptr<control_plane> make_actor_control_plane(caf::actor_system& sys, caf::actor server,
                                                        std::string server_name, std::string server_id,
                                                        std::function<account_ptr()> system_account);

}  // namespace actors
