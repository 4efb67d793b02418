#include "actors/account.hpp"

#include "libplatform/random_token.hpp"

namespace actors {

// A short random token names the account in response subjects ("_R_.<token>.").
account::account(std::string name) : name_(std::move(name)), responses_(platform::random_token(6)) {}

void account::clear() {
  sublist_.remove_all(internal_);
  for (auto& s : internal_) s->closed.store(true);
  internal_.clear();
}

}  // namespace actors
