// Operator mode (decentralized JWT auth) against the real server: creds logins with
// libnats, the chain check (expired, not yet valid, forged, unknown account, wrong
// signer, revoked), permissions and scoped signing keys, bearer tokens, activation
// tokens, and account JWT updates through the resolver while clients are connected.
// The same tests run against nats-server with
// DIALTONE_TEST_SERVER_BIN=/usr/sbin/nats-server test_server "[jwt]".
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "helpers.hpp"
#include "jwt_support.hpp"
#include "libplatform/crypto/encoding.hpp"
#include "nats_handles.hpp"

using namespace testing_support;
using namespace testing_support::jwt_test;
using namespace std::chrono_literals;
namespace crypto = platform::crypto;

namespace {

int64_t now() { return crypto::unix_now(); }

// An operator with a system account (and its user) and accounts A and B.
struct world {
  keypair op = new_key(key_type::operator_);
  keypair sys = new_key(key_type::account);
  keypair a = new_key(key_type::account);
  keypair b = new_key(key_type::account);
  keypair sys_user = new_key(key_type::user);
  std::map<std::string, std::string> jwts;

  world() {
    jwts[sys.public_key()] = account_jwt(op, sys.public_key(), "SYS");
    jwts[a.public_key()] = account_jwt(op, a.public_key(), "A");
    jwts[b.public_key()] = account_jwt(op, b.public_key(), "B");
  }

  // The config: the operator, the system account, and a resolver (MEMORY with every
  // JWT preloaded, or a full directory resolver with only the system account preloaded).
  std::string config(const std::string& dir = "") const {
    std::string c = "operator: " + operator_jwt(op, sys.public_key()) + "\nsystem_account: " + sys.public_key() + "\n";
    if (dir.empty()) {
      c += "resolver: MEMORY\nresolver_preload {\n";
      for (auto& [k, v] : jwts) c += "  " + k + ": " + v + "\n";
    } else {
      c += "resolver { type: full, dir: \"" + dir + "\", allow_delete: true }\nresolver_preload {\n";
      c += "  " + sys.public_key() + ": " + jwts.at(sys.public_key()) + "\n";
    }
    return c + "}\n";
  }
  std::string sys_creds() const {
    return creds_file(user_jwt(sys, sys_user.public_key(), "sys"), sys_user);
  }
};

std::pair<natsStatus, conn_ptr> creds_connect(const server_process& s, const std::string& creds,
                                              natsConnectionHandler closed = nullptr, void* closure = nullptr) {
  natsOptions* o = nullptr;
  REQUIRE(natsOptions_Create(&o) == NATS_OK);
  natsOptions_SetURL(o, s.url().c_str());
  natsOptions_SetAllowReconnect(o, false);
  REQUIRE(natsOptions_SetUserCredentialsFromFiles(o, creds.c_str(), nullptr) == NATS_OK);
  if (closed) natsOptions_SetClosedCB(o, closed, closure);
  natsConnection* c = nullptr;
  auto st = connect_signing(&c, o);
  natsOptions_Destroy(o);
  return {st, conn_ptr(c)};
}

natsStatus login(const server_process& s, const std::string& jwt, const keypair& user) {
  return creds_connect(s, creds_file(jwt, user)).first;
}

// True once the server's log holds `text` (polled for up to 2 s).
bool log_has(server_process& s, const std::string& text) {
  for (int i = 0; i < 40; ++i) {
    if (s.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string last_error(natsConnection* nc) {
  natsConnection_Flush(nc);
  std::this_thread::sleep_for(100ms);
  const char* err = nullptr;
  natsConnection_GetLastError(nc, &err);
  return err ? err : "";
}

// A raw client that sent CONNECT with a JWT (and the INFO nonce signed with `signer`
// unless it is null) and a PING.
std::unique_ptr<raw_client> raw_jwt_client(server_process& s, const std::string& jwt, const keypair* signer) {
  auto c = std::make_unique<raw_client>(s.port());
  auto info = nlohmann::json::parse(c->read_until("\r\n").substr(5));
  nlohmann::json connect = {{"verbose", false}, {"pedantic", false}, {"jwt", jwt}};
  if (signer) connect["sig"] = crypto::base64url_encode(signer->sign(info["nonce"].get<std::string>()));
  c->send("CONNECT " + connect.dump() + "\r\nPING\r\n");
  return c;
}

// The server's first answer to such a login: "PONG\r\n" or an -ERR.
std::string raw_jwt_login(server_process& s, const std::string& jwt, const keypair* signer) {
  return raw_jwt_client(s, jwt, signer)->read_until("\r\n");
}

std::string request(natsConnection* nc, const std::string& subject, natsStatus* status = nullptr) {
  natsMsg* reply = nullptr;
  auto st = natsConnection_RequestString(&reply, nc, subject.c_str(), "ping", 2000);
  if (status) *status = st;
  if (st != NATS_OK) return "";
  msg_ptr r(reply);
  return std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
}

}  // namespace

TEST_CASE("JWT: creds logins land in their account with the claims' permissions", "[security][jwt]") {
  world w;
  server_process s({}, w.config());
  auto alice = new_key(key_type::user), bob = new_key(key_type::user);
  nlohmann::json perms = {{"pub", {{"allow", {"a.>"}}}}, {"sub", {{"allow", {"a.>"}}}}};
  auto [sa, na] = creds_connect(s, creds_file(user_jwt(w.a, alice.public_key(), "alice", perms), alice));
  auto [sb, nb] = creds_connect(s, creds_file(user_jwt(w.b, bob.public_key(), "bob"), bob));
  REQUIRE(sa == NATS_OK);
  REQUIRE(sb == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, na.get(), "a.x") == NATS_OK);
  sub_ptr sp(sub);
  natsConnection_Flush(na.get());
  REQUIRE(natsConnection_PublishString(nb.get(), "a.x", "from B") == NATS_OK);  // another account
  REQUIRE(natsConnection_PublishString(na.get(), "a.x", "from A") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
  msg_ptr mp(m);
  CHECK(std::string(natsMsg_GetData(m)) == "from A");
  CHECK(natsSubscription_NextMsg(&m, sub, 200) == NATS_TIMEOUT);
  REQUIRE(natsConnection_PublishString(na.get(), "b.x", "nope") == NATS_OK);
  CHECK(last_error(na.get()).find("Permissions Violation for Publish to \"b.x\"") != std::string::npos);
}

TEST_CASE("JWT: every broken link in the chain is an authorization violation", "[security][jwt]") {
  world w;
  auto stranger = new_key(key_type::account);
  auto u = new_key(key_type::user);
  auto revoked = new_key(key_type::user);
  w.jwts[w.a.public_key()] =
      account_jwt(w.op, w.a.public_key(), "A", {{"revocations", {{revoked.public_key(), now() + 60}}}});
  // An account signed by someone who is not the operator is never loaded.
  w.jwts[stranger.public_key()] = account_jwt(stranger, stranger.public_key(), "STRANGER");
  server_process s({}, w.config());
  CHECK(login(s, user_jwt(w.a, u.public_key(), "ok"), u) == NATS_OK);
  SECTION("expired") {
    CHECK(login(s, user_jwt(w.a, u.public_key(), "u", {}, {{"exp", now() - 10}}), u) == NATS_CONNECTION_AUTH_FAILED);
    // The log says why (the client only hears Authorization Violation).
    if (std::getenv("DIALTONE_TEST_SERVER_BIN") == nullptr)
      CHECK(log_has(s, "Authorization Error: user JWT expired"));
  }
  SECTION("not yet valid") { CHECK(login(s, user_jwt(w.a, u.public_key(), "u", {}, {{"nbf", now() + 3600}}), u) == NATS_CONNECTION_AUTH_FAILED); }
  SECTION("issued by an account the operator did not sign") {
    CHECK(login(s, user_jwt(stranger, u.public_key(), "u"), u) == NATS_CONNECTION_AUTH_FAILED);
    if (std::getenv("DIALTONE_TEST_SERVER_BIN") == nullptr)
      CHECK(log_has(s, "is not known to the resolver"));
  }
  SECTION("issuer_account names an account whose key did not sign it") {
    CHECK(login(s, user_jwt(w.b, u.public_key(), "u", {{"issuer_account", w.a.public_key()}}), u) ==
          NATS_CONNECTION_AUTH_FAILED);
  }
  SECTION("revoked") {
    CHECK(login(s, user_jwt(w.a, revoked.public_key(), "r"), revoked) == NATS_CONNECTION_AUTH_FAILED);
    if (std::getenv("DIALTONE_TEST_SERVER_BIN") == nullptr)
      CHECK(log_has(s, "Authorization Error: user revoked by the account"));
  }
  SECTION("tampered claims") {
    auto tok = user_jwt(w.a, u.public_key(), "u", {{"pub", {{"allow", {"x"}}}}});
    auto d1 = tok.find('.'), d2 = tok.rfind('.');
    auto claims = nlohmann::json::parse(*crypto::base64url_decode(tok.substr(d1 + 1, d2 - d1 - 1)));
    claims["nats"].erase("pub");
    auto forged = tok.substr(0, d1) + "." + crypto::base64url_encode(claims.dump()) + tok.substr(d2);
    CHECK(login(s, forged, u) == NATS_CONNECTION_AUTH_FAILED);
  }
  SECTION("the nonce signed by another key") {
    auto other = new_key(key_type::user);
    CHECK(raw_jwt_login(s, user_jwt(w.a, u.public_key(), "u"), &other) == "-ERR 'Authorization Violation'\r\n");
  }
  SECTION("no signature without bearer_token") {
    CHECK(raw_jwt_login(s, user_jwt(w.a, u.public_key(), "u"), nullptr) == "-ERR 'Authorization Violation'\r\n");
  }
  SECTION("a user JWT in place of an account JWT is not a login") {
    CHECK(raw_jwt_login(s, w.jwts[w.a.public_key()], &u) == "-ERR 'Authorization Violation'\r\n");
  }
}

TEST_CASE("JWT: signing keys, scoped templates and bearer tokens", "[security][jwt]") {
  world w;
  auto sk = new_key(key_type::account), scoped = new_key(key_type::account);
  nlohmann::json tmpl = {{"pub", {{"allow", {"t.{{name()}}.>"}}}}, {"sub", {{"allow", {"t.{{name()}}.>"}}}},
                         {"subs", -1}, {"data", -1}, {"payload", -1}};
  w.jwts[w.a.public_key()] = account_jwt(
      w.op, w.a.public_key(), "A",
      {{"signing_keys", {sk.public_key(), {{"kind", "user_scope"}, {"key", scoped.public_key()}, {"role", "t"}, {"template", tmpl}}}}});
  w.jwts[w.b.public_key()] = account_jwt(w.op, w.b.public_key(), "B",
                                         {{"limits", {{"disallow_bearer", true}, {"conn", -1}, {"subs", -1}, {"payload", -1}}}});
  server_process s({}, w.config());
  auto u = new_key(key_type::user);
  CHECK(login(s, user_jwt(sk, u.public_key(), "u", {{"issuer_account", w.a.public_key()}}), u) == NATS_OK);
  // A user signed by a scoped key gets the key's template; it may not claim permissions
  // of its own.
  CHECK(login(s, user_jwt(scoped, u.public_key(), "carol", {{"issuer_account", w.a.public_key()}, {"pub", {{"allow", {">"}}}}}), u) ==
        NATS_CONNECTION_AUTH_FAILED);
  CHECK(login(s, user_jwt(scoped, u.public_key(), "carol", {{"issuer_account", w.a.public_key()}}), u) ==
        NATS_CONNECTION_AUTH_FAILED);  // subs/data/payload -1 are limits too
  auto [st, nc] = creds_connect(
      s, creds_file(user_jwt(scoped, u.public_key(), "carol", {{"issuer_account", w.a.public_key()}}, {}, false), u));
  REQUIRE(st == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc.get(), "t.carol.x", "ok") == NATS_OK);
  CHECK(last_error(nc.get()).empty());
  REQUIRE(natsConnection_PublishString(nc.get(), "t.dave.x", "no") == NATS_OK);
  CHECK(last_error(nc.get()).find("Permissions Violation for Publish to \"t.dave.x\"") != std::string::npos);
  // Bearer tokens log in without a signature, unless the account disallows them.
  CHECK(raw_jwt_login(s, user_jwt(w.a, u.public_key(), "bearer", {{"bearer_token", true}}), nullptr) == "PONG\r\n");
  CHECK(raw_jwt_login(s, user_jwt(w.b, u.public_key(), "bearer", {{"bearer_token", true}}), nullptr) ==
        "-ERR 'Authorization Violation'\r\n");
}

TEST_CASE("JWT: an export with token_req is imported only with an activation token", "[security][jwt]") {
  world w;
  auto c_acc = new_key(key_type::account);
  w.jwts[w.a.public_key()] = account_jwt(
      w.op, w.a.public_key(), "A", {{"exports", {{{"name", "help"}, {"subject", "help.>"}, {"type", "service"}, {"token_req", true}}}}});
  nlohmann::json act = {{"sub", w.b.public_key()}, {"name", "help.me"},
                        {"nats", {{"type", "activation"}, {"version", 2}, {"subject", "help.>"}, {"kind", "service"}}}};
  auto token = crypto::encode_jwt(act, w.a);
  w.jwts[w.b.public_key()] = account_jwt(
      w.op, w.b.public_key(), "B",
      {{"imports", {{{"name", "help"}, {"subject", "help.me"}, {"account", w.a.public_key()}, {"type", "service"}, {"token", token}}}}});
  w.jwts[c_acc.public_key()] = account_jwt(
      w.op, c_acc.public_key(), "C",
      {{"imports", {{{"name", "help"}, {"subject", "help.me"}, {"account", w.a.public_key()}, {"type", "service"}}}}});
  server_process s({}, w.config());
  auto ua = new_key(key_type::user), ub = new_key(key_type::user), uc = new_key(key_type::user);
  auto [sa, na] = creds_connect(s, creds_file(user_jwt(w.a, ua.public_key(), "svc"), ua));
  auto [sb, nb] = creds_connect(s, creds_file(user_jwt(w.b, ub.public_key(), "b"), ub));
  auto [sc, nc] = creds_connect(s, creds_file(user_jwt(c_acc, uc.public_key(), "c"), uc));
  REQUIRE((sa == NATS_OK && sb == NATS_OK && sc == NATS_OK));
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, na.get(), "help.>", [](natsConnection* c, natsSubscription*, natsMsg* m, void*) {
    natsConnection_PublishString(c, natsMsg_GetReply(m), "helped");
    natsMsg_Destroy(m);
  }, nullptr) == NATS_OK);
  sub_ptr sp(sub);
  natsConnection_Flush(na.get());
  CHECK(request(nb.get(), "help.me") == "helped");
  natsStatus st = NATS_OK;
  request(nc.get(), "help.me", &st);
  CHECK(st == NATS_NO_RESPONDERS);
}

TEST_CASE("JWT: account updates through the resolver apply to connected clients", "[security][jwt][resolver]") {
  world w;
  temp_dir dir;
  auto d = new_key(key_type::account);
  auto alice = new_key(key_type::user), dave = new_key(key_type::user);
  auto alice_jwt = user_jwt(w.a, alice.public_key(), "alice");
  auto dave_jwt = user_jwt(d, dave.public_key(), "dave");
  // The directory resolver starts with A only (besides the system account).
  std::ofstream(dir.path + "/" + w.a.public_key() + ".jwt") << w.jwts[w.a.public_key()];
  std::string conf = write_temp_file("op.conf", w.config(dir.path));
  auto push = [&](natsConnection* sys, const std::string& jwt) {
    natsMsg* reply = nullptr;
    REQUIRE(natsConnection_RequestString(&reply, sys, "$SYS.REQ.CLAIMS.UPDATE", jwt.c_str(), 3000) == NATS_OK);
    msg_ptr r(reply);
    return nlohmann::json::parse(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)));
  };
  {
    server_process s({"-c", conf});
    auto [ss, sys] = creds_connect(s, w.sys_creds());
    REQUIRE(ss == NATS_OK);
    CHECK(login(s, dave_jwt, dave) == NATS_CONNECTION_AUTH_FAILED);  // D is unknown yet
    auto r = push(sys.get(), account_jwt(w.op, d.public_key(), "D"));
    CHECK(r["data"]["code"] == 200);
    CHECK(login(s, dave_jwt, dave) == NATS_OK);
    // A forged account JWT (signed by the account itself, not the operator) never lets
    // its users in. Dialtone refuses it with a reason; nats-server 2.9 answers "jwt
    // updated", stores it and then ignores it (a difference on purpose: README).
    auto e = new_key(key_type::account), eve = new_key(key_type::user);
    r = push(sys.get(), account_jwt(e, e.public_key(), "E"));
    INFO(r.dump());
    if (std::getenv("DIALTONE_TEST_SERVER_BIN") == nullptr) {
      CHECK(r["error"]["code"] == 400);
      CHECK(r["error"]["description"].get<std::string>().find("not a trusted operator") != std::string::npos);
    } else {
      CHECK(r["data"]["code"] == 200);
    }
    CHECK(login(s, user_jwt(e, eve.public_key(), "eve"), eve) == NATS_CONNECTION_AUTH_FAILED);
    // Revoking alice disconnects her.
    static std::atomic<bool> closed{false};  // set on libnats' thread
    closed = false;
    auto [sa, na] = creds_connect(s, creds_file(alice_jwt, alice), [](natsConnection*, void*) { closed = true; });
    REQUIRE(sa == NATS_OK);
    std::this_thread::sleep_for(1100ms);  // revocations cover users issued up to the given second
    r = push(sys.get(), account_jwt(w.op, w.a.public_key(), "A", {{"revocations", {{alice.public_key(), now()}}}}));
    CHECK(r["data"]["code"] == 200);
    for (int i = 0; i < 50 && !closed; ++i) std::this_thread::sleep_for(50ms);
    CHECK(closed);
    CHECK(login(s, alice_jwt, alice) == NATS_CONNECTION_AUTH_FAILED);
  }
  // The directory kept the updates: after a restart D is still there.
  CHECK(std::filesystem::exists(dir.path + "/" + d.public_key() + ".jwt"));
  server_process s({"-c", conf});
  CHECK(login(s, dave_jwt, dave) == NATS_OK);
  CHECK(login(s, alice_jwt, alice) == NATS_CONNECTION_AUTH_FAILED);
}

TEST_CASE("JWT: a user whose JWT expires while connected is told and closed", "[security][jwt]") {
  world w;
  server_process s({}, w.config());
  auto u = new_key(key_type::user);
  auto client = raw_jwt_client(s, user_jwt(w.a, u.public_key(), "u", {}, {{"exp", now() + 2}}), &u);
  auto& c = *client;
  REQUIRE(c.read_until("\r\n") == "PONG\r\n");
  CHECK(c.read_until("\r\n", 5s) == "-ERR 'User Authentication Expired'\r\n");
  CHECK(c.closed_by_server());
}

TEST_CASE("JWT: a user's subs and payload limits apply", "[security][jwt]") {
  world w;
  server_process s({}, w.config());
  auto u = new_key(key_type::user);
  auto client = raw_jwt_client(s, user_jwt(w.a, u.public_key(), "u", {{"subs", 1}, {"payload", 8}}), &u);
  auto& c = *client;
  REQUIRE(c.read_until("\r\n") == "PONG\r\n");
  c.send("SUB one 1\r\nSUB two 2\r\nPING\r\n");
  CHECK(c.read_until("PONG\r\n") == "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
  c.send("PUB one 8\r\n12345678\r\nPING\r\n");
  CHECK(c.read_until("PONG\r\n") == "MSG one 1 8\r\n12345678\r\nPONG\r\n");
  c.send("PUB one 9\r\n123456789\r\n");
  CHECK(c.read_until("\r\n") == "-ERR 'Maximum Payload Violation'\r\n");
}
