#pragma once
// Random numbers and random identifiers, from one generator: splitmix64 with one state
// per thread, seeded from std::random_device on the thread's first draw. Safe and cheap
// from any thread, with no lock and no shared state. Good for load spreading, sampling
// and identifiers that must be unique and unguessable in practice; not cryptographic.
//
//   fast_random()        64 random bits (queue group picks, anything numeric)
//   random_below(n)      uniform in [0, n)
//   random_percent(p)    true in p % of calls (sampling rates)
//   random_token(...)    inbox names, latency report ids, response-route prefixes,
//                        the server id
#include <cstdint>
#include <string>
#include <string_view>

namespace platform {

namespace detail {
// The calling thread's generator state; 0 means not seeded yet.
inline thread_local uint64_t random_state = 0;
uint64_t random_seed() noexcept;  // from std::random_device, never 0
}  // namespace detail

// The next 64 bits of this thread's generator.
inline uint64_t fast_random() noexcept {
  uint64_t& s = detail::random_state;
  if (s == 0) [[unlikely]]
    s = detail::random_seed();
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, n) (Lemire's multiply-shift with rejection: no division in the common
// case); 0 when n is 0.
inline uint32_t random_below(uint32_t n) noexcept {
  uint64_t m = uint64_t(uint32_t(fast_random())) * n;
  if (uint32_t(m) < n) [[unlikely]] {
    uint32_t threshold = uint32_t(-n) % n;  // 2^32 mod n
    while (uint32_t(m) < threshold) m = uint64_t(uint32_t(fast_random())) * n;
  }
  return uint32_t(m >> 32);
}

// True with probability percent/100: never for 0 or less, always for 100 or more.
inline bool random_percent(int percent) noexcept {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return random_below(100) < uint32_t(percent);
}

inline constexpr std::string_view base62_alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// RFC 4648 base32, the alphabet of NATS nkeys.
inline constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// `length` characters drawn uniformly from `alphabet` (at most 64 characters).
std::string random_token(size_t length, std::string_view alphabet = base62_alphabet);
// The same, appended to `out` (no allocation when `out` has room).
void append_random_token(std::string& out, size_t length, std::string_view alphabet = base62_alphabet);

}  // namespace platform
