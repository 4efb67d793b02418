#pragma once
// The control-plane face of a client connection. One actor per connection, spawned
// when CONNECT is accepted and registered with its account's actor. It answers:
//   (kick_atom)            -> closes the connection
//   (info_atom)            -> std::string, the connection as connz-style JSON
//   (closed_atom)          -> sent by the I/O layer on close; the actor quits
// It holds only a weak reference: the connection's life is the I/O layer's business.
// The data path never sends it messages.
//
// This file also provides the control plane (control_plane.hpp) that the I/O layer
// calls: it spawns connection actors, reports connect/disconnect events to the server
// actor, and verifies bcrypt passwords on dedicated (detached) verifier actors so the
// I/O threads never hash.
#include <caf/fwd.hpp>
#include <map>
#include <memory>
#include <string>

#include "actors/control_plane.hpp"

namespace actors {

class client_connection;

// `server` receives (event_atom, subject, json) for $SYS events. Account actors are
// reached through account::actor.
std::unique_ptr<control_plane> make_actor_control_plane(caf::actor_system& sys, caf::actor server,
                                                        std::string server_name, std::string server_id);

}  // namespace actors
