#pragma once
// The runtime of sharing between accounts, as forwarders (internal_subscriber.hpp):
// - a stream import is a subscription in the exporter on the imported subject that
//   re-delivers into the importer under the mapped subject;
// - a service import is a subscription in the importer on its local subject that
//   re-delivers into the exporter under the exported subject, swapping the reply
//   subject for a response route (response_table.hpp);
// - every account with service exports has a response router on "_R_.<prefix>.>"
//   that carries answers back to the requester; if an export tracks latency, the
//   router hands each sampled answer to the account's latency reporter, an internal
//   client that builds and publishes the report on its own actor.
// Forwarders hold accounts by weak_ptr: an account removed at run time is skipped.
// The account registry (account_registry.hpp) wires and unwires them.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/account.hpp"
#include "actors/internal_client.hpp"
#include "libplatform/accounts/auth_config.hpp"

namespace actors {

class control_plane;

using account_map = std::map<std::string, account_ptr, std::less<>>;

// What wiring one account installed; remove() takes it all out again.
struct wiring {
  std::vector<std::pair<account_ptr, platform::subscription_ptr>> subs;  // (index it is in, subscription)
  std::vector<internal_client_ptr> clients;                              // latency reporters
  void remove();
};

// Installs the forwarders for the imports of `importer` (validated already).
wiring wire_imports(const platform::accounts::auth_config& cfg, const platform::accounts::account_entry& importer,
                    const account_map& accounts, const std::string& server_name);

// Installs the response router (and the latency reporter, started through `cp`) of an
// account with service exports; nothing for an account without.
wiring wire_exports(const platform::accounts::account_entry& exporter_cfg, const account_ptr& exporter,
                    const std::string& server_name, control_plane* cp);

}  // namespace actors
