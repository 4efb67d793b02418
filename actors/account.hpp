#pragma once
// An account: an isolated subject space. This object is the data the hot path reads
// (the subject index, limits, counters, the table of in-flight service responses); the
// account registry (account_registry.hpp) creates, updates and retires accounts at run
// time, and the account actor (account_actor.hpp) does its background work.
// Held by shared_ptr everywhere (response routes by weak_ptr); never by a raw pointer
// that could outlive it. Thread-safe: the sublist and the response table have their
// own locks, limits and counters are atomic, the user list has a mutex.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/response_table.hpp"
#include "libplatform/sublist.hpp"

namespace actors {

// Updated by a configuration reload while clients read them: atomics.
struct account_limits {
  std::atomic<int64_t> max_connections{-1};    // -1: unlimited
  std::atomic<int64_t> max_subscriptions{-1};  // per connection, as nats-server applies it
  std::atomic<int64_t> max_payload{-1};
};

struct account_actor_ref;
class request_tap;  // the account's actor, defined where CAF is included

class account {
 public:
  explicit account(std::string name);

  const std::string& name() const noexcept { return name_; }
  // Unique for the life of the process (never reused, unlike an address).
  uint64_t id() const noexcept { return id_; }
  platform::sublist& subjects() noexcept { return sublist_; }
  const platform::sublist& subjects() const noexcept { return sublist_; }
  response_table& responses() noexcept { return responses_; }
  account_limits limits;
  std::atomic<bool> is_system{false};

  // Names of the users that log in to this account (for the account's info).
  std::vector<std::string> user_names() const;
  void set_user_names(std::vector<std::string> names);

  std::atomic<int64_t> connections{0};
  // Request recording (request_tap.hpp), when the server records requests: the router
  // shows this account's requests and possible answers to it. Null otherwise.
  std::atomic<request_tap*> tap{nullptr};
  // The tap's rules for this account, in the tap's own form (null: nothing recorded
  // here), so a request in an account without rules costs one load.
  std::atomic<const void*> tap_rules{nullptr};
  // Set by the server actor when it spawns the account's actor, before the account
  // is published in the registry; read by the control plane.
  std::shared_ptr<account_actor_ref> actor;

 private:
  std::string name_;
  uint64_t id_;
  platform::sublist sublist_;
  response_table responses_;
  mutable std::mutex users_mutex_;
  std::vector<std::string> users_;
};

using account_ptr = std::shared_ptr<account>;
using account_weak = std::weak_ptr<account>;

// The global account: users without an account land here.
inline constexpr const char* global_account_name = "$G";

}  // namespace actors
