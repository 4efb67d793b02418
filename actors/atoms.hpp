#pragma once
// The CAF message vocabulary of the server's actors. Include only from .cpp files that
// already need CAF (it pulls in CAF's headers).
#include <caf/atom.hpp>

namespace actors {

using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using event_atom = caf::atom_constant<caf::atom("event")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;

}  // namespace actors
