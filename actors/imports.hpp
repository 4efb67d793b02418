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
// Forwarders hold the accounts they connect by shared_ptr (no atomic operation per
// message), which ties accounts to each other; the account registry
// (account_registry.hpp) wires and unwires them, and unwiring (a removed account, a
// changed import, shutdown) takes the forwarders out of every index, which unties them.
// A response route remembers its requester by weak_ptr: it may outlive the wiring.
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

// Owners for internal clients that belong with the data path: `count` I/O loops, and
// `start(client, i)` makes loop i the owner (internal_client::drive_from).
struct loop_owners {
  size_t count = 0;
  std::function<void(const internal_client_ptr&, size_t)> start;
};

// Installs the response router of an account with service exports (nothing for an
// account without), and, if an export tracks latency, its latency reporters: one
// internal client per I/O loop, so an answer's report is queued, built and published
// on the loop that carried the answer, after that read batch, with no thread hop.
// Without owners, latency is not reported.
wiring wire_exports(const platform::accounts::account_entry& exporter_cfg, const account_ptr& exporter,
                    const std::string& server_name, const loop_owners& owners);

}  // namespace actors
