#pragma once
// Random identifiers: inbox names, latency report ids, response-route prefixes, the
// server id. Each thread has its own generator, seeded from std::random_device, so
// this is safe and cheap from any thread.
#include <string>
#include <string_view>

namespace platform {

inline constexpr std::string_view base62_alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// RFC 4648 base32, the alphabet of NATS nkeys.
inline constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// `length` characters drawn uniformly from `alphabet` (at most 64 characters).
std::string random_token(size_t length, std::string_view alphabet = base62_alphabet);
// The same, appended to `out` (no allocation when `out` has room).
void append_random_token(std::string& out, size_t length, std::string_view alphabet = base62_alphabet);

}  // namespace platform
