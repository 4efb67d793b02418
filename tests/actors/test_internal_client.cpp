// Internal clients: bounded inbox, woken once per read batch, publishing from the
// owner's thread with headers, flushed by the receivers' own loops.
#include <catch2/catch.hpp>

#include "actors/internal_client.hpp"
#include "fixture.hpp"

using namespace testing_support;
using actors::inbound_msg;
using actors::internal_client;

namespace {

struct service {
  std::shared_ptr<internal_client> client;
  int wakes = 0;
  std::vector<std::string> got;
  service(core_fixture& f, actors::inbox_limits limits = {}) {
    client = std::make_shared<internal_client>(actors::receiver::kind::service, f.core->global_account(), "test", limits);
    client->set_waker([this] { ++wakes; });
  }
  ~service() { client->close(); }
};

std::string pubs(const std::string& subject, int n, const std::string& reply = "") {
  std::string out;
  for (int i = 0; i < n; ++i) {
    auto body = std::to_string(i);
    out += "PUB " + subject + (reply.empty() ? "" : " " + reply) + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
  }
  return out;
}

}  // namespace

TEST_CASE("internal client: one wake per read batch, handlers run in order on drain", "[internal]") {
  core_fixture f;
  service svc(f);
  svc.client->subscribe("work.>", [&](internal_client&, const inbound_msg& m) { svc.got.push_back(std::string(m.payload())); });
  auto s = f.connect();
  s.feed(pubs("work.a", 100));
  CHECK(svc.wakes == 1);
  CHECK(svc.client->inbox_size() == 100);
  s.feed(pubs("work.b", 5));
  CHECK(svc.wakes == 1);  // not drained yet: no second wake
  CHECK(svc.client->drain() == 105);
  REQUIRE(svc.got.size() == 105);
  CHECK(svc.got[0] == "0");
  CHECK(svc.got[99] == "99");
  CHECK(svc.got[104] == "4");
  s.feed(pubs("work.c", 1));
  CHECK(svc.wakes == 2);
  CHECK(svc.client->msgs_in.load() == 106);
}

TEST_CASE("internal client: a full inbox drops and counts, and the publisher is not harmed", "[internal]") {
  core_fixture f;
  service svc(f, {10, 1 << 20});
  svc.client->subscribe("work", [&](internal_client&, const inbound_msg& m) { svc.got.push_back(std::string(m.payload())); });
  auto s = f.connect();
  s.feed(pubs("work", 25) + "PING\r\n");
  CHECK(s.take() == "PONG\r\n");
  CHECK(svc.client->inbox_size() == 10);
  CHECK(svc.client->dropped_msgs.load() == 15);
  CHECK(svc.client->drain() == 10);
  CHECK(svc.got.back() == "9");
  // Room again after the drain.
  s.feed(pubs("work", 3));
  CHECK(svc.client->inbox_size() == 3);
}

TEST_CASE("internal client: a service answers requests, with headers, through the receivers' loop", "[internal]") {
  core_fixture f;
  service svc(f);
  svc.client->subscribe("svc.echo", [](internal_client& c, const inbound_msg& m) {
    c.publish(m.reply, {}, "NATS/1.0\r\nX-Echo: yes\r\n\r\n", m.payload());
  });
  auto with = f.connect();
  auto plain = f.connect("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  plain.transport->any_thread = false;  // as TLS: only its loop may write it
  with.feed("SUB _INBOX.a 1\r\n");
  plain.feed("SUB _INBOX.b 2\r\n");
  with.feed("PUB svc.echo _INBOX.a 3\r\nabc\r\n");
  plain.feed("PUB svc.echo _INBOX.b 2\r\nxy\r\n");
  CHECK(svc.client->drain() == 2);
  // Published from the owner's thread: a client any thread may write is written at
  // once (no wake-up of its loop); the other one's flush is posted to its loop.
  CHECK(with.take() == "HMSG _INBOX.a 1 25 28\r\nNATS/1.0\r\nX-Echo: yes\r\n\r\nabc\r\n");
  CHECK(plain.transport->written.empty());
  f.poll();
  CHECK(plain.take() == "MSG _INBOX.b 2 2\r\nxy\r\n");
  CHECK(svc.client->msgs_out.load() == 2);
}

TEST_CASE("internal client: posted jobs run in inbox order; close stops deliveries", "[internal]") {
  core_fixture f;
  service svc(f);
  svc.client->subscribe("t", [&](internal_client&, const inbound_msg& m) { svc.got.push_back(std::string(m.payload())); });
  auto s = f.connect();
  s.feed(pubs("t", 1));
  svc.client->post(nullptr, [&](internal_client&) { svc.got.push_back("job"); });
  s.feed(pubs("t", 1));
  svc.client->drain();
  CHECK(svc.got == std::vector<std::string>{"0", "job", "0"});
  svc.client->close();
  CHECK(svc.client->subscription_count() == 0);
  s.feed(pubs("t", 3));
  CHECK(svc.client->inbox_size() == 0);
}
