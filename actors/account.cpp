#include "actors/account.hpp"

#include <random>

namespace actors {

namespace {

// A short random token naming the account in response subjects ("_R_.<token>.").
std::string random_token() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 6; ++i) s += alphabet[rd() % 62];
  return s;
}

}  // namespace

account::account(std::string name) : name_(std::move(name)), responses_(random_token()) {}

void account::clear() {
  sublist_.remove_all(internal_);
  for (auto& s : internal_) s->closed.store(true);
  internal_.clear();
}

}  // namespace actors
