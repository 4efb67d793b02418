#pragma once
// An account: an isolated subject space. This object is the data the hot path reads
// (the subject index, limits, counters, the table of in-flight service responses); the
// account actor (account_actor.hpp) owns it, its lifecycle and its registry of
// connections. Thread-safe: the sublist and the response table have their own locks,
// counters are atomic, and everything else is fixed before the server starts.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/response_table.hpp"
#include "libplatform/sublist.hpp"

namespace actors {

struct account_limits {
  int64_t max_connections = -1;    // -1: unlimited
  int64_t max_subscriptions = -1;  // per connection, as nats-server applies it
  int64_t max_payload = -1;
};

class account {
 public:
  explicit account(std::string name);

  const std::string& name() const noexcept { return name_; }
  platform::sublist& subjects() noexcept { return sublist_; }
  const platform::sublist& subjects() const noexcept { return sublist_; }
  response_table& responses() noexcept { return responses_; }
  account_limits limits;
  bool is_system = false;
  std::vector<std::string> users;  // names of the users that log in to this account

  std::atomic<int64_t> connections{0};

  // Internal subscriptions created at start-up (imports, response routing, system
  // services); removed by clear() at shutdown.
  void keep(platform::subscription_ptr s) { internal_.push_back(std::move(s)); }
  void clear();

 private:
  std::string name_;
  platform::sublist sublist_;
  response_table responses_;
  std::vector<platform::subscription_ptr> internal_;
};

using account_ptr = std::shared_ptr<account>;

// The global account: users without an account land here.
inline constexpr const char* global_account_name = "$G";

}  // namespace actors
