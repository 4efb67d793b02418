#pragma once
// The live set of accounts: looked up by name, held by shared_ptr, created, updated and
// retired at run time (a configuration reload now; JWT accounts resolved on demand
// next). apply() moves the registry to a new configuration:
//   - an account that stays keeps its object (its subject index, its clients'
//     subscriptions, its in-flight service responses); its limits, users and system
//     flag are updated in place;
//   - a new account is created;
//   - a removed account leaves the registry; the objects still referring to it (its
//     clients until they are disconnected, match results in flight) keep it alive,
//     and the forwarders into and out of it are unwired;
//   - the imports of an account are rebuilt when they change or when an account they
//     import from changes its exports (or appears, or goes); an account's response
//     router and latency reporter are rebuilt when its exports change. New forwarders
//     are installed before the old ones are removed.
// Thread-safe: lookups take a shared lock; apply() runs on the server actor.
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "actors/account.hpp"
#include "actors/imports.hpp"
#include "libplatform/accounts/auth_config.hpp"

namespace actors {

class account_registry {
 public:
  account_registry() = default;
  ~account_registry();
  account_registry(const account_registry&) = delete;
  account_registry& operator=(const account_registry&) = delete;

  struct changes {
    std::vector<account_ptr> added, removed;
    std::vector<std::string> rewired;  // accounts whose imports or exports were rebuilt
  };
  // Moves to `cfg` (validated already). `on_added` runs for each new account before it
  // is published (the server actor spawns its actor there). `owners` drive the
  // latency reporters; without them there are none.
  changes apply(const platform::accounts::auth_config& cfg, const std::string& server_name,
                const loop_owners& owners, const std::function<void(const account_ptr&)>& on_added = {});

  account_ptr find(std::string_view name) const;
  std::vector<account_ptr> all() const;
  size_t size() const;
  account_ptr global() const;
  account_ptr system() const;

  // Removes every forwarder (shutdown): imports hold subscriptions across accounts.
  void clear();

 private:
  mutable std::shared_mutex mutex_;
  account_map accounts_;
  account_ptr global_, system_;
  // Owned by apply()/clear() (server actor thread).
  struct wired {
    std::string fingerprint;
    wiring w;
  };
  std::map<std::string, wired, std::less<>> imports_, exports_;
};

}  // namespace actors
