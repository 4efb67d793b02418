#pragma once
// An account: an isolated subject space. This object is the data the hot path reads
// (the subject index, counters); the account actor (account_actor.hpp) owns it, its
// lifecycle and its registry of connections. Thread-safe: the sublist has its own lock
// and counters are atomic.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "libplatform/sublist.hpp"

namespace actors {

class account {
 public:
  explicit account(std::string name) : name_(std::move(name)) {}

  const std::string& name() const noexcept { return name_; }
  platform::sublist& subjects() noexcept { return sublist_; }
  const platform::sublist& subjects() const noexcept { return sublist_; }

  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> msgs_in{0}, bytes_in{0};

 private:
  std::string name_;
  platform::sublist sublist_;
};

using account_ptr = std::shared_ptr<account>;

// The global account: users without an account land here.
inline constexpr const char* global_account_name = "$G";

}  // namespace actors
