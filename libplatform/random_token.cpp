#include "libplatform/random_token.hpp"

#include <cassert>
#include <cstdint>
#include <random>

namespace platform {

void append_random_token(std::string& out, size_t length, std::string_view alphabet) {
  // splitmix64, seeded per thread from std::random_device: these tokens must be unique
  // and unguessable in practice, not cryptographic, and latency reports draw one per
  // request. Each 64-bit draw yields 10 characters (base 62: 62^10 < 2^60, so the bias
  // of the remainders is below 2^-58).
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  auto next = [] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const uint64_t base = alphabet.size();
  assert(base >= 2 && base <= 64 && "10 characters per draw need 64 bits at most");
  size_t start = out.size();
  out.resize(start + length);
  char* p = out.data() + start;
  for (size_t i = 0; i < length;) {
    uint64_t v = next();
    for (int k = 0; k < 10 && i < length; ++k, ++i) {
      p[i] = alphabet[v % base];
      v /= base;
    }
  }
}

std::string random_token(size_t length, std::string_view alphabet) {
  std::string s;
  s.reserve(length);
  append_random_token(s, length, alphabet);
  return s;
}

}  // namespace platform
