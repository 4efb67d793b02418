#pragma once
// Test support for operator mode: an operator, accounts and users made with
// libplatform/crypto (the same code `dialtone jwt` uses), as JWTs and .creds files.
#include <nlohmann/json.hpp>
#include <string>

#include "libplatform/crypto/jwt.hpp"
#include "libplatform/crypto/nkeys.hpp"
#include "server_process.hpp"

namespace testing_support {

namespace jwt_test {

using platform::crypto::key_type;
using platform::crypto::keypair;

inline keypair new_key(key_type t) { return keypair::generate(t); }

inline std::string operator_jwt(const keypair& op, const std::string& system_account,
                                const std::vector<std::string>& signing_keys = {}) {
  nlohmann::json c = {{"sub", op.public_key()}, {"name", "test-operator"},
                      {"nats", {{"type", "operator"}, {"version", 2}}}};
  if (!system_account.empty()) c["nats"]["system_account"] = system_account;
  if (!signing_keys.empty()) c["nats"]["signing_keys"] = signing_keys;
  return platform::crypto::encode_jwt(c, op);
}

// nats: extra claims under "nats" (exports, imports, limits, signing_keys, revocations...).
inline std::string account_jwt(const keypair& signer, const std::string& account_key, const std::string& name,
                               nlohmann::json nats = nlohmann::json::object()) {
  nats["type"] = "account";
  nats["version"] = 2;
  if (!nats.contains("limits"))
    nats["limits"] = {{"subs", -1}, {"conn", -1}, {"leaf", -1}, {"imports", -1}, {"exports", -1},
                      {"data", -1}, {"payload", -1}, {"wildcards", true}};
  nlohmann::json c = {{"sub", account_key}, {"name", name}, {"nats", nats}};
  return platform::crypto::encode_jwt(c, signer);
}

// extra: top-level claims (exp, nbf, iat); nats: user claims (pub, sub, bearer_token, ...).
// tool_limits: subs, data and payload -1 unless given, as nsc and @nats-io/jwt write
// them (nats-server reads a missing limit as 0). Users of scoped signing keys carry none.
inline std::string user_jwt(const keypair& signer, const std::string& user_key, const std::string& name,
                            nlohmann::json nats = nlohmann::json::object(), nlohmann::json extra = nlohmann::json::object(),
                            bool tool_limits = true) {
  nats["type"] = "user";
  nats["version"] = 2;
  if (tool_limits)
    for (const char* k : {"subs", "data", "payload"})
      if (!nats.contains(k)) nats[k] = -1;
  nlohmann::json c = {{"sub", user_key}, {"name", name}, {"nats", nats}};
  for (auto& [k, v] : extra.items()) c[k] = v;
  return platform::crypto::encode_jwt(c, signer);
}

inline std::string creds_file(const std::string& jwt, const keypair& user) {
  return write_temp_file("user.creds", platform::crypto::format_creds(jwt, user.seed()));
}

}  // namespace jwt_test

}  // namespace testing_support
