#include "actors/account.hpp"

#include "libplatform/random_token.hpp"

namespace actors {

namespace {
std::atomic<uint64_t> next_account_id{0};
}

// A short random token names the account in response subjects ("_R_.<token>.").
account::account(std::string name)
    : name_(std::move(name)), id_(++next_account_id), responses_(platform::random_token(6)) {}

std::vector<std::string> account::user_names() const {
  std::lock_guard lock(users_mutex_);
  return users_;
}

void account::set_user_names(std::vector<std::string> names) {
  std::lock_guard lock(users_mutex_);
  users_ = std::move(names);
}

}  // namespace actors
