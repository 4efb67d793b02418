#pragma once
// The control-plane face of a client connection. One actor per connection, spawned
// when CONNECT is accepted and registered with its account actor. It answers:
//   (kick_atom)            -> closes the connection
//   (info_atom)            -> std::string, the connection as connz-style JSON
//   (closed_atom)          -> sent by the I/O layer on close; the actor quits
// It holds only a weak reference: the connection's life is the I/O layer's business.
// The data path never sends it messages.
#include <caf/fwd.hpp>
#include <memory>

#include "actors/control_plane.hpp"

namespace actors {

class client_connection;

// Creates the control plane that spawns connection actors and registers them with
// the account actor given (the global account for now).
std::unique_ptr<control_plane> make_actor_control_plane(caf::actor_system& sys, const caf::actor& account_actor);

}  // namespace actors
