#pragma once
// NATS JWTs (v2): base64url(header).base64url(claims).base64url(signature), the
// signature an Ed25519 signature by the claims' `iss` nkey over "header.claims".
// decode_jwt() checks everything that needs no outside knowledge: the three parts, the
// header (typ JWT, alg ed25519-nkey or ed25519), JSON objects, `iss` and `sub` as
// nkeys, and the signature by `iss`. Who may issue what (the chain operator → account
// → user) is the caller's business, as are `exp`/`nbf` (check_times()).
// Errors are plain text for a log line; they never quote the token.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "libplatform/crypto/nkeys.hpp"

namespace platform::crypto {

struct jwt {
  nlohmann::json header, claims;
  std::string issuer, subject;
  std::string type;  // claims.nats.type: operator, account, user, activation, ...
  int64_t issued_at = 0, expires = 0, not_before = 0;  // unix seconds; 0 = absent
  std::string name;

  // The nats-specific part of the claims ({} when absent).
  const nlohmann::json& nats() const;
};

// Limits the work a hostile token can cause.
inline constexpr size_t max_jwt_size = 1 << 20;

std::optional<jwt> decode_jwt(std::string_view token, std::string* why = nullptr);

// exp/nbf against `now` (unix seconds): false with the reason when expired or not yet valid.
bool check_times(const jwt& t, int64_t now, std::string* why = nullptr);
int64_t unix_now();

// Signs `claims` as `signer`: sets iss, iat (now, unless present) and jti (a hash of
// the claims), and returns the token.
std::string encode_jwt(nlohmann::json claims, const keypair& signer);

// A .creds file as nats-server's tooling writes it (libnats and nats.js read it).
std::string format_creds(std::string_view user_jwt, std::string_view user_seed);
struct creds {
  std::string jwt, seed;
};
std::optional<creds> parse_creds(std::string_view text);

}  // namespace platform::crypto
