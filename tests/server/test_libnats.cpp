// The official C client (libnats) against the real dialtone-server: the behaviour an
// unmodified NATS application relies on.
#include <nats/nats.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "nats_handles.hpp"
#include "server_process.hpp"

using namespace testing_support;

namespace {

conn_ptr connect(const server_process& s, bool verbose = false, bool pedantic = false) {
  natsOptions* o = nullptr;
  REQUIRE(natsOptions_Create(&o) == NATS_OK);
  natsOptions_SetURL(o, s.url().c_str());
  natsOptions_SetVerbose(o, verbose);
  natsOptions_SetPedantic(o, pedantic);
  natsOptions_SetAllowReconnect(o, false);
  natsConnection* nc = nullptr;
  auto st = natsConnection_Connect(&nc, o);
  natsOptions_Destroy(o);
  REQUIRE(st == NATS_OK);
  return conn_ptr(nc);
}

sub_ptr sub_sync(natsConnection* nc, const char* subject, const char* queue = nullptr) {
  natsSubscription* s = nullptr;
  auto st = queue ? natsConnection_QueueSubscribeSync(&s, nc, subject, queue)
                  : natsConnection_SubscribeSync(&s, nc, subject);
  REQUIRE(st == NATS_OK);
  return sub_ptr(s);
}

msg_ptr next(natsSubscription* s, int64_t timeout_ms = 2000) {
  natsMsg* m = nullptr;
  if (natsSubscription_NextMsg(&m, s, timeout_ms) != NATS_OK) return nullptr;
  return msg_ptr(m);
}

std::string data(natsMsg* m) { return std::string(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m))); }

}  // namespace

TEST_CASE("libnats: publish and subscribe", "[libnats]") {
  server_process s;
  auto nc = connect(s);
  auto sub = sub_sync(nc.get(), "greet.joe");
  REQUIRE(natsConnection_Flush(nc.get()) == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc.get(), "greet.joe", "hello") == NATS_OK);
  auto m = next(sub.get());
  REQUIRE(m);
  CHECK(std::string(natsMsg_GetSubject(m.get())) == "greet.joe");
  CHECK(data(m.get()) == "hello");
}

TEST_CASE("libnats: request/reply with the I/O loops' busy polling off and long", "[libnats]") {
  if (std::getenv("DIALTONE_TEST_SERVER_BIN")) return;  // busy_poll is dialtone's own
  for (const char* conf : {"busy_poll: \"0s\"\n", "busy_poll: \"5ms\"\n"}) {
    INFO(conf);
    server_process s({}, conf);
    auto responder = connect(s);
    auto requester = connect(s);
    auto sub = sub_sync(responder.get(), "svc");
    REQUIRE(natsConnection_Flush(responder.get()) == NATS_OK);
    std::thread serve([&] {
      for (int i = 0; i < 200; ++i) {
        auto m = next(sub.get());
        if (!m) return;
        natsConnection_Publish(responder.get(), natsMsg_GetReply(m.get()), natsMsg_GetData(m.get()),
                               natsMsg_GetDataLength(m.get()));
      }
    });
    int answered = 0;
    for (int i = 0; i < 200; ++i) {
      natsMsg* reply = nullptr;
      std::string body = "q" + std::to_string(i);
      if (natsConnection_RequestString(&reply, requester.get(), "svc", body.c_str(), 2000) != NATS_OK) break;
      msg_ptr r(reply);
      if (data(r.get()) == body) ++answered;
    }
    serve.join();
    CHECK(answered == 200);
  }
}

TEST_CASE("libnats: wildcards", "[libnats]") {
  server_process s;
  auto nc = connect(s);
  auto star = sub_sync(nc.get(), "orders.*.created");
  auto tail = sub_sync(nc.get(), "orders.>");
  natsConnection_Flush(nc.get());
  natsConnection_PublishString(nc.get(), "orders.eu.created", "1");
  natsConnection_PublishString(nc.get(), "orders.eu.shipped.late", "2");
  natsConnection_Flush(nc.get());
  auto a = next(star.get());
  REQUIRE(a);
  CHECK(data(a.get()) == "1");
  CHECK_FALSE(next(star.get(), 200));
  auto b1 = next(tail.get()), b2 = next(tail.get());
  REQUIRE(b1);
  REQUIRE(b2);
  CHECK(data(b1.get()) == "1");
  CHECK(data(b2.get()) == "2");
}

TEST_CASE("libnats: queue group spreads messages over members", "[libnats]") {
  server_process s;
  auto nc = connect(s);
  std::vector<conn_ptr> workers;
  std::vector<sub_ptr> subs;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(connect(s));
    subs.push_back(sub_sync(workers.back().get(), "jobs", "workers"));
    natsConnection_Flush(workers.back().get());
  }
  const int n = 300;
  for (int i = 0; i < n; ++i) natsConnection_PublishString(nc.get(), "jobs", "x");
  natsConnection_Flush(nc.get());
  int total = 0;
  for (auto& sub : subs) {
    int got = 0;
    while (auto m = next(sub.get(), 300)) ++got;
    CHECK(got > 0);  // a random member each time: all three get some of 300
    total += got;
  }
  CHECK(total == n);
}

TEST_CASE("libnats: request and reply", "[libnats]") {
  server_process s;
  auto responder = connect(s);
  natsSubscription* raw = nullptr;
  REQUIRE(natsConnection_Subscribe(
              &raw, responder.get(), "math.double",
              [](natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
                int v = std::stoi(data(m));
                natsConnection_PublishString(nc, natsMsg_GetReply(m), std::to_string(v * 2).c_str());
                natsMsg_Destroy(m);
              },
              nullptr) == NATS_OK);
  sub_ptr sub(raw);
  natsConnection_Flush(responder.get());
  auto nc = connect(s);
  for (int i = 1; i <= 20; ++i) {
    natsMsg* reply = nullptr;
    REQUIRE(natsConnection_RequestString(&reply, nc.get(), "math.double", std::to_string(i).c_str(), 2000) == NATS_OK);
    msg_ptr r(reply);
    CHECK(data(r.get()) == std::to_string(i * 2));
  }
}

TEST_CASE("libnats: no responders", "[libnats]") {
  server_process s;
  auto nc = connect(s);
  natsMsg* reply = nullptr;
  CHECK(natsConnection_RequestString(&reply, nc.get(), "nobody.listens", "hi", 2000) == NATS_NO_RESPONDERS);
  CHECK(reply == nullptr);
}

TEST_CASE("libnats: headers round-trip", "[libnats]") {
  server_process s;
  auto nc = connect(s);
  auto sub = sub_sync(nc.get(), "hdr");
  natsConnection_Flush(nc.get());
  natsMsg* m = nullptr;
  REQUIRE(natsMsg_Create(&m, "hdr", nullptr, "body", 4) == NATS_OK);
  natsMsgHeader_Set(m, "Trace-Id", "abc123");
  natsMsgHeader_Add(m, "Multi", "one");
  natsMsgHeader_Add(m, "Multi", "two");
  REQUIRE(natsConnection_PublishMsg(nc.get(), m) == NATS_OK);
  natsMsg_Destroy(m);
  auto got = next(sub.get());
  REQUIRE(got);
  CHECK(data(got.get()) == "body");
  const char* v = nullptr;
  REQUIRE(natsMsgHeader_Get(got.get(), "Trace-Id", &v) == NATS_OK);
  CHECK(std::string(v) == "abc123");
  const char** values = nullptr;
  int count = 0;
  REQUIRE(natsMsgHeader_Values(got.get(), "Multi", &values, &count) == NATS_OK);
  CHECK(count == 2);
  free(values);
}

TEST_CASE("libnats: auto-unsubscribe", "[libnats]") {
  server_process s;
  auto nc = connect(s);
  auto sub = sub_sync(nc.get(), "limited");
  REQUIRE(natsSubscription_AutoUnsubscribe(sub.get(), 3) == NATS_OK);
  natsConnection_Flush(nc.get());
  for (int i = 0; i < 10; ++i) natsConnection_PublishString(nc.get(), "limited", std::to_string(i).c_str());
  natsConnection_Flush(nc.get());
  int got = 0;
  while (auto m = next(sub.get(), 300)) ++got;
  CHECK(got == 3);
}

TEST_CASE("libnats: verbose and pedantic connections work", "[libnats]") {
  server_process s;
  auto nc = connect(s, true, true);
  auto sub = sub_sync(nc.get(), "v.p");
  REQUIRE(natsConnection_Flush(nc.get()) == NATS_OK);
  REQUIRE(natsConnection_PublishString(nc.get(), "v.p", "ok") == NATS_OK);
  auto m = next(sub.get());
  REQUIRE(m);
  CHECK(data(m.get()) == "ok");
  CHECK(natsConnection_Status(nc.get()) == NATS_CONN_STATUS_CONNECTED);
}

TEST_CASE("libnats: max payload is advertised and enforced", "[libnats][bad-input]") {
  server_process s({}, "max_payload: 512\n");
  auto nc = connect(s);
  CHECK(natsConnection_GetMaxPayload(nc.get()) == 512);
  std::string big(513, 'x');
  // libnats refuses locally once it knows the limit from INFO.
  CHECK(natsConnection_Publish(nc.get(), "foo", big.data(), int(big.size())) == NATS_MAX_PAYLOAD);
  std::string fits(512, 'y');
  CHECK(natsConnection_Publish(nc.get(), "foo", fits.data(), int(fits.size())) == NATS_OK);
  CHECK(natsConnection_Flush(nc.get()) == NATS_OK);
}

TEST_CASE("libnats: accounts, a bound service import and a wrong password", "[libnats][accounts]") {
  server_process s({}, R"(
accounts {
  SVC { users = [ {user: svc, password: s} ], exports = [ {service: "svc.usage.*", account_token_position: 3} ] }
  A { users = [ {user: a, password: a} ], imports = [ {service: {account: SVC, subject: "svc.usage.A"}, to: "usage"} ] }
  B { users = [ {user: b, password: b} ] }
}
)");
  auto as = [&](const char* user, const char* pass, natsStatus* status = nullptr) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, s.url().c_str());
    natsOptions_SetUserInfo(o, user, pass);
    natsOptions_SetAllowReconnect(o, false);
    natsConnection* nc = nullptr;
    auto st = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (status) *status = st;
    return conn_ptr(nc);
  };
  auto svc = as("svc", "s");
  REQUIRE(svc);
  natsSubscription* raw = nullptr;
  REQUIRE(natsConnection_Subscribe(
              &raw, svc.get(), "svc.usage.*",
              [](natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
                natsConnection_PublishString(nc, natsMsg_GetReply(m), natsMsg_GetSubject(m));
                natsMsg_Destroy(m);
              },
              nullptr) == NATS_OK);
  sub_ptr sub(raw);
  natsConnection_Flush(svc.get());
  auto a = as("a", "a");
  REQUIRE(a);
  natsMsg* reply = nullptr;
  REQUIRE(natsConnection_RequestString(&reply, a.get(), "usage", "?", 2000) == NATS_OK);
  msg_ptr r(reply);
  CHECK(data(r.get()) == "svc.usage.A");  // the responder saw who asked
  // B imports nothing: isolated.
  auto b = as("b", "b");
  REQUIRE(b);
  CHECK(natsConnection_RequestString(&reply, b.get(), "usage", "?", 2000) == NATS_NO_RESPONDERS);
  natsStatus st = NATS_OK;
  auto bad = as("a", "wrong", &st);
  CHECK_FALSE(bad);
  CHECK(st == NATS_CONNECTION_AUTH_FAILED);
}
