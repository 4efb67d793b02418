#pragma once
// The CAF message vocabulary of the server's actors. Include only from .cpp files that
// already need CAF (it pulls in CAF's headers).
#include <caf/atom.hpp>

namespace actors {

using kick_atom = caf::atom_constant<caf::atom("kick")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using account_atom = caf::atom_constant<caf::atom("account")>;
using event_atom = caf::atom_constant<caf::atom("event")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;

}  // namespace actors
