// The protocol session fed bytes directly: no socket, no loop thread.
#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace testing_support;

TEST_CASE("session: PING is answered, SUB and PUB deliver to the session itself", "[session]") {
  core_fixture f;
  auto s = f.connect();
  s.feed("PING\r\n");
  CHECK(s.take() == "PONG\r\n");
  s.feed("SUB foo 1\r\nPUB foo 5\r\nhello\r\nPUB bar 2\r\nno\r\n");
  CHECK(s.take() == "MSG foo 1 5\r\nhello\r\n");
  CHECK(s.conn->msgs_in.load() == 2);
  CHECK(s.conn->msgs_out.load() == 1);
}

TEST_CASE("session: a message crosses from one session to another, with headers only where asked", "[session]") {
  core_fixture f;
  auto a = f.connect();
  auto plain = f.connect("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  auto with = f.connect();
  plain.feed("SUB q.* 7\r\n");
  with.feed("SUB q.> 8\r\n");
  a.feed("HPUB q.x r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
  CHECK(plain.take() == "MSG q.x 7 r 2\r\nhi\r\n");
  CHECK(with.take() == "HMSG q.x 8 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
}

TEST_CASE("session: verbose +OK, invalid subjects and headers the client did not ask for", "[session]") {
  core_fixture f;
  auto s = f.connect("CONNECT {\"verbose\":true,\"pedantic\":true}\r\n");
  CHECK(s.take() == "+OK\r\n");
  s.feed("SUB a..b 1\r\n");
  CHECK(s.take() == "-ERR 'Invalid Subject'\r\n");
  s.feed("HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  CHECK(s.take() == "-ERR 'message headers not supported'\r\n");
  CHECK(s.conn->is_closed());
  CHECK(s.transport->closed);
}

TEST_CASE("session: users, permissions and auto-unsubscribe", "[session]") {
  core_fixture f(R"(
    authorization {
      users = [
        { user: a, password: pa, permissions: { publish: { deny: ["secret.>"] } } }
      ]
    }
  )");
  auto bad = f.connect("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"wrong\"}\r\n");
  CHECK(bad.take() == "-ERR 'Authorization Violation'\r\n");
  CHECK(bad.conn->is_closed());

  auto s = f.connect("CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"a\",\"pass\":\"pa\"}\r\n");
  CHECK(s.conn->logged_in());
  s.feed("SUB secret.x 1\r\nPUB secret.x 1\r\nx\r\n");
  CHECK(s.take() == "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n");
  s.feed("SUB n 2\r\nUNSUB 2 2\r\nPUB n 1\r\na\r\nPUB n 1\r\nb\r\nPUB n 1\r\nc\r\n");
  CHECK(s.take() == "MSG n 2 1\r\na\r\nMSG n 2 1\r\nb\r\n");
  CHECK(s.conn->subscription_count() == 1);  // secret.x only: sid 2 reached its limit
}

TEST_CASE("session: a client's -ERR closes it without an answer", "[session]") {
  core_fixture f;
  auto s = f.connect();
  s.feed("-ERR 'boom'\r\n");
  CHECK(s.take().empty());
  CHECK(s.conn->is_closed());
}

TEST_CASE("outbound: a full socket keeps the bytes, and writability writes them in order", "[session]") {
  core_fixture f;
  auto rx = f.connect();
  auto tx = f.connect();
  rx.feed("SUB big 1\r\n");
  rx.transport->budget = 10;  // the socket takes 10 bytes, then is full
  std::string payload(1000, 'x');
  for (int i = 0; i < 3; ++i) tx.feed("PUB big 1000\r\n" + payload + "\r\n");
  CHECK(rx.transport->written.size() == 10);
  CHECK(rx.conn->pending_bytes() == 3 * (payload.size() + 18) - 10);
  // The socket drains: the session writes the rest when told it is writable.
  rx.transport->budget = -1;
  f.poll();  // the write wait was armed on the owning loop
  REQUIRE(rx.transport->writable_waiter);
  auto waiter = std::move(rx.transport->writable_waiter);  // the wait fires once
  waiter->on_writable({});
  std::string expected;
  for (int i = 0; i < 3; ++i) expected += "MSG big 1 1000\r\n" + payload + "\r\n";
  CHECK(rx.take() == expected);
  CHECK(rx.conn->pending_bytes() == 0);
}

TEST_CASE("outbound: a transport that only its own loop may write is flushed by that loop", "[session]") {
  core_fixture f;
  auto rx = f.connect();
  rx.transport->any_thread = false;  // as TLS: SSL_write only from the owning loop
  auto tx = f.connect();
  rx.feed("SUB t 1\r\n");
  // A publisher on another thread (another loop): it appends, but may not write.
  std::thread other([&] { tx.feed("PUB t 2\r\nok\r\n"); });
  other.join();
  CHECK(rx.transport->written.empty());
  CHECK(rx.conn->pending_bytes() > 0);
  f.poll();
  CHECK(rx.take() == "MSG t 1 2\r\nok\r\n");
}
