// Operator mode's account layer: operator and resolver settings, account JWTs checked
// against the operator (wrong issuer, strict signing keys, expiry), and the accounts
// built from them: exports and imports, activation tokens and their revocation,
// permissions from claims.
#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "libplatform/accounts/jwt_accounts.hpp"
#include "libplatform/config/conf_parser.hpp"
#include "libplatform/crypto/jwt.hpp"
#include "libplatform/crypto/nkeys.hpp"

using namespace platform::accounts;
using namespace platform::crypto;

namespace {

std::string operator_jwt(const keypair& op, const std::vector<std::string>& signing = {}, bool strict = false,
                         const std::string& sys = "") {
  nlohmann::json n = {{"type", "operator"}, {"version", 2}};
  if (!signing.empty()) n["signing_keys"] = signing;
  if (strict) n["strict_signing_key_usage"] = true;
  if (!sys.empty()) n["system_account"] = sys;
  return encode_jwt({{"sub", op.public_key()}, {"name", "op"}, {"nats", n}}, op);
}

std::string account_jwt(const keypair& signer, const std::string& key, nlohmann::json n = nlohmann::json::object(),
                        nlohmann::json extra = nlohmann::json::object()) {
  n["type"] = "account";
  n["version"] = 2;
  nlohmann::json c = {{"sub", key}, {"name", key.substr(0, 6)}, {"nats", n}};
  for (auto& [k, v] : extra.items()) c[k] = v;
  return encode_jwt(c, signer);
}

std::optional<operator_config> load(const std::string& text) {
  return load_operator_config(platform::config::parse_string(text, "op.conf"));
}

}  // namespace

TEST_CASE("operator settings are read as nats-server writes them", "[jwt][config]") {
  auto op = keypair::generate(key_type::operator_);
  auto sys = keypair::generate(key_type::account);
  auto sk = keypair::generate(key_type::operator_);
  auto cfg = load("operator: " + operator_jwt(op, {sk.public_key()}, true, sys.public_key()) +
                  "\nresolver: MEMORY\nresolver_preload { " + sys.public_key() + ": eyJhbGciOi }\n");
  REQUIRE(cfg);
  CHECK(cfg->operator_keys == std::vector<std::string>{op.public_key()});
  CHECK(cfg->signing_keys == std::vector<std::string>{sk.public_key()});
  CHECK(cfg->strict_signing);
  CHECK(cfg->system_account == sys.public_key());
  CHECK(cfg->resolver == operator_config::resolver_kind::memory);
  CHECK(cfg->preload.size() == 1);
  auto full = load("trusted_keys: [" + op.public_key() + "]\nresolver { type: full, dir: \"/tmp/x\", allow_delete: true }\n");
  REQUIRE(full);
  CHECK(full->resolver == operator_config::resolver_kind::full);
  CHECK(full->allow_delete);
  CHECK_FALSE(load("port: 4222\n"));
  using config_test_support::parse_error_text;
  CHECK(parse_error_text([&] { load("operator: " + account_jwt(sys, sys.public_key()) + "\n"); }, "not an operator") ==
        "op.conf:1:11: operator: the JWT is a \"account\" JWT, not an operator JWT");
  CHECK(parse_error_text([&] { load("trusted_keys: " + op.public_key() + "\nresolver: URL(http://x)\n"); }, "url")
            .find("URL resolvers are not supported") != std::string::npos);
  CHECK(parse_error_text([&] { load("trusted_keys: " + op.public_key() + "\nsystem_account: SYS\n"); }, "sys")
            .find("must be an account public key") != std::string::npos);
  CHECK(parse_error_text([&] { load("trusted_keys: " + op.public_key() + "\nresolver { type: full }\n"); }, "dir")
            .find("needs a dir") != std::string::npos);
}

TEST_CASE("account JWTs verify only against a trusted operator", "[jwt]") {
  auto op = keypair::generate(key_type::operator_);
  auto sk = keypair::generate(key_type::operator_);
  auto stranger = keypair::generate(key_type::operator_);
  auto a = keypair::generate(key_type::account);
  operator_config cfg;
  cfg.operator_keys = {op.public_key()};
  cfg.signing_keys = {sk.public_key()};
  std::string why;
  int64_t now = unix_now();
  CHECK(verify_account_jwt(cfg, account_jwt(op, a.public_key()), now, &why));
  CHECK(verify_account_jwt(cfg, account_jwt(sk, a.public_key()), now, &why));
  CHECK_FALSE(verify_account_jwt(cfg, account_jwt(stranger, a.public_key()), now, &why));
  CHECK(why == "the issuer is not a trusted operator or operator signing key");
  cfg.strict_signing = true;
  CHECK_FALSE(verify_account_jwt(cfg, account_jwt(op, a.public_key()), now, &why));
  CHECK(why == "the operator requires a signing key (strict signing key usage)");
  CHECK(verify_account_jwt(cfg, account_jwt(sk, a.public_key()), now, &why));
  CHECK_FALSE(verify_account_jwt(cfg, account_jwt(sk, a.public_key(), {}, {{"exp", now - 1}}), now, &why));
  CHECK(why == "JWT expired");
  auto user = keypair::generate(key_type::user);
  CHECK_FALSE(verify_account_jwt(cfg, account_jwt(sk, user.public_key()), now, &why));
  CHECK(why == "the subject is not an account key");
}

TEST_CASE("accounts from JWTs: activation tokens approve imports and revocations withdraw them", "[jwt]") {
  auto op = keypair::generate(key_type::operator_);
  auto a = keypair::generate(key_type::account), b = keypair::generate(key_type::account),
       c = keypair::generate(key_type::account), d = keypair::generate(key_type::account);
  operator_config cfg;
  cfg.operator_keys = {op.public_key()};
  int64_t now = unix_now();
  auto activation = [&](const std::string& importer, int64_t iat) {
    return encode_jwt({{"sub", importer}, {"iat", iat}, {"nats", {{"type", "activation"}, {"version", 2}, {"subject", "help.>"}, {"kind", "service"}}}}, a);
  };
  auto import_of = [&](const std::string& token) {
    nlohmann::json i = {{"subject", "help.me"}, {"account", a.public_key()}, {"type", "service"}};
    if (!token.empty()) i["token"] = token;
    return nlohmann::json{{"imports", {i}}};
  };
  std::map<std::string, std::string> jwts;
  // A's export needs a token; D's token was issued before A revoked D.
  jwts[a.public_key()] = account_jwt(op, a.public_key(),
                                     {{"exports", {{{"subject", "help.>"}, {"type", "service"}, {"token_req", true},
                                                    {"revocations", {{d.public_key(), now}}}}}},
                                      {"limits", {{"conn", 5}, {"mem_storage", -1}}}});
  jwts[b.public_key()] = account_jwt(op, b.public_key(), import_of(activation(b.public_key(), now)));
  jwts[c.public_key()] = account_jwt(op, c.public_key(), import_of(""));
  jwts[d.public_key()] = account_jwt(op, d.public_key(), import_of(activation(d.public_key(), now - 10)));
  auto expired = keypair::generate(key_type::account);
  jwts[expired.public_key()] = account_jwt(op, expired.public_key(), {}, {{"exp", now - 5}});
  std::vector<std::string> warnings;
  auto auth = operator_auth_config(std::make_shared<operator_config>(cfg), jwts, now, warnings);
  auto* acc_a = auth.find_account(a.public_key());
  REQUIRE(acc_a);
  CHECK(acc_a->max_connections == 5);
  CHECK(acc_a->jetstream);
  REQUIRE(acc_a->jwt);
  CHECK(auth.find_account(b.public_key())->imports.size() == 1);
  CHECK(auth.find_account(c.public_key())->imports.empty());
  CHECK(auth.find_account(d.public_key())->imports.empty());
  CHECK_FALSE(auth.find_account(expired.public_key()));
  CHECK(auth.find_account("$SYS"));  // made when the operator names none
  auto warned = [&](const std::string& account, const std::string& text) {
    for (auto& w : warnings)
      if (w.find(account) != std::string::npos && w.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(warned(c.public_key(), "requires an activation token"));
  CHECK(warned(d.public_key(), "revoked this account's activation token"));
  CHECK(warned(expired.public_key(), "JWT expired"));
}

TEST_CASE("permissions come from claims as from configuration files", "[jwt]") {
  auto p = permissions_from_claims({{"pub", {{"allow", {"a.>"}}, {"deny", {"a.secret"}}}}, {"sub", {{"deny", {"x"}}}}});
  REQUIRE(p);
  CHECK(p->publish->allow == std::vector<std::string>{"a.>"});
  CHECK(p->publish->deny == std::vector<std::string>{"a.secret"});
  CHECK_FALSE(p->subscribe->has_allow);
  CHECK(p->subscribe->deny == std::vector<std::string>{"x"});
  auto r = permissions_from_claims({{"resp", {{"max", 3}, {"ttl", 5'000'000'000}}}});
  REQUIRE(r);
  CHECK(r->responses_max == 3);
  CHECK(r->responses_expires == std::chrono::seconds(5));
  CHECK(r->publish->has_allow);  // replies only, as allow_responses in a config file
  CHECK_FALSE(permissions_from_claims({{"subs", -1}}));
}
