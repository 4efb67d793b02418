// Internal clients: bounded inbox, woken once per read batch, publishing from the
// owner's thread with headers, flushed by the receivers' own loops.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

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

TEST_CASE("internal client: an inline drain answers within the read batch that asked, without a wake", "[internal]") {
  core_fixture f;
  service svc(f);
  svc.client->set_inline_drain(true);
  svc.client->subscribe("svc.echo", [](internal_client& c, const inbound_msg& m) { c.publish(m.reply, {}, {}, m.payload()); });
  auto s = f.connect();
  s.feed("SUB _INBOX.a 1\r\n");
  s.feed("PUB svc.echo _INBOX.a 3\r\nabc\r\n");
  // Drained by the loop that read the request, and the answer flushed in the same
  // flush_pending(): written before feed() returns, nothing posted, no owner woken.
  CHECK(s.take() == "MSG _INBOX.a 1 3\r\nabc\r\n");
  CHECK(svc.wakes == 0);
  CHECK(svc.client->inbox_size() == 0);
  // Turned off (a stream with consumers): the owner is woken as before.
  svc.client->set_inline_drain(false);
  s.feed("PUB svc.echo _INBOX.a 2\r\nde\r\n");
  CHECK(svc.wakes == 1);
  CHECK(s.take().empty());
  CHECK(svc.client->drain() == 1);
  CHECK(s.take() == "MSG _INBOX.a 1 2\r\nde\r\n");
}

TEST_CASE("internal client: large batches and jobs go to the owner, never inline", "[internal]") {
  core_fixture f;
  service svc(f);
  svc.client->set_inline_drain(true);
  svc.client->subscribe("work", [&](internal_client&, const inbound_msg& m) { svc.got.push_back(std::string(m.payload())); });
  auto s = f.connect();
  s.feed(pubs("work", int(internal_client::inline_max_msgs) + 1));
  CHECK(svc.wakes == 1);
  CHECK(svc.got.empty());
  CHECK(svc.client->drain() == internal_client::inline_max_msgs + 1);
  // One message over the byte bound.
  std::string big(internal_client::inline_max_bytes + 1, 'x');
  s.feed("PUB work " + std::to_string(big.size()) + "\r\n" + big + "\r\n");
  CHECK(svc.wakes == 2);
  CHECK(svc.client->drain() == 1);
  // A job (an API request) in the inbox: the owner runs it, and the publishes behind it.
  svc.got.clear();
  svc.client->post(nullptr, [&](internal_client&) { svc.got.push_back("job"); });
  CHECK(svc.wakes == 3);
  s.feed(pubs("work", 1));
  CHECK(svc.wakes == 3);  // the wake is outstanding: the owner drains both
  CHECK(svc.got.empty());
  CHECK(svc.client->drain() == 2);
  CHECK(svc.got == std::vector<std::string>{"job", "0"});
  // Small again: inline.
  s.feed(pubs("work", 3));
  CHECK(svc.wakes == 3);
  CHECK(svc.got.size() == 5);
}

TEST_CASE("internal client: while the owner drains, the loop wakes it instead of draining beside it", "[internal]") {
  core_fixture f;
  service svc(f);
  std::promise<void> entered, release;
  auto release_f = release.get_future().share();
  std::atomic<int> ran{0};
  svc.client->subscribe("work", [&](internal_client&, const inbound_msg& m) {
    if (m.payload() == "0" && ran.load() == 0) {
      entered.set_value();
      release_f.wait();
    }
    ran.fetch_add(1);
  });
  auto s = f.connect();
  s.feed(pubs("work", 1));  // inline off: queued, owner woken
  CHECK(svc.wakes == 1);
  svc.client->set_inline_drain(true);
  std::thread owner([&] { svc.client->drain(); });
  entered.get_future().wait();
  s.feed(pubs("work", 1));  // the drain is held by the owner: wake it again
  CHECK(svc.wakes == 2);
  CHECK(ran.load() == 0);
  release.set_value();
  owner.join();
  CHECK(ran.load() == 1);
  CHECK(svc.client->drain() == 1);
  CHECK(ran.load() == 2);
}

TEST_CASE("internal client: a handler publishing to another inline client does not nest drains", "[internal]") {
  core_fixture f;
  service first(f), second(f);
  first.client->set_inline_drain(true);
  second.client->set_inline_drain(true);
  int depth = 0, max_depth = 0;
  first.client->subscribe("a", [&](internal_client& c, const inbound_msg& m) {
    max_depth = std::max(max_depth, ++depth);
    c.publish("b", m.reply, {}, m.payload());
    --depth;
  });
  second.client->subscribe("b", [&](internal_client& c, const inbound_msg& m) {
    max_depth = std::max(max_depth, ++depth);
    c.publish(m.reply, {}, {}, "from b");
    --depth;
  });
  auto s = f.connect();
  s.feed("SUB r 1\r\nPUB a r 1\r\nx\r\n");
  // Both drained by the loop, one after the other (the second in the next round of the
  // same flush_pending()), and the answer written.
  CHECK(s.take() == "MSG r 1 6\r\nfrom b\r\n");
  CHECK(max_depth == 1);
  CHECK(first.wakes == 0);
  CHECK(second.wakes == 0);
}

TEST_CASE("internal client: a deliver filter drops refused subjects before the inbox", "[internal]") {
  core_fixture f;
  service svc(f);
  svc.client->set_deliver_filter([](std::string_view s) { return s.rfind("api.skip.", 0) != 0; });
  svc.client->subscribe("api.>", [&](internal_client&, const inbound_msg& m) { svc.got.push_back(m.subject); });
  auto s = f.connect();
  s.feed("PUB api.skip.x 1\r\na\r\nPUB api.take 1\r\nb\r\n");
  CHECK(svc.wakes == 1);
  CHECK(svc.client->inbox_size() == 1);
  CHECK(svc.client->drain() == 1);
  CHECK(svc.got == std::vector<std::string>{"api.take"});
  // Refused but matched: the requester is not told "no responders" (it times out),
  // unlike a request nothing matches.
  auto r = f.connect("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n");
  r.feed("SUB _INBOX.r 9\r\nPUB api.skip.y _INBOX.r 0\r\n\r\n");
  CHECK(r.take().empty());
  CHECK(svc.wakes == 1);
  r.feed("PUB nothing.here _INBOX.r 0\r\n\r\n");
  CHECK(r.take().rfind("HMSG _INBOX.r 9", 0) == 0);
}

TEST_CASE("internal client: slots kept after a burst of large messages are given back when idle", "[internal]") {
  core_fixture f;
  service svc(f);
  size_t bytes = 0;
  svc.client->subscribe("bulk", [&](internal_client&, const inbound_msg& m) { bytes += m.payload().size(); });
  auto s = f.connect();
  const std::string body(1024, 'x');
  std::string burst;
  for (int i = 0; i < 3000; ++i)
    burst += "PUB bulk _INBOX.reply.subject.of.some.length." + std::to_string(i) + " 1024\r\n" + body + "\r\n";
  // Two bursts, so both slot vectors (the inbox and the one drained) have held one.
  for (int round = 0; round < 2; ++round) {
    s.feed(burst + "PING\r\n");
    CHECK(s.take() == "PONG\r\n");
    CHECK(svc.client->inbox_size() == 3000);
    CHECK(svc.client->drain() == 3000);
  }
  CHECK(bytes == 6000u * 1024u);
  // Kept for the next burst: each slot's copy buffers (1 KiB payload, the reply).
  size_t held = svc.client->spare_bytes_held();
  CHECK(held >= 2 * 3000 * 1024u);
  size_t released = svc.client->release_spare();
  CHECK(released == held);
  CHECK(svc.client->spare_bytes_held() == 0);
  // Messages waiting at release time stay; only the slots after them go.
  std::vector<std::string> got;
  svc.client->subscribe("small", [&](internal_client&, const inbound_msg& m) { got.push_back(std::string(m.payload())); });
  s.feed(pubs("small", 3) + "PING\r\n");
  CHECK(s.take() == "PONG\r\n");
  svc.client->release_spare();
  s.feed(pubs("small", 2) + "PING\r\n");
  CHECK(s.take() == "PONG\r\n");
  CHECK(svc.client->drain() == 5);
  CHECK(got == std::vector<std::string>{"0", "1", "2", "0", "1"});
}
