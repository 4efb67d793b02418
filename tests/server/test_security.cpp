// Security against the real server: nkey logins (libnats and raw protocol) and TLS
// (libnats, a raw OpenSSL client, client certificates, verify_and_map). The same
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
#include "tls_support.hpp"

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
  auto st = connect_signing(&c, o);
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

namespace {

std::string tls_block(const test_pki& pki, const std::string& extra = "") {
  return "tls {\n  cert_file: \"" + pki.server_cert + "\"\n  key_file: \"" + pki.server_key + "\"\n  ca_file: \"" +
         pki.ca_cert + "\"\n" + extra + "}\n";
}

// libnats over TLS, trusting the test CA; optionally with a client certificate.
std::pair<natsStatus, conn_ptr> tls_connect(const server_process& s, const test_pki& pki, bool secure = true,
                                            const std::string& cert = "", const std::string& key = "") {
  natsOptions* o = nullptr;
  REQUIRE(natsOptions_Create(&o) == NATS_OK);
  natsOptions_SetURL(o, ("nats://localhost:" + std::to_string(s.port())).c_str());
  natsOptions_SetAllowReconnect(o, false);
  natsOptions_SetTimeout(o, 3000);
  if (secure) {
    REQUIRE(natsOptions_SetSecure(o, true) == NATS_OK);
    REQUIRE(natsOptions_LoadCATrustedCertificates(o, pki.ca_cert.c_str()) == NATS_OK);
    if (!cert.empty()) REQUIRE(natsOptions_LoadCertificatesChain(o, cert.c_str(), key.c_str()) == NATS_OK);
  }
  natsConnection* c = nullptr;
  auto st = natsConnection_Connect(&c, o);
  natsOptions_Destroy(o);
  return {st, conn_ptr(c)};
}

void round_trip(natsConnection* nc, const std::string& subject) {
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, subject.c_str()) == NATS_OK);
  sub_ptr sp(sub);
  REQUIRE(natsConnection_PublishString(nc, subject.c_str(), "secret payload") == NATS_OK);
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK);
  msg_ptr mp(m);
  CHECK(std::string(natsMsg_GetData(m)) == "secret payload");
}

}  // namespace

TEST_CASE("TLS: libnats connects over TLS and a plain client is refused", "[security][tls]") {
  test_pki pki;
  server_process s({}, tls_block(pki));
  SECTION("INFO says TLS is required") {
    raw_client c(s.port());
    auto info = read_info(c);
    CHECK(info["tls_required"] == true);
    CHECK_FALSE(info.contains("tls_verify"));
  }
  SECTION("messages flow over TLS, large ones too") {
    auto [st, nc] = tls_connect(s, pki);
    REQUIRE(st == NATS_OK);
    round_trip(nc.get(), "tls.small");
    // 512 KiB crosses many TLS records both ways.
    std::string big(512 * 1024, 'x');
    for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    natsSubscription* sub = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&sub, nc.get(), "tls.big") == NATS_OK);
    sub_ptr sp(sub);
    for (int i = 0; i < 20; ++i) REQUIRE(natsConnection_Publish(nc.get(), "tls.big", big.data(), int(big.size())) == NATS_OK);
    for (int i = 0; i < 20; ++i) {
      natsMsg* m = nullptr;
      REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
      msg_ptr mp(m);
      REQUIRE(natsMsg_GetDataLength(m) == int(big.size()));
      CHECK(std::string(natsMsg_GetData(m), big.size()) == big);
    }
  }
  SECTION("a client without TLS settings cannot connect") {
    // libnats 3.4 tries TLS by itself when INFO requires it; without the CA it cannot
    // trust the server and gives up (NATS_SSL_ERROR), as against nats-server.
    auto [st, nc] = tls_connect(s, pki, false);
    CHECK(st != NATS_OK);
  }
  SECTION("plain protocol bytes after INFO fail the handshake with one log line; others are unaffected") {
    auto [st, nc] = tls_connect(s, pki);
    REQUIRE(st == NATS_OK);
    raw_client c(s.port());
    read_info(c);
    c.send("CONNECT {}\r\nPING\r\n");
    CHECK(c.closed_by_server());
    std::this_thread::sleep_for(100ms);
    CHECK(s.log().find("TLS handshake error") != std::string::npos);
    round_trip(nc.get(), "still.fine");
  }
  SECTION("the raw TLS client sees the server certificate and speaks the protocol") {
    tls_client c(s.port(), pki.ca_cert);
    REQUIRE(c.ok());
    CHECK(c.server_subject == "/CN=localhost");
    c.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
    CHECK(c.read_until("PONG\r\n") == "PONG\r\n");
  }
}

TEST_CASE("TLS: a client that stalls in the handshake is dropped at the timeout", "[security][tls]") {
  test_pki pki;
  server_process s({}, tls_block(pki, "  timeout: 0.5\n"));
  raw_client stalled(s.port());
  read_info(stalled);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(stalled.closed_by_server(std::chrono::seconds(4)));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(s.log().find("TLS handshake error") != std::string::npos);
  auto [st, nc] = tls_connect(s, pki);
  CHECK(st == NATS_OK);
}

TEST_CASE("TLS: verify requires a client certificate from the CA", "[security][tls]") {
  test_pki pki;
  auto [cert, key] = pki.client("alice", "/CN=alice/O=Acme", "alice@example.com");
  server_process s({}, tls_block(pki, "  verify: true\n"));
  {
    raw_client c(s.port());
    CHECK(read_info(c)["tls_verify"] == true);
  }
  auto [st1, nc1] = tls_connect(s, pki, true, cert, key);
  CHECK(st1 == NATS_OK);
  auto [st2, nc2] = tls_connect(s, pki);  // no certificate
  CHECK(st2 != NATS_OK);
  // A certificate from another authority is refused too.
  test_pki other;
  auto [ocert, okey] = other.client("mallory", "/CN=mallory", "");
  auto [st3, nc3] = tls_connect(s, pki, true, ocert, okey);
  CHECK(st3 != NATS_OK);
}

TEST_CASE("TLS: verify_and_map logs the certificate's owner in as that user", "[security][tls]") {
  test_pki pki;
  auto [acert, akey] = pki.client("alice", "/CN=alice/O=Acme", "alice@example.com");
  auto [bcert, bkey] = pki.client("bob", "/CN=bob/O=Acme", "");
  auto [ccert, ckey] = pki.client("carol", "/CN=carol/O=Acme", "");
  server_process s({}, tls_block(pki, "  verify_and_map: true\n") +
                           "authorization { users = [\n"
                           "  { user: \"alice@example.com\", permissions: { publish: \"alice.>\", subscribe: \"alice.>\" } }\n"
                           "  { user: \"O=Acme,CN=bob\" }\n"
                           "] }\n");
  auto [sa, na] = tls_connect(s, pki, true, acert, akey);  // by e-mail
  REQUIRE(sa == NATS_OK);
  round_trip(na.get(), "alice.inbox");
  REQUIRE(natsConnection_PublishString(na.get(), "bob.inbox", "x") == NATS_OK);
  natsConnection_Flush(na.get());
  std::this_thread::sleep_for(100ms);
  const char* err = nullptr;
  natsConnection_GetLastError(na.get(), &err);
  REQUIRE(err != nullptr);
  CHECK(std::string(err).find("Permissions Violation for Publish to \"bob.inbox\"") != std::string::npos);
  auto [sb, nb] = tls_connect(s, pki, true, bcert, bkey);  // by subject
  CHECK(sb == NATS_OK);
  auto [sc, nc] = tls_connect(s, pki, true, ccert, ckey);  // a valid certificate, but no such user
  CHECK(sc == NATS_CONNECTION_AUTH_FAILED);
}

TEST_CASE("TLS: a reload brings new certificates to new connections", "[security][tls][reload]") {
  test_pki pki;
  auto conf = write_temp_file("tls.conf", tls_block(pki));
  server_process s({"-c", conf});
  auto [st, kept] = tls_connect(s, pki);
  REQUIRE(st == NATS_OK);
  {
    tls_client c(s.port(), pki.ca_cert);
    REQUIRE(c.ok());
    CHECK(c.server_subject == "/CN=localhost");
  }
  pki.reissue_server("renewed");
  reload_config(s, conf, tls_block(pki), 1);
  tls_client c(s.port(), pki.ca_cert);
  REQUIRE(c.ok());
  CHECK(c.server_subject == "/CN=renewed");
  round_trip(kept.get(), "after.reload");  // the open connection carries on
}

TEST_CASE("TLS: bad certificate settings stop the server with the file named", "[security][tls]") {
  test_pki pki;
  auto missing = write_temp_file("tls-missing.conf", "tls { cert_file: /nonexistent/cert.pem, key_file: \"" +
                                                         pki.server_key + "\" }\n");
  auto r = run_command({DIALTONE_SERVER_BIN, "-c", missing, "-p", "-1"}, 5s);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("/nonexistent/cert.pem") != std::string::npos);
  // A key that belongs to another certificate.
  auto [ccert, ckey] = pki.client("x", "/CN=x", "");
  auto mismatch = write_temp_file("tls-mismatch.conf", "tls { cert_file: \"" + pki.server_cert + "\", key_file: \"" +
                                                           ckey + "\" }\n");
  r = run_command({DIALTONE_SERVER_BIN, "-c", mismatch, "-p", "-1"}, 5s);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("does not match") != std::string::npos);
}
