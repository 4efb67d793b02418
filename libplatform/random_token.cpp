#include "libplatform/random_token.hpp"

#include <cassert>
#include <cstdint>
#include <random>

namespace platform {

namespace detail {
uint64_t random_seed() noexcept {
  std::random_device rd;
  uint64_t s = (uint64_t(rd()) << 32) ^ rd();
  return s != 0 ? s : 0x9e3779b97f4a7c15ULL;
}
}  // namespace detail

void append_random_token(std::string& out, size_t length, std::string_view alphabet) {
  // Characters come from fast_random()'s bits directly, the smallest number of bits
  // that covers the alphabet at a time, rejecting values past its end: uniform, and no
  // division per character.
  const size_t base = alphabet.size();
  assert(base >= 2 && base <= 64);
  int bits = 1;
  while ((size_t(1) << bits) < base) ++bits;
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  size_t start = out.size();
  out.resize(start + length);
  char* p = out.data() + start;
  uint64_t v = 0;
  int left = 0;  // unused bits in v
  for (size_t i = 0; i < length;) {
    if (left < bits) {
      v = fast_random();
      left = 64;
    }
    uint64_t k = v & mask;
    v >>= bits;
    left -= bits;
    if (k < base) p[i++] = alphabet[k];
  }
}

std::string random_token(size_t length, std::string_view alphabet) {
  std::string s;
  s.reserve(length);
  append_random_token(s, length, alphabet);
  return s;
}

}  // namespace platform
