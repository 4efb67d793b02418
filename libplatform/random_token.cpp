#include "libplatform/random_token.hpp"

#include <random>

namespace platform {

std::string random_token(size_t length, std::string_view alphabet) {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s(length, '0');
  for (char& c : s) c = alphabet[pick(rng)];
  return s;
}

}  // namespace platform
