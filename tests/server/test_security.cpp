// Security against the real server: nkey logins (libnats and raw protocol). The same
// tests run against nats-server with
// DIALTONE_TEST_SERVER_BIN=/usr/sbin/nats-server test_server "[security]".
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "helpers.hpp"
#include "libplatform/crypto/encoding.hpp"
#include "libplatform/crypto/nkeys.hpp"
#include "nats_handles.hpp"

using namespace testing_support;
using namespace std::chrono_literals;
namespace crypto = platform::crypto;

namespace {

// Connects with libnats using an nkey seed file; returns the status and the connection.
std::pair<natsStatus, conn_ptr> nkey_connect(const server_process& s, const crypto::keypair& k) {
  auto seed_file = write_temp_file("user.nk", k.seed() + "\n");
  natsOptions* o = nullptr;
  REQUIRE(natsOptions_Create(&o) == NATS_OK);
  natsOptions_SetURL(o, s.url().c_str());
  natsOptions_SetAllowReconnect(o, false);
  REQUIRE(natsOptions_SetNKeyFromSeed(o, k.public_key().c_str(), seed_file.c_str()) == NATS_OK);
  natsConnection* c = nullptr;
  auto st = natsConnection_Connect(&c, o);
  natsOptions_Destroy(o);
  return {st, conn_ptr(c)};
}

nlohmann::json read_info(raw_client& c) {
  auto line = c.read_until("\r\n");
  REQUIRE(line.rfind("INFO ", 0) == 0);
  return nlohmann::json::parse(line.substr(5));
}

std::string nkey_connect_line(const std::string& nkey, const std::string& sig) {
  return R"(CONNECT {"verbose":false,"pedantic":false,"headers":true,"nkey":")" + nkey + R"(","sig":")" + sig +
         "\"}\r\n";
}

}  // namespace

TEST_CASE("nkey users log in by signing the nonce; others are refused", "[security][nkey]") {
  auto alice = crypto::keypair::generate(crypto::key_type::user);
  auto bob = crypto::keypair::generate(crypto::key_type::user);
  auto stranger = crypto::keypair::generate(crypto::key_type::user);
  server_process s({}, "authorization { users = [\n"
                       "  { nkey: " + alice.public_key() + " }\n"
                       "  { nkey: " + bob.public_key() + ", permissions: { publish: \"bob.>\", subscribe: \"bob.>\" } }\n"
                       "  { user: carol, password: s3cret }\n"
                       "] }\n");
  SECTION("libnats logs in with a seed file") {
    auto [st, nc] = nkey_connect(s, alice);
    REQUIRE(st == NATS_OK);
    natsSubscription* sub = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&sub, nc.get(), "greet") == NATS_OK);
    sub_ptr sp(sub);
    REQUIRE(natsConnection_PublishString(nc.get(), "greet", "hi") == NATS_OK);
    natsMsg* m = nullptr;
    REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
    msg_ptr mp(m);
    CHECK(std::string(natsMsg_GetData(m)) == "hi");
  }
  SECTION("an unknown nkey is an authorization violation") {
    auto [st, nc] = nkey_connect(s, stranger);
    CHECK(st == NATS_CONNECTION_AUTH_FAILED);
  }
  SECTION("permissions of an nkey user apply") {
    auto [st, nc] = nkey_connect(s, bob);
    REQUIRE(st == NATS_OK);
    natsSubscription* sub = nullptr;
    CHECK(natsConnection_SubscribeSync(&sub, nc.get(), "alice.x") == NATS_OK);  // refused asynchronously
    sub_ptr sp(sub);
    natsConnection_Flush(nc.get());
    std::this_thread::sleep_for(100ms);
    const char* err = nullptr;
    natsConnection_GetLastError(nc.get(), &err);
    REQUIRE(err != nullptr);
    CHECK(std::string(err).find("Permissions Violation for Subscription to \"alice.x\"") != std::string::npos);
  }
  SECTION("INFO carries a fresh 15-character nonce per connection") {
    raw_client a(s.port()), b(s.port());
    auto ia = read_info(a), ib = read_info(b);
    REQUIRE(ia.contains("nonce"));
    CHECK(ia["nonce"].get<std::string>().size() == 15);
    CHECK(ia["nonce"] != ib["nonce"]);
    CHECK(ia["auth_required"] == true);
  }
  SECTION("a signature over another nonce, a forged signature or none is refused") {
    for (int variant = 0; variant < 4; ++variant) {
      raw_client c(s.port());
      auto nonce = read_info(c)["nonce"].get<std::string>();
      std::string sig;
      if (variant == 0) sig = crypto::base64url_encode(alice.sign(nonce + "x"));
      if (variant == 1) sig = crypto::base64url_encode(stranger.sign(nonce));
      if (variant == 2) sig = "";
      if (variant == 3) sig = "!!not-base64!!";
      c.send(nkey_connect_line(alice.public_key(), sig) + "PING\r\n");
      CHECK(c.read_until("\r\n") == "-ERR 'Authorization Violation'\r\n");
      CHECK(c.closed_by_server());
    }
  }
  SECTION("a raw client signing the nonce gets in; standard base64 is accepted too") {
    for (bool standard : {false, true}) {
      raw_client c(s.port());
      auto nonce = read_info(c)["nonce"].get<std::string>();
      auto sig = crypto::base64url_encode(alice.sign(nonce));
      if (standard) {
        for (auto& ch : sig) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
        while (sig.size() % 4) sig += '=';
      }
      c.send(nkey_connect_line(alice.public_key(), sig) + "PING\r\n");
      CHECK(c.read_until("\r\n") == "PONG\r\n");
    }
  }
  SECTION("password users still log in beside nkey users") {
    auto c = connect(s, connect_as("carol", "s3cret"));
    CHECK(sync(*c).empty());
  }
}

TEST_CASE("nkey users inside accounts are isolated like any user", "[security][nkey]") {
  auto a = crypto::keypair::generate(crypto::key_type::user);
  auto b = crypto::keypair::generate(crypto::key_type::user);
  server_process s({}, "accounts {\n"
                       "  A { users = [ { nkey: " + a.public_key() + " } ] }\n"
                       "  B { users = [ { nkey: " + b.public_key() + " } ] }\n"
                       "}\n");
  auto [sa, ca] = nkey_connect(s, a);
  auto [sb, cb] = nkey_connect(s, b);
  REQUIRE(sa == NATS_OK);
  REQUIRE(sb == NATS_OK);
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, ca.get(), "x") == NATS_OK);
  sub_ptr sp(sub);
  natsConnection_Flush(ca.get());
  REQUIRE(natsConnection_PublishString(cb.get(), "x", "from B") == NATS_OK);
  REQUIRE(natsConnection_PublishString(ca.get(), "x", "from A") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
  msg_ptr mp(m);
  CHECK(std::string(natsMsg_GetData(m)) == "from A");
  CHECK(natsSubscription_NextMsg(&m, sub, 200) == NATS_TIMEOUT);
}

TEST_CASE("a malformed nkey in the configuration is refused at start-up", "[security][nkey]") {
  auto path = write_temp_file("bad-nkey.conf", "authorization { users = [ { nkey: UNOTAKEY } ] }\n");
  auto r = run_command({DIALTONE_SERVER_BIN, "-c", path}, 5s);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("not a valid public nkey for a user") != std::string::npos);
}
